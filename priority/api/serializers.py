from rest_framework import serializers

from ocpp_core.models.charge_boxes import PRIORITY_MAX, PRIORITY_MIN
from powerfill.api.fields import INT32_MAX, StrictCharField, StrictDateTimeField, StrictFloatField, WholeNumberField

IDENTIFIERS = ("bySerialNumber", "byEvseId", "byChargeBoxId")
# Identifiers are looked up, not stored: a longer one matches nothing (404) rather than being refused for its length.
IDENTIFIER_MAX_LENGTH = 255


def connector_id_field() -> WholeNumberField:
    return WholeNumberField(
        source="connector_id",
        min_value=1,
        max_value=INT32_MAX,
        help_text="The connector as OCPP numbers it, from 1 (0 stands for the whole station).",
    )


class BySerialNumberSerializer(serializers.Serializer):
    serialNumber = StrictCharField(
        source="serial_number",
        max_length=IDENTIFIER_MAX_LENGTH,
        help_text="The chargePointSerialNumber or chargeBoxSerialNumber of the station's last BootNotification.",
    )
    connectorId = connector_id_field()


class ByEvseIdSerializer(serializers.Serializer):
    evseId = StrictCharField(
        source="evse_id",
        max_length=IDENTIFIER_MAX_LENGTH,
        help_text="The connector's EVSE ID, e.g. DE*EDR*E12345678*1.",
    )


class ByChargeBoxIdSerializer(serializers.Serializer):
    chargeBoxId = StrictCharField(
        source="charge_box_id", max_length=IDENTIFIER_MAX_LENGTH, help_text="The station's OCPP identity."
    )
    connectorId = connector_id_field()


class ConnectorIdentifierSerializer(serializers.Serializer):
    """Exactly one way to name a connector (null counts as absent)."""

    bySerialNumber = BySerialNumberSerializer(source="by_serial_number", required=False, allow_null=True)
    byEvseId = ByEvseIdSerializer(source="by_evse_id", required=False, allow_null=True)
    byChargeBoxId = ByChargeBoxIdSerializer(source="by_charge_box_id", required=False, allow_null=True)

    def validate(self, attrs):
        given = {key: value for key, value in attrs.items() if key.startswith("by_") and value is not None}
        if len(given) != 1:
            raise serializers.ValidationError(
                f"Name the connector with exactly one of {', '.join(IDENTIFIERS)} (got {len(given)})."
            )
        return attrs

    def lookup(self) -> dict:
        """The identifier as connector_by_identifier takes it."""
        data = self.validated_data
        if data.get("by_evse_id") is not None:
            return {"by_evse_id": data["by_evse_id"]["evse_id"]}
        key = "by_serial_number" if data.get("by_serial_number") is not None else "by_charge_box_id"
        return {key: dict(data[key])}


class PrioritySetSerializer(ConnectorIdentifierSerializer):
    priority = WholeNumberField(
        min_value=PRIORITY_MIN,
        max_value=PRIORITY_MAX,
        help_text=f"{PRIORITY_MIN}..{PRIORITY_MAX} (OCPP 2.0.1's range); 0 is the default; higher wins.",
    )
    departureTime = StrictDateTimeField(
        source="departure_at",
        required=False,
        allow_null=True,
        help_text="Extension for load management: when the vehicle leaves (ISO 8601). Omitted: unchanged; "
        "null: cleared. Cleared on unplug.",
    )
    energyNeededKwh = StrictFloatField(
        source="energy_needed_kwh",
        required=False,
        allow_null=True,
        min_value=0,
        help_text="Extension for load management: the energy the vehicle still wants by its departure, kWh. "
        "Omitted: unchanged; null: cleared. Cleared on unplug.",
    )


class PriorityRecordSerializer(serializers.Serializer):
    """A connector's priority record, as GET lists it and PUT answers."""

    chargeBoxId = serializers.CharField(source="charge_box.charge_box_id", read_only=True)
    connectorId = serializers.IntegerField(source="connector_id", read_only=True)
    chargePointSerialNumber = serializers.CharField(source="charge_box.charge_point_serial_number", read_only=True)
    chargeBoxSerialNumber = serializers.CharField(source="charge_box.charge_box_serial_number", read_only=True)
    evseId = serializers.CharField(source="evse_id", read_only=True)
    priority = serializers.IntegerField(read_only=True)
    updatedAt = serializers.DateTimeField(
        source="priority_updated_at",
        read_only=True,
        allow_null=True,
        help_text="When the priority last changed (set, reset or unplugged); null if it never did.",
    )
    departureTime = serializers.DateTimeField(source="load.departure_at", read_only=True, allow_null=True)
    energyNeededKwh = serializers.SerializerMethodField()

    def get_energyNeededKwh(self, connector) -> float | None:
        load = getattr(connector, "load", None)
        if load is None or load.energy_needed_wh is None:
            return None
        return load.energy_needed_wh / 1000
