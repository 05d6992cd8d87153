"""Every API error in SteVe's ApiErrorResponse shape, plus `fieldErrors` for validation errors.

`{"status": 400, "error": "Bad Request", "message": "...", "path": "/api/v1/...", "timestamp": "...",
"fieldErrors": {"field": ["..."]}}`. Errors roll back the request's transaction, unexpected ones included.
"""

import logging
from http import HTTPStatus

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from .errors import api_field_errors

logger = logging.getLogger(__name__)


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than the server accepts (API_MAX_BODY_BYTES)."
    default_code = "request_too_large"


def error_body(*, status_code: int, message: str, path: str, field_errors: dict | None = None) -> dict:
    body = {
        "status": status_code,
        "error": HTTPStatus(status_code).phrase,
        "message": message,
        "path": path,
        "timestamp": timezone.now().isoformat(),
    }
    if field_errors is not None:
        body["fieldErrors"] = field_errors
    return body


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """{"children": [{"name": ["..."]}]} -> {"children[0].name": ["..."]}: one flat map an integrator can show."""
    if isinstance(detail, dict):
        flat = {}
        for key, value in detail.items():
            if isinstance(key, int):  # a ListSerializer's errors, by item index
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(_flatten(value, name))
        return flat
    if isinstance(detail, list) and detail and all(isinstance(item, str) for item in detail):
        return {prefix or "nonFieldErrors": [str(item) for item in detail]}
    if isinstance(detail, list):
        flat = {}
        for index, value in enumerate(detail):
            if value:
                flat.update(_flatten(value, f"{prefix}[{index}]"))
        return flat
    return {prefix or "nonFieldErrors": [str(detail)]}


def _message(exc) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "Validation failed: " + "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in _flatten(exc.detail).items()
        )
    detail = getattr(exc, "detail", None)
    return str(detail) if detail is not None else str(exc)


def api_exception_handler(exc, context):
    request = context.get("request")
    path = request.path if request is not None else ""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) if str(exc) else None)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(api_field_errors(exc, {}))
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, SuspiciousOperation):  # what Django itself answers with 400
        exc = exceptions.ParseError(str(exc))

    response = exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled API error at %s", path, exc_info=exc)
        set_rollback()
        body = error_body(status_code=500, message="Internal server error.", path=path)
        return Response(body, status=status.HTTP_500_INTERNAL_SERVER_ERROR)

    field_errors = _flatten(exc.detail) if isinstance(exc, exceptions.ValidationError) else None
    response.data = error_body(
        status_code=response.status_code, message=_message(exc), path=path, field_errors=field_errors
    )
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        response["X-Rate-Limit-Retry-After-Seconds"] = str(int(exc.wait))
        response["Retry-After"] = str(int(exc.wait))
    return response
