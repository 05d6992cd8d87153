"""Service errors as API errors: a service raises Django's ValidationError in model field names; the API answers
400 with `fieldErrors` in the API's own field names."""

from contextlib import contextmanager

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ValidationError


def camel_case(name: str) -> str:
    head, *tail = name.split("_")
    return head + "".join(part.title() for part in tail)


def api_field_errors(error: DjangoValidationError, field_names: dict[str, str]) -> dict[str, list[str]]:
    if not hasattr(error, "error_dict"):
        return {"nonFieldErrors": error.messages}
    errors = {}
    for field, messages in error.message_dict.items():
        if field == NON_FIELD_ERRORS:
            key = "nonFieldErrors"
        else:
            key = field_names.get(field) or camel_case(field)
        errors.setdefault(key, []).extend(messages)
    return errors


@contextmanager
def service_errors(**field_names: str):
    """`with service_errors(parent="parentId"): site_move(...)` turns the service's errors into a 400."""
    try:
        yield
    except DjangoValidationError as error:
        raise ValidationError(api_field_errors(error, field_names)) from error
