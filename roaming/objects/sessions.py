"""Sessions module objects: Session (its CdrToken and ChargingPeriod come from the CDRs module)."""

from rest_framework import serializers

from .cdrs import AUTH_METHODS, CdrTokenSerializer, ChargingPeriodSerializer
from .common import OcpiDateTimeField, OcpiObject
from .tariffs import PriceSerializer

SESSION_STATUSES = ["ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"]


class SessionSerializer(OcpiObject):
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2)
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$", max_length=3)
    id = serializers.CharField(max_length=36)
    start_date_time = OcpiDateTimeField()
    end_date_time = OcpiDateTimeField(required=False)
    kwh = serializers.FloatField()
    cdr_token = CdrTokenSerializer()
    auth_method = serializers.ChoiceField(choices=AUTH_METHODS)
    authorization_reference = serializers.CharField(max_length=36, required=False)
    location_id = serializers.CharField(max_length=36)
    evse_uid = serializers.CharField(max_length=36)
    connector_id = serializers.CharField(max_length=36)
    meter_id = serializers.CharField(max_length=255, required=False)
    currency = serializers.RegexField(r"^[A-Z]{3}$", max_length=3)
    charging_periods = ChargingPeriodSerializer(many=True, required=False)
    total_cost = PriceSerializer(required=False)
    status = serializers.ChoiceField(choices=SESSION_STATUSES)
    last_updated = OcpiDateTimeField()
