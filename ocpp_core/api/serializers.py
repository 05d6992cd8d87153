from django.core.validators import RegexValidator
from django.utils import timezone
from rest_framework import serializers

from ocpp_core.choices import REGISTRATION_STATUS_CHOICES, OcppProtocol, PhaseRotation
from ocpp_core.models import OcppTag, User
from ocpp_core.validators import charge_box_id_validator, id_tag_validator
from powerfill.api.fields import (
    AccountPrimaryKeyRelatedField,
    Int32Field,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictDateTimeField,
    StrictEmailField,
    StrictFloatField,
)
from sites.choices import PhaseCount
from sites.models import Node

# What the charge box services check of a non-blank value (blank clears it), said in the fields so that the OpenAPI
# document states it.
CHARGER_PASSWORD = RegexValidator(r"^[!-~]{16,40}$", "Use 16 to 40 printable ASCII characters.")
UPSTREAM_URL = RegexValidator(r"^wss?://[^\x00]*$", "Use a ws:// or wss:// URL.")


class ConnectorSerializer(serializers.Serializer):
    connectorId = serializers.IntegerField(source="connector_id", read_only=True)
    status = serializers.CharField(read_only=True)
    errorCode = serializers.CharField(source="error_code", read_only=True)
    evseId = serializers.CharField(source="evse_id", read_only=True)
    priority = serializers.IntegerField(read_only=True)


class ChargeBoxSerializer(serializers.Serializer):
    chargeBoxPk = serializers.IntegerField(source="pk", read_only=True)
    chargeBoxId = StrictCharField(
        source="charge_box_id",
        max_length=48,
        validators=[charge_box_id_validator],
        help_text="The OCPP identity: the last part of the charger's WebSocket URL. Unique.",
    )
    description = StrictCharField(required=False, allow_blank=True, default="")
    registrationStatus = StrictChoiceField(
        source="registration_status", choices=REGISTRATION_STATUS_CHOICES, required=False, default="Accepted"
    )
    nodeId = AccountPrimaryKeyRelatedField(
        source="node",
        queryset=Node.objects.all(),
        label_in_errors="node",
        required=False,
        allow_null=True,
        default=None,
        help_text="The site node this station is assigned to (null: none; it then admits nobody).",
    )
    ocppProtocol = serializers.ChoiceField(
        source="ocpp_protocol",
        choices=OcppProtocol.choices,
        allow_blank=True,
        read_only=True,
        help_text="The subprotocol the charger last connected with; empty until it first connects.",
    )
    chargePointVendor = serializers.CharField(source="charge_point_vendor", read_only=True)
    chargePointModel = serializers.CharField(source="charge_point_model", read_only=True)
    chargePointSerialNumber = serializers.CharField(source="charge_point_serial_number", read_only=True)
    chargeBoxSerialNumber = serializers.CharField(source="charge_box_serial_number", read_only=True)
    firmwareVersion = serializers.CharField(source="firmware_version", read_only=True)
    lastHeartbeat = serializers.DateTimeField(source="last_heartbeat_at", read_only=True, allow_null=True)
    connected = serializers.BooleanField(source="is_connected", read_only=True)
    connectors = ConnectorSerializer(many=True, read_only=True)
    authPassword = StrictCharField(
        source="auth_password",
        write_only=True,
        required=False,
        allow_null=True,
        allow_blank=True,
        validators=[CHARGER_PASSWORD],
        help_text="HTTP Basic password the charger must present (16-40 characters); stored hashed. null clears it.",
    )
    upstreamUrl = StrictCharField(
        source="upstream_url",
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        validators=[UPSTREAM_URL],
        help_text="Proxy mode: the third-party CSMS (ws:// or wss://) this charger is also connected to.",
    )
    maxCurrentA = StrictFloatField(source="max_current_a", min_value=0, required=False, default=32)
    minCurrentA = StrictFloatField(source="min_current_a", min_value=0, required=False, default=6)
    phases = StrictChoiceField(choices=PhaseCount.choices, required=False, default=PhaseCount.THREE)
    phaseRotation = StrictChoiceField(
        source="phase_rotation", choices=PhaseRotation.choices, required=False, default=PhaseRotation.RST
    )


