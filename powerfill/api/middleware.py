from .throttling import rate_limit_usage

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
        usage = getattr(request, "rate_limit_usage", None) or rate_limit_usage(request)
        if usage is not None:
            response["X-Rate-Limit-Remaining"] = str(usage.remaining)
            response.setdefault("X-Rate-Limit-Limit", str(usage.limit))
        return response
