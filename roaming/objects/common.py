"""What every OCPI object module shares: the DateTime field and first_error, which turns a serializer's errors into the
message of a 2001 naming the field."""

from datetime import UTC, datetime

from rest_framework import serializers
from rest_framework.settings import api_settings


class OcpiDateTimeField(serializers.DateTimeField):
    """DateTime: RFC 3339 in UTC; a value without a zone is taken as UTC, as the spec says it must be."""

    def __init__(self, **kwargs):
        super().__init__(default_timezone=UTC, **kwargs)


def is_older(last_updated, than) -> bool:
    """Whether an object's last_updated (as sent) is before `than` (a datetime, or as sent); one that is not a date
    is not older: the field rules name it."""
    field = OcpiDateTimeField()
    try:
        moment = field.run_validation(last_updated)
        return moment < (than if isinstance(than, datetime) else field.run_validation(than))
    except serializers.ValidationError:
        return False


def first_error(errors, path: str = "") -> str:
    """The first field error of a DRF error tree, as 'roles[0].business_details.name: This field is required.'"""
    if isinstance(errors, dict):
        field, nested = next(iter(errors.items()))
        if isinstance(field, int):  # a list's errors by position
            return first_error(nested, f"{path}[{field}]")
        if field == api_settings.NON_FIELD_ERRORS_KEY:  # about the object (or list) itself
            return first_error(nested, path)
        return first_error(nested, f"{path}.{field}" if path else str(field))
    if isinstance(errors, list) and errors and isinstance(errors[0], dict | list):
        for index, nested in enumerate(errors):
            if nested:
                return first_error(nested, f"{path}[{index}]")
    return f"{path}: {errors[0] if isinstance(errors, list) and errors else errors}"
