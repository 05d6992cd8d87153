"""Commands module objects: the five commands an eMSP sends a CPO, and the two answers (CommandResponse at once,
CommandResult later at the response_url)."""

from rest_framework import serializers

from ..choices import CommandResponseType, CommandResultType
from .common import OcpiDateTimeField, OcpiObject
from .tariffs import DisplayTextSerializer
from .tokens import TokenSerializer


class StartSessionSerializer(OcpiObject):
    response_url = serializers.URLField(max_length=255)
    token = TokenSerializer()
    location_id = serializers.CharField(max_length=36)
    evse_uid = serializers.CharField(max_length=36, required=False)
    connector_id = serializers.CharField(max_length=36, required=False)
    authorization_reference = serializers.CharField(max_length=36, required=False)


class StopSessionSerializer(OcpiObject):
    response_url = serializers.URLField(max_length=255)
    session_id = serializers.CharField(max_length=36)


class ReserveNowSerializer(OcpiObject):
    response_url = serializers.URLField(max_length=255)
    token = TokenSerializer()
    expiry_date = OcpiDateTimeField()
    reservation_id = serializers.CharField(max_length=36)
    location_id = serializers.CharField(max_length=36)
    evse_uid = serializers.CharField(max_length=36, required=False)
    authorization_reference = serializers.CharField(max_length=36, required=False)


class CancelReservationSerializer(OcpiObject):
    response_url = serializers.URLField(max_length=255)
    reservation_id = serializers.CharField(max_length=36)


class UnlockConnectorSerializer(OcpiObject):
    response_url = serializers.URLField(max_length=255)
    location_id = serializers.CharField(max_length=36)
    evse_uid = serializers.CharField(max_length=36)
    connector_id = serializers.CharField(max_length=36)


COMMAND_SERIALIZERS = {
    "START_SESSION": StartSessionSerializer,
    "STOP_SESSION": StopSessionSerializer,
    "RESERVE_NOW": ReserveNowSerializer,
    "CANCEL_RESERVATION": CancelReservationSerializer,
    "UNLOCK_CONNECTOR": UnlockConnectorSerializer,
}


class CommandResponseSerializer(OcpiObject):
    result = serializers.ChoiceField(choices=CommandResponseType.values)
    timeout = serializers.IntegerField(min_value=0)
    message = DisplayTextSerializer(many=True, required=False)


class CommandResultSerializer(OcpiObject):
    result = serializers.ChoiceField(choices=CommandResultType.values)
    message = DisplayTextSerializer(many=True, required=False)
