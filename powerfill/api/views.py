from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .exceptions import error_body


@csrf_exempt  # API clients send no CSRF token; this view changes nothing
def unknown_api_path(request):
    body = error_body(status_code=404, message="No such API endpoint.", path=request.path)
    return JsonResponse(body, status=404)
