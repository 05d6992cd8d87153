"""The API's input fields: a value in a JSON body must already have the JSON type the OpenAPI document gives it.

DRF's own fields coerce (a FloatField takes `false` as 0, a CharField turns `0` into "0", a many-related field takes
`{}` for a list, a BooleanField takes "yes"), so the API would accept what its document forbids. These refuse it with
the field's usual "invalid" error. In a query string every value is text, so there they parse it as DRF does (a
BooleanField takes only "true" and "false", as the document's boolean reads in a URL).

Text is taken as sent: no whitespace is trimmed, so what the document's lengths allow is what is stored.
"""

import re

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.relations import MANY_RELATION_KWARGS, ManyRelatedField


def in_query_string(field: serializers.Field) -> bool:
    """Is the field reading a query string (text) rather than a JSON body (typed values)?"""
    return isinstance(getattr(field.root, "initial_data", None), QueryDict)


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _is_whole_number(data) -> bool:
    return _json_type(data) == "number" and (isinstance(data, int) or data.is_integer())


class _Text:
    """A JSON string, nothing else."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(_Text, serializers.CharField):
    pass


class StrictEmailField(_Text, serializers.EmailField):
    pass


class StrictFloatField(serializers.FloatField):
    """A JSON number (not a boolean, not a numeric string)."""

    def to_internal_value(self, data):
        if not in_query_string(self) and _json_type(data) != "number":
            self.fail("invalid")
        try:
            return super().to_internal_value(data)
        except OverflowError:  # an integer beyond any float
            self.fail("invalid")


class WholeNumberField(serializers.IntegerField):
    """A JSON number without a fraction: "5", true and 2.5 are refused (DRF's IntegerField would take "5")."""

    def to_internal_value(self, data):
        if not in_query_string(self) and not _is_whole_number(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false; in a query string "true" or "false"."""

    def to_internal_value(self, data):
        if in_query_string(self):
            data = {"true": True, "false": False}.get(data, data)
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictChoiceField(serializers.ChoiceField):
    """One of the choices, with the choice's own type: "3" is not the choice 3, nor 3 the choice "3"."""

    def to_internal_value(self, data):
        if in_query_string(self) or (data == "" and self.allow_blank):
            return super().to_internal_value(data)
        for choice in self.choices:
            if data == choice and _json_type(data) == _json_type(choice):
                return super().to_internal_value(choice)  # 3.0 is the choice 3, as in JSON
        self.fail("invalid_choice", input=data)


# The document's date-time (RFC 3339): a date, "T", a time and its offset.
RFC3339_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class StrictDateTimeField(serializers.DateTimeField):
    """An RFC 3339 date-time with its offset, in a body or a query string: a date alone or a time without an offset
    is refused rather than read as midnight or as UTC."""

    def to_internal_value(self, value):
        if not (isinstance(value, str) and RFC3339_DATE_TIME.match(value)):
            self.fail("invalid", format="YYYY-MM-DDThh:mm:ss[.ffffff] with Z or +hh:mm")
        return super().to_internal_value(value)


class StrictManyRelatedField(ManyRelatedField):
    """A JSON array of primary keys (DRF's takes any iterable, an object's keys included)."""

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


class AccountPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """The primary key of one of the caller's own objects. Another account's object is unknown, as if absent.

    A JSON integer (DRF's would take "5"); with many=True a JSON array of them."""

    def __init__(self, *, label_in_errors: str, account_lookup: str = "account", **kwargs):
        self.account_lookup = account_lookup
        super().__init__(**kwargs)
        self.error_messages["does_not_exist"] = f"Unknown {label_in_errors} {{pk_value}}."

    @classmethod
    def many_init(cls, *args, **kwargs):
        list_kwargs = {key: value for key, value in kwargs.items() if key in MANY_RELATION_KWARGS}
        return StrictManyRelatedField(child_relation=cls(*args, **kwargs), **list_kwargs)

    def get_queryset(self):
        account = self.context["request"].user.account
        return super().get_queryset().filter(**{self.account_lookup: account})

    def to_internal_value(self, data):
        if not in_query_string(self) and not (isinstance(data, int) and not isinstance(data, bool)):
            self.fail("incorrect_type", data_type=_json_type(data))
        return super().to_internal_value(data)


# SteVe's and OCPP's integers are 32-bit (transactionIds, list versions, connector ids, counts).
INT32_MAX = 2**31 - 1


class Int32Field(WholeNumberField):
    """An integer that fits 32 bits: a larger one is a 400, never sent to a charger or stored to overflow later."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_value", INT32_MAX)
        kwargs.setdefault("min_value", -INT32_MAX - 1)
        super().__init__(**kwargs)
