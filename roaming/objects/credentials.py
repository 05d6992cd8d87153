"""Credentials module objects."""

from rest_framework import serializers

from ..choices import OcpiRole
from .common import OcpiObject


class BusinessDetailsSerializer(OcpiObject):
    name = serializers.CharField(max_length=100)
    website = serializers.URLField(max_length=255, required=False)
    logo = serializers.DictField(required=False)


class CredentialsRoleSerializer(OcpiObject):
    role = serializers.ChoiceField(choices=OcpiRole.values)
    business_details = BusinessDetailsSerializer()
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$", max_length=3)
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2)


class CredentialsSerializer(OcpiObject):
    """The credentials object (credentials module, 2.2.1)."""

    token = serializers.RegexField(r"^[\x21-\x7e]+$", max_length=64)  # printable ASCII, no spaces
    url = serializers.URLField(max_length=255)
    roles = CredentialsRoleSerializer(many=True, allow_empty=False)
