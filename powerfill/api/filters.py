"""Query filters that read their parameters as strictly as the OpenAPI document describes them."""

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django_filters.fields import BaseCSVField, IsoDateTimeField
from drf_spectacular.drainage import set_override

from .fields import INT32_MAX, RFC3339_DATE_TIME


class WholeNumberFilter(django_filters.NumberFilter):
    """A whole number within bounds (django-filter's NumberFilter takes any decimal), with its bounds in the OpenAPI
    document."""

    field_class = forms.IntegerField

    def __init__(self, *args, min_value: int, max_value: int = INT32_MAX, **kwargs):
        super().__init__(*args, min_value=min_value, max_value=max_value, **kwargs)
        schema = {"type": "integer", "minimum": min_value, "maximum": max_value}
        if self.extra.get("help_text"):
            schema["description"] = str(self.extra["help_text"])
        set_override(self, "field", schema)


class WholeNumberInFilter(django_filters.BaseInFilter, WholeNumberFilter):
    """Whole numbers, comma separated (an empty value is the empty list)."""


class RFC3339DateTimeField(IsoDateTimeField):
    def to_python(self, value):
        if value not in self.empty_values and not RFC3339_DATE_TIME.match(str(value)):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    """An RFC 3339 date-time with its offset, as the document's date-time (a date alone is refused)."""

    field_class = RFC3339DateTimeField


class StrictFilterSet(django_filters.FilterSet):
    """A parameter given empty (`?expired=`) is a 400 where the document's type has no empty value (a number, a
    choice, a date-time); django-filter would ignore it. Text and lists may be empty."""

    def is_valid(self):
        if not super().is_valid():
            return False
        for name, field in self.form.fields.items():
            if self.data.get(name) == "" and not isinstance(field, forms.CharField | BaseCSVField):
                self.form.add_error(name, "Give a value, or leave the parameter out.")
        return not self.form.errors
