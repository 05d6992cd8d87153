"""The per-account API rate limit (settings.API_RATE_LIMIT, 600/m by default), counted with django-ratelimit.

Counts live in the default cache: Redis in production, so every server process shares one count per account.
Calls that fail before authentication completes are counted per client IP instead, so every response can say
how many calls remain.
"""

from dataclasses import dataclass

from django.conf import settings
from django_ratelimit.core import get_usage
from rest_framework.throttling import BaseThrottle

GROUP = "powerfill.api"


@dataclass(frozen=True)
class RateLimitUsage:
    limit: int
    count: int
    seconds_left: int

    @property
    def remaining(self) -> int:
        return max(self.limit - self.count, 0)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit


def _client_key(group, request) -> str:
    """The caller's account once authenticated; before that (or for anonymous calls) its IP address."""
    account = getattr(getattr(request, "user", None), "account", None)
    if account is not None:
        return f"account:{account.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


def rate_limit_usage(request) -> RateLimitUsage | None:
    """Count this request and return the window's usage (None when rate limiting is disabled)."""
    usage = get_usage(request, group=GROUP, key=_client_key, rate=settings.API_RATE_LIMIT, increment=True)
    if usage is None:
        return None
    # django-ratelimit reports limit 0 / time_left -1 when the cache failed; it then limits (fail closed).
    return RateLimitUsage(limit=usage["limit"], count=usage["count"], seconds_left=max(usage["time_left"], 1))


class AccountRateThrottle(BaseThrottle):
    def allow_request(self, request, view):
        self.usage = rate_limit_usage(request)
        # On the Django request, where RateLimitHeadersMiddleware reads it.
        request._request.rate_limit_usage = self.usage
        return self.usage is None or not self.usage.exceeded

    def wait(self):
        return self.usage.seconds_left if self.usage else None
