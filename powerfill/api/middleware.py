from .throttling import rate_limit_hit

API_PREFIX = "/api/v1/"


class RateLimitHeadersMiddleware:
    """Put `X-Rate-Limit-Remaining` on every API response.

    Authenticated calls were counted per account by AccountRateThrottle; calls that never got that far (bad
    credentials, unknown paths) are counted per client IP here, which also slows down credential guessing.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX):
            return response
        decision = getattr(request, "rate_limit_decision", None) or rate_limit_hit(request)
        if decision is not None:
            response["X-Rate-Limit-Remaining"] = str(decision.remaining)
            response.setdefault("X-Rate-Limit-Limit", str(decision.limit))
        return response
