"""OCPI objects as they arrive: DRF serializers that check the spec's field rules (required fields, types, string
lengths, enums), so a bad object is refused with a message naming the field and nothing is stored."""

from rest_framework import serializers
from rest_framework.settings import api_settings

from ..choices import OcpiRole


class BusinessDetailsSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    website = serializers.URLField(max_length=255, required=False)
    logo = serializers.DictField(required=False)


class CredentialsRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=OcpiRole.values)
    business_details = BusinessDetailsSerializer()
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$", max_length=3)
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2)


class CredentialsSerializer(serializers.Serializer):
    """The credentials object (credentials module, 2.2.1)."""

    token = serializers.RegexField(r"^[\x21-\x7e]+$", max_length=64)  # printable ASCII, no spaces
    url = serializers.URLField(max_length=255)
    roles = CredentialsRoleSerializer(many=True, allow_empty=False)


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
