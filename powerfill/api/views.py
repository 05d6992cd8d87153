from django.http import JsonResponse

from .exceptions import error_body


def unknown_api_path(request):
    body = error_body(status_code=404, message="No such API endpoint.", path=request.path)
    return JsonResponse(body, status=404)
