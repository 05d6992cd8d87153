"""Locations module objects: Location, EVSE, Connector, GeoLocation."""

from rest_framework import serializers

from ..choices import EvseStatus, ParkingType
from .common import OcpiDateTimeField, OcpiObject

CONNECTOR_TYPES = [
    "CHADEMO", "CHAOJI", "DOMESTIC_A", "DOMESTIC_B", "DOMESTIC_C", "DOMESTIC_D", "DOMESTIC_E", "DOMESTIC_F",
    "DOMESTIC_G", "DOMESTIC_H", "DOMESTIC_I", "DOMESTIC_J", "DOMESTIC_K", "DOMESTIC_L", "DOMESTIC_M", "DOMESTIC_N",
    "DOMESTIC_O", "GBT_AC", "GBT_DC", "IEC_60309_2_single_16", "IEC_60309_2_three_16", "IEC_60309_2_three_32",
    "IEC_60309_2_three_64", "IEC_62196_T1", "IEC_62196_T1_COMBO", "IEC_62196_T2", "IEC_62196_T2_COMBO",
    "IEC_62196_T3A", "IEC_62196_T3C", "NEMA_5_20", "NEMA_6_30", "NEMA_6_50", "NEMA_10_30", "NEMA_10_50",
    "NEMA_14_30", "NEMA_14_50", "PANTOGRAPH_BOTTOM_UP", "PANTOGRAPH_TOP_DOWN", "TESLA_R", "TESLA_S",
]  # fmt: skip
CONNECTOR_FORMATS = ["SOCKET", "CABLE"]
POWER_TYPES = ["AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"]
CAPABILITIES = [
    "CHARGING_PROFILE_CAPABLE", "CHARGING_PREFERENCES_CAPABLE", "CHIP_CARD_SUPPORT", "CONTACTLESS_CARD_SUPPORT",
    "CREDIT_CARD_PAYABLE", "DEBIT_CARD_PAYABLE", "PED_TERMINAL", "REMOTE_START_STOP_CAPABLE", "RESERVABLE",
    "RFID_READER", "START_SESSION_CONNECTOR_REQUIRED", "TOKEN_GROUP_CAPABLE", "UNLOCK_CAPABLE",
]  # fmt: skip


class GeoLocationSerializer(OcpiObject):
    latitude = serializers.RegexField(r"^-?[0-9]{1,2}\.[0-9]{5,7}$", max_length=10)
    longitude = serializers.RegexField(r"^-?[0-9]{1,3}\.[0-9]{5,7}$", max_length=11)


class ConnectorSerializer(OcpiObject):
    id = serializers.CharField(max_length=36)
    standard = serializers.ChoiceField(choices=CONNECTOR_TYPES)
    format = serializers.ChoiceField(choices=CONNECTOR_FORMATS)
    power_type = serializers.ChoiceField(choices=POWER_TYPES)
    max_voltage = serializers.IntegerField(min_value=0)
    max_amperage = serializers.IntegerField(min_value=0)
    max_electric_power = serializers.IntegerField(min_value=0, required=False)
    tariff_ids = serializers.ListField(child=serializers.CharField(max_length=36), required=False)
    terms_and_conditions = serializers.URLField(max_length=255, required=False)
    last_updated = OcpiDateTimeField()


class NestedConnectorSerializer(ConnectorSerializer):
    """A connector inside an EVSE a partner sends: the spec's own example of adding an EVSE (PUT) leaves out
    power_type, max_voltage, max_amperage and last_updated, so inside an EVSE they may be missing (the EVSE's
    last_updated stands for the connector's). A connector sent on its own must have them all."""

    power_type = serializers.ChoiceField(choices=POWER_TYPES, required=False)
    max_voltage = serializers.IntegerField(min_value=0, required=False)
    max_amperage = serializers.IntegerField(min_value=0, required=False)
    last_updated = OcpiDateTimeField(required=False)


class EvseSerializer(OcpiObject):
    uid = serializers.CharField(max_length=36)
    evse_id = serializers.CharField(max_length=48, required=False)
    status = serializers.ChoiceField(choices=EvseStatus.values)
    status_schedule = serializers.ListField(child=serializers.DictField(), required=False)
    capabilities = serializers.ListField(child=serializers.ChoiceField(choices=CAPABILITIES), required=False)
    connectors = NestedConnectorSerializer(many=True, allow_empty=False)
    floor_level = serializers.CharField(max_length=4, required=False)
    coordinates = GeoLocationSerializer(required=False)
    physical_reference = serializers.CharField(max_length=16, required=False)
    directions = serializers.ListField(child=serializers.DictField(), required=False)
    parking_restrictions = serializers.ListField(child=serializers.CharField(), required=False)
    images = serializers.ListField(child=serializers.DictField(), required=False)
    last_updated = OcpiDateTimeField()


class LocationSerializer(OcpiObject):
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2)
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$", max_length=3)
    id = serializers.CharField(max_length=36)
    publish = serializers.BooleanField()
    publish_allowed_to = serializers.ListField(child=serializers.DictField(), required=False)
    name = serializers.CharField(max_length=255, required=False)
    address = serializers.CharField(max_length=45)
    city = serializers.CharField(max_length=45)
    postal_code = serializers.CharField(max_length=10, required=False)
    state = serializers.CharField(max_length=20, required=False)
    country = serializers.RegexField(r"^[A-Z]{3}$", max_length=3)
    coordinates = GeoLocationSerializer()
    related_locations = serializers.ListField(child=serializers.DictField(), required=False)
    parking_type = serializers.ChoiceField(choices=ParkingType.values, required=False)
    evses = EvseSerializer(many=True, required=False)
    directions = serializers.ListField(child=serializers.DictField(), required=False)
    operator = serializers.DictField(required=False)
    suboperator = serializers.DictField(required=False)
    owner = serializers.DictField(required=False)
    facilities = serializers.ListField(child=serializers.CharField(), required=False)
    time_zone = serializers.CharField(max_length=255)
    opening_times = serializers.DictField(required=False)
    charging_when_closed = serializers.BooleanField(required=False)
    images = serializers.ListField(child=serializers.DictField(), required=False)
    energy_mix = serializers.DictField(required=False)
    last_updated = OcpiDateTimeField()
