"""The per-account API rate limit: settings.API_RATE_LIMIT (600/m by default) calls in any rolling window.

Counted in Redis when REDIS_URL is set, so every server process shares one count per account; otherwise in this
process (the quick start runs one). Calls that fail before authentication completes are counted per client IP
instead, so every response can say how many calls remain.
"""

from functools import cache

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from .rate_limit import Decision, LocalSlidingLog, RedisSlidingLog, rate_parse, retry_after_header


@cache
def rate_limiter(redis_url: str | None) -> LocalSlidingLog | RedisSlidingLog:
    """One limiter per store for the process's life (a Redis client per call would connect anew each time)."""
    return RedisSlidingLog(redis_url) if redis_url else LocalSlidingLog()


def _client_key(request) -> str:
    """The caller's account once authenticated; before that (or for anonymous calls) its IP address."""
    account = getattr(getattr(request, "user", None), "account", None)
    if account is not None:
        return f"account:{account.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


def rate_limit_hit(request) -> Decision | None:
    """Count this request; None when rate limiting is disabled (API_RATE_LIMIT empty)."""
    if not settings.API_RATE_LIMIT:
        return None
    limiter = rate_limiter(settings.REDIS_URL)
    return limiter.hit(_client_key(request), rate_parse(settings.API_RATE_LIMIT))


class AccountRateThrottle(BaseThrottle):
    def allow_request(self, request, view):
        self.decision = rate_limit_hit(request)
        # On the Django request, where RateLimitHeadersMiddleware reads it.
        request._request.rate_limit_decision = self.decision
        return self.decision is None or self.decision.allowed

    def wait(self):
        return retry_after_header(self.decision) if self.decision else None
