"""Charging profiles module objects: what an eMSP (or smart charging provider) asks of a session, and the results."""

from rest_framework import serializers

from .common import OcpiDateTimeField, OcpiObject


class ChargingProfilePeriodSerializer(OcpiObject):
    start_period = serializers.IntegerField(min_value=0)
    limit = serializers.FloatField(min_value=0)


class ChargingProfileSerializer(OcpiObject):
    start_date_time = OcpiDateTimeField(required=False)
    duration = serializers.IntegerField(min_value=0, required=False)
    charging_rate_unit = serializers.ChoiceField(choices=["W", "A"])
    min_charging_rate = serializers.FloatField(min_value=0, required=False)
    charging_profile_period = ChargingProfilePeriodSerializer(many=True, required=False)


class SetChargingProfileSerializer(OcpiObject):
    charging_profile = ChargingProfileSerializer()
    response_url = serializers.URLField(max_length=255)


class ChargingProfileResponseSerializer(OcpiObject):
    result = serializers.ChoiceField(choices=["ACCEPTED", "NOT_SUPPORTED", "REJECTED", "TOO_OFTEN", "UNKNOWN_SESSION"])
    timeout = serializers.IntegerField(min_value=0)


class ActiveChargingProfileSerializer(OcpiObject):
    start_date_time = OcpiDateTimeField()
    charging_profile = ChargingProfileSerializer()


class ChargingProfileResultSerializer(OcpiObject):
    """ChargingProfileResult, ClearProfileResult and ActiveChargingProfileResult (which adds the profile)."""

    result = serializers.ChoiceField(choices=["ACCEPTED", "REJECTED", "UNKNOWN"])
    profile = ActiveChargingProfileSerializer(required=False)
