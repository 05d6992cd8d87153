"""What every OCPI object module shares: the base of every object (OcpiObject), the DateTime field, without_nulls, and
first_error, which turns a serializer's errors into the message of a 2001 naming the field."""

from datetime import UTC, datetime

from rest_framework import serializers
from rest_framework.settings import api_settings


class OcpiObject(serializers.Serializer):
    """An OCPI object. Its optional fields (declared `required=False`: the spec's cardinalities `?` and `*`) may be
    null as well as omitted, as the spec's terminology says ("If not set, it might be null, or the field might be
    omitted"; a `*` list "might be null, [] or omitted"), and a null one is as if omitted: it is not in the validated
    data. Declared once here, so every optional field of every object, nested ones included, follows the rule;
    required fields stay refused when null."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            if not field.required:
                field.allow_null = True
        return fields

    def to_internal_value(self, data):
        valid = super().to_internal_value(data)
        return {name: value for name, value in valid.items() if value is not None}


def without_nulls(value):
    """An object as we keep it once its fields are checked: null fields left out at every depth (null and omitted
    mean the same in OCPI), so what reads it later meets an absent field, never a None where an object or a list
    belongs. List items are kept as they are: a null item is no field, and the field rules refuse it."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


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
