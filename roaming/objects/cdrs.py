"""CDRs module objects: CDR, CdrToken, CdrLocation, ChargingPeriod, CdrDimension, SignedData. The Sessions module
uses CdrToken and ChargingPeriod too."""

from rest_framework import serializers

from ..choices import TokenType
from .common import OcpiDateTimeField, OcpiObject
from .locations import CONNECTOR_FORMATS, CONNECTOR_TYPES, POWER_TYPES, GeoLocationSerializer
from .tariffs import PriceSerializer, TariffSerializer

AUTH_METHODS = ["AUTH_REQUEST", "COMMAND", "WHITELIST"]
CDR_DIMENSION_TYPES = [
    "CURRENT", "ENERGY", "ENERGY_EXPORT", "ENERGY_IMPORT", "MAX_CURRENT", "MIN_CURRENT", "MAX_POWER", "MIN_POWER",
    "PARKING_TIME", "POWER", "RESERVATION_TIME", "STATE_OF_CHARGE", "TIME",
]  # fmt: skip


class CdrDimensionSerializer(OcpiObject):
    type = serializers.ChoiceField(choices=CDR_DIMENSION_TYPES)
    volume = serializers.FloatField()  # negative when energy flowed back to the grid


class ChargingPeriodSerializer(OcpiObject):
    start_date_time = OcpiDateTimeField()
    dimensions = CdrDimensionSerializer(many=True, allow_empty=False)
    tariff_id = serializers.CharField(max_length=36, required=False)


class CdrTokenSerializer(OcpiObject):
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2)
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$", max_length=3)
    uid = serializers.CharField(max_length=36)
    type = serializers.ChoiceField(choices=TokenType.values)
    contract_id = serializers.CharField(max_length=36)


class CdrLocationSerializer(OcpiObject):
    id = serializers.CharField(max_length=36)
    name = serializers.CharField(max_length=255, required=False)
    address = serializers.CharField(max_length=45)
    city = serializers.CharField(max_length=45)
    postal_code = serializers.CharField(max_length=10, required=False)
    state = serializers.CharField(max_length=20, required=False)
    country = serializers.RegexField(r"^[A-Z]{3}$", max_length=3)
    coordinates = GeoLocationSerializer()
    evse_uid = serializers.CharField(max_length=36)
    evse_id = serializers.CharField(max_length=48)
    connector_id = serializers.CharField(max_length=36)
    connector_standard = serializers.ChoiceField(choices=CONNECTOR_TYPES)
    connector_format = serializers.ChoiceField(choices=CONNECTOR_FORMATS)
    connector_power_type = serializers.ChoiceField(choices=POWER_TYPES)


class SignedValueSerializer(OcpiObject):
    nature = serializers.CharField(max_length=32)
    plain_data = serializers.CharField(max_length=512)
    signed_data = serializers.CharField(max_length=5000)


class SignedDataSerializer(OcpiObject):
    encoding_method = serializers.CharField(max_length=36)
    encoding_method_version = serializers.IntegerField(required=False)
    public_key = serializers.CharField(max_length=512, required=False)
    signed_values = SignedValueSerializer(many=True, allow_empty=False)
    url = serializers.CharField(max_length=512, required=False)


class CdrSerializer(OcpiObject):
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2)
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$", max_length=3)
    id = serializers.CharField(max_length=39)  # 36, and 3 more for what a credit CDR appends to the original's id
    start_date_time = OcpiDateTimeField()
    end_date_time = OcpiDateTimeField()
    session_id = serializers.CharField(max_length=36, required=False)
    cdr_token = CdrTokenSerializer()
    auth_method = serializers.ChoiceField(choices=AUTH_METHODS)
    authorization_reference = serializers.CharField(max_length=36, required=False)
    cdr_location = CdrLocationSerializer()
    meter_id = serializers.CharField(max_length=255, required=False)
    currency = serializers.RegexField(r"^[A-Z]{3}$", max_length=3)
    tariffs = TariffSerializer(many=True, required=False)
    charging_periods = ChargingPeriodSerializer(many=True, allow_empty=False)
    signed_data = SignedDataSerializer(required=False)
    total_cost = PriceSerializer()
    total_fixed_cost = PriceSerializer(required=False)
    total_energy = serializers.FloatField()
    total_energy_cost = PriceSerializer(required=False)
    total_time = serializers.FloatField(min_value=0)
    total_time_cost = PriceSerializer(required=False)
    total_parking_time = serializers.FloatField(min_value=0, required=False)
    total_parking_cost = PriceSerializer(required=False)
    total_reservation_cost = PriceSerializer(required=False)
    remark = serializers.CharField(max_length=255, required=False)
    invoice_reference_id = serializers.CharField(max_length=39, required=False)
    credit = serializers.BooleanField(required=False)
    credit_reference_id = serializers.CharField(max_length=39, required=False)
    home_charging_compensation = serializers.BooleanField(required=False)
    last_updated = OcpiDateTimeField()

    def validate(self, attrs):
        if attrs.get("credit"):
            if not attrs.get("credit_reference_id"):
                raise serializers.ValidationError({"credit_reference_id": "A credit CDR must name the CDR it credits."})
        elif len(attrs["id"]) > 36:
            raise serializers.ValidationError({"id": "Only a credit CDR may have an id longer than 36 characters."})
        return attrs
