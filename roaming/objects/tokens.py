"""Tokens module objects: Token, EnergyContract, LocationReferences, AuthorizationInfo."""

from rest_framework import serializers

from ..choices import AllowedType, TokenType, WhitelistType
from .common import OcpiDateTimeField, OcpiObject
from .tariffs import DisplayTextSerializer

PROFILE_TYPES = ["CHEAP", "FAST", "GREEN", "REGULAR"]


class EnergyContractSerializer(OcpiObject):
    supplier_name = serializers.CharField(max_length=64)
    contract_id = serializers.CharField(max_length=64, required=False)


class TokenSerializer(OcpiObject):
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2)
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$", max_length=3)
    uid = serializers.CharField(max_length=36)
    type = serializers.ChoiceField(choices=TokenType.values)
    contract_id = serializers.CharField(max_length=36)
    visual_number = serializers.CharField(max_length=64, required=False)
    issuer = serializers.CharField(max_length=64)
    group_id = serializers.CharField(max_length=36, required=False)
    valid = serializers.BooleanField()
    whitelist = serializers.ChoiceField(choices=WhitelistType.values)
    language = serializers.CharField(max_length=2, required=False)
    default_profile_type = serializers.ChoiceField(choices=PROFILE_TYPES, required=False)
    energy_contract = EnergyContractSerializer(required=False)
    last_updated = OcpiDateTimeField()


class LocationReferencesSerializer(OcpiObject):
    location_id = serializers.CharField(max_length=36)
    evse_uids = serializers.ListField(child=serializers.CharField(max_length=36), required=False)


class AuthorizationInfoSerializer(OcpiObject):
    allowed = serializers.ChoiceField(choices=AllowedType.values)
    token = TokenSerializer()
    location = LocationReferencesSerializer(required=False)
    authorization_reference = serializers.CharField(max_length=36, required=False)
    info = DisplayTextSerializer(required=False)