class OcppTagOverviewSerializer(serializers.Serializer):
    """SteVe's OcppTagOverview."""

    ocppTagPk = serializers.IntegerField(source="pk", read_only=True, help_text="PK of the OCPP tag")
    idTag = serializers.CharField(source="id_tag", read_only=True, help_text="The OCPP tag")
    parentOcppTagPk = serializers.IntegerField(source="parent_id", read_only=True, allow_null=True)
    parentIdTag = serializers.CharField(source="parent.id_tag", read_only=True, allow_null=True, default=None)
    userPk = serializers.IntegerField(source="user_id", read_only=True, allow_null=True)
    expiryDate = serializers.DateTimeField(source="expiry_date", read_only=True, allow_null=True)
    maxActiveTransactionCount = serializers.IntegerField(source="max_active_transaction_count", read_only=True)
    blocked = serializers.BooleanField(read_only=True, help_text="maxActiveTransactionCount is 0")
    inTransaction = serializers.SerializerMethodField(help_text="Has the tag running transactions?")
    activeTransactionCount = serializers.IntegerField(source="active_transaction_count", read_only=True)
    note = serializers.CharField(read_only=True)

    def get_inTransaction(self, tag) -> bool:
        return tag.active_transaction_count > 0


class OcppTagFormSerializer(serializers.Serializer):
    """SteVe's OcppTagForm, plus `userPk` to name the tag's holder."""

    idTag = StrictCharField(
        source="id_tag",
        max_length=20,
        validators=[id_tag_validator],
        help_text="Used when creating; ignored when updating (an idTag never changes).",
    )
    parentIdTag = StrictCharField(source="parent_id_tag", required=False, allow_null=True, allow_blank=True)
    expiryDate = StrictDateTimeField(
        source="expiry_date",
        required=False,
        allow_null=True,
        help_text="ISO 8601 date/time with timezone, in the future. Example: `2030-08-25T14:30:00.000Z`",
    )
    maxActiveTransactionCount = Int32Field(
        source="max_active_transaction_count",
        required=False,
        default=1,
        min_value=-1,
        help_text="0 blocks the tag, -1 allows any number of sessions at once. Default 1.",
    )
    note = StrictCharField(required=False, allow_null=True, allow_blank=True)
    userPk = AccountPrimaryKeyRelatedField(
        source="user",
        queryset=User.objects.all(),
        label_in_errors="user",
        required=False,
        allow_null=True,
    )

    def validate_expiryDate(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Expiry Date/Time must be in future")
        return value

    def validate(self, attrs):
        attrs["note"] = attrs.get("note") or ""
        attrs["parent_id_tag"] = attrs.get("parent_id_tag") or None
        return attrs


class OcppTagUpdateFormSerializer(OcppTagFormSerializer):
    """The form of PUT: SteVe's form, every field optional (absent ones return to their defaults; idTag is ignored,
    an idTag never changes)."""

    def get_fields(self):
        fields = super().get_fields()
        fields["idTag"].required = False
        return fields


class OcppTagPksSerializer(serializers.Serializer):
    ocppTagPks = AccountPrimaryKeyRelatedField(
        source="ocpp_tags",
        queryset=OcppTag.objects.all(),
        label_in_errors="OCPP tag",
        many=True,
    )


class UserSerializer(serializers.Serializer):
    """A tag holder. PUT replaces the text fields (absent ones become empty) and, when given, the tag set."""

    userPk = serializers.IntegerField(source="pk", read_only=True)
    firstName = StrictCharField(source="first_name", max_length=100, required=False, allow_blank=True, default="")
    lastName = StrictCharField(source="last_name", max_length=100, required=False, allow_blank=True, default="")
    email = StrictEmailField(required=False, allow_blank=True, default="")
    phone = StrictCharField(max_length=50, required=False, allow_blank=True, default="")
    note = StrictCharField(required=False, allow_blank=True, default="")
    ocppTagPks = AccountPrimaryKeyRelatedField(
        source="ocpp_tags",
        queryset=OcppTag.objects.all(),
        label_in_errors="OCPP tag",
        many=True,
        required=False,
        help_text="The tags this person holds; a tag held by someone else moves to this user.",
    )


class OcppTagGroupSerializer(serializers.Serializer):
    ocppTagGroupPk = serializers.IntegerField(source="pk", read_only=True)
    name = StrictCharField(max_length=100)
    ocppTagPks = AccountPrimaryKeyRelatedField(
        source="ocpp_tags",
        queryset=OcppTag.objects.all(),
        label_in_errors="OCPP tag",
        many=True,
        required=False,
    )


class TransactionSerializer(serializers.Serializer):
    """SteVe's Transaction. Meter readings in Wh, as strings (SteVe's types); energyWh adds the energy so far."""

    id = serializers.IntegerField(source="pk", read_only=True)
    chargeBoxId = serializers.CharField(source="charge_box.charge_box_id", read_only=True)
    chargeBoxPk = serializers.IntegerField(source="charge_box_id", read_only=True)
    connectorId = serializers.IntegerField(source="connector_id", read_only=True)
    ocppIdTag = serializers.CharField(source="id_tag", read_only=True)
    ocppTagPk = serializers.IntegerField(source="ocpp_tag_id", read_only=True, allow_null=True)
    userId = serializers.IntegerField(source="ocpp_tag.user_id", read_only=True, allow_null=True, default=None)
    startTimestamp = serializers.DateTimeField(source="started_at", read_only=True)
    startValue = serializers.CharField(source="meter_start", read_only=True)
    stopTimestamp = serializers.DateTimeField(source="stopped_at", read_only=True, allow_null=True)
    stopValue = serializers.CharField(source="meter_stop", read_only=True, allow_null=True)
    stopReason = serializers.CharField(source="stop_reason", read_only=True, allow_null=True)
    stopEventActor = serializers.CharField(source="stop_event_actor", read_only=True, allow_null=True)
    energyWh = serializers.IntegerField(source="energy_wh", read_only=True, allow_null=True)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for key in ("stopReason", "stopEventActor"):
            data[key] = data[key] or None  # SteVe: null while running
        return data


class MeterValueSerializer(serializers.Serializer):
    """SteVe's MeterValues entry of TransactionDetails."""

    value = serializers.CharField(read_only=True)
    valueTimestamp = serializers.DateTimeField(source="timestamp", read_only=True)
    readingContext = serializers.CharField(source="context", read_only=True)
    format = serializers.CharField(read_only=True)
    measurand = serializers.CharField(read_only=True)
    location = serializers.CharField(read_only=True)
    unit = serializers.CharField(read_only=True)
    phase = serializers.CharField(read_only=True)


class TransactionDetailsSerializer(serializers.Serializer):
    transaction = TransactionSerializer(read_only=True)
    values = MeterValueSerializer(many=True, read_only=True)


class TransactionDetailsQuerySerializer(serializers.Serializer):
    energyValuesOnly = StrictBooleanField(
        required=False, default=True, help_text="Only the energy register readings (default true)."
    )


class TransactionReportQuerySerializer(serializers.Serializer):
    # "from" is a Python keyword: the field is declared below under its wire name.
    to = StrictDateTimeField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = StrictDateTimeField()
        return fields

    def validate(self, attrs):
        if attrs["to"] <= attrs["from"]:
            raise serializers.ValidationError({"to": "Must be after from."})
        return attrs
