"""The CSMS-initiated OCPP 1.6 operations, as SteVe's REST API offers them (same names, parameters and answers).

Each operation says what SteVe's parameters are, how they become the CALL's payload for one charger (checking
what must hold first: RemoteStartTransaction asks the permission resolver, RemoteStopTransaction needs a running
transaction), what of the charger's answer SteVe's `successResponses[].response` shows, and what the central system
remembers once the charger accepted (a reservation, a new charger password, the local list it now holds).
services/operations.py sends them; the REST API and the admin offer them.
"""

from django.utils import timezone
from ocpp.v16.enums import (
    AuthorizationStatus,
    AvailabilityType,
    CertificateUse,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    Log,
    ResetType,
    UpdateType,
)
from rest_framework import serializers

from permissions.selectors import tag_authorization
from powerfill.api.fields import Int32Field, StrictBooleanField, StrictCharField, StrictChoiceField, StrictDateTimeField

from .choices import ReservationStatus
from .models import (
    ChargeBox,
    ChargingProfile,
    ChargingProfileAssignment,
    InstalledCertificate,
    OcppTag,
    OperationTask,
    Reservation,
    Transaction,
)
from .secret_masking import is_secret_key, masked_configuration
from .services.local_list import local_list_accepted, local_list_update_build
from .timestamps import ocpp_time
from .validators import charger_password_validator

OPERATIONS: dict[str, "Operation"] = {}

# SteVe's ChangeConfiguration keys a central system may write (OCPP 1.6 plus the security whitepaper).
WRITABLE_CONFIGURATION_KEYS = [
    "AllowOfflineTxForUnknownId",
    "AuthorizationCacheEnabled",
    "AuthorizationKey",
    "AuthorizeRemoteTxRequests",
    "BlinkRepeat",
    "ChargePointId",
    "ClockAlignedDataInterval",
    "ConnectionTimeOut",
    "ConnectorPhaseRotation",
    "CpoName",
    "HeartBeatInterval",
    "HeartbeatInterval",
    "LightIntensity",
    "LocalAuthListEnabled",
    "LocalAuthorizeOffline",
    "LocalPreAuthorize",
    "MaxEnergyOnInvalidId",
    "MeterValueSampleInterval",
    "MeterValuesAlignedData",
    "MeterValuesSampledData",
    "MeterValuesSignatureContexts",
    "MinimumStatusDuration",
    "ProximityContactRetries",
    "ProximityLockRetries",
    "ResetRetries",
    "SecurityProfile",
    "StopTransactionOnEVSideDisconnect",
    "StopTransactionOnInvalidId",
    "StopTransactionSignatureContexts",
    "StopTransactionSignatureFormat",
    "StopTxnAlignedData",
    "StopTxnSampledData",
    "TransactionMessageAttempts",
    "TransactionMessageRetryInterval",
    "UnlockConnectorOnEVSideDisconnect",
    "WebSocketPingInterval",
]


class OperationRefused(Exception):
    """The operation is not sent to this charger; the message says why (it lands in `exceptions`)."""


class MultipleChargePointSelect(serializers.Serializer):
    chargeBoxIdList = serializers.ListField(
        child=StrictCharField(max_length=48),
        min_length=1,
        help_text="The identifiers of the charge boxes; should contain at least 1 element.",
    )


class SingleChargeBox(serializers.Serializer):
    chargeBoxIdList = serializers.ListField(
        child=StrictCharField(max_length=48),
        min_length=1,
        max_length=1,
        help_text="Should contain exactly 1 element.",
    )


def _operation(cls):
    OPERATIONS[cls.action] = cls()
    return cls


class Operation:
    action: str
    params: type[serializers.Serializer] = MultipleChargePointSelect
    response_field = serializers.CharField(help_text="The status the charger answered.")
    description = ""

    def payload(self, *, params: dict, charge_box: ChargeBox, task: OperationTask) -> dict:
        """The CALL payload (OCPP's camelCase JSON) for this charger, or OperationRefused."""
        return {}

    def response(self, result: dict):
        """What SteVe's successResponses[].response shows of the charger's answer."""
        return result.get("status")

    def secrets(self, params: dict) -> tuple[str, ...]:
        """Values of these params that the charger must get but nothing may keep (ocpp_core/secret_masking.py)."""
        return ()

    def accepted(self, *, params: dict, charge_box: ChargeBox, payload: dict, result: dict) -> None:
        """Remember what the charger's answer changed."""

    def not_answered(self, *, params: dict, charge_box: ChargeBox, payload: dict) -> None:
        """Undo what payload() prepared when the charger gave no CALLRESULT."""


def _compact(payload: dict) -> dict:
    return {key: value for key, value in payload.items() if value is not None}


def _time(value):
    return ocpp_time(value) if value is not None else None


def _authorized_tag(*, charge_box: ChargeBox, id_tag: str) -> OcppTag:
    """Remote starts and reservations are for tags that may charge here now (the permission resolver's answer)."""
    authorization = tag_authorization(id_tag=id_tag, charge_box=charge_box)
    if authorization.status != AuthorizationStatus.accepted:
        raise OperationRefused(f"idTag {id_tag} may not charge at {charge_box.charge_box_id}: {authorization.status}.")
    return authorization.ocpp_tag


# Core profile


class ChangeAvailabilityParams(MultipleChargePointSelect):
    availType = StrictChoiceField(choices=[t.value for t in AvailabilityType])
    connectorId = Int32Field(min_value=0, required=False, default=0)


@_operation
class ChangeAvailability(Operation):
    action = "ChangeAvailability"
    params = ChangeAvailabilityParams

    def payload(self, *, params, charge_box, task):
        return {"connectorId": params["connectorId"], "type": params["availType"]}


class ChangeConfigurationParams(MultipleChargePointSelect):
    keyType = StrictChoiceField(choices=["PREDEFINED", "CUSTOM"])
    confKey = StrictChoiceField(choices=WRITABLE_CONFIGURATION_KEYS, required=False)
    customConfKey = StrictCharField(max_length=50, required=False)
    value = StrictCharField(max_length=500, allow_blank=True)

    def validate(self, attrs):
        key = attrs.get("confKey") if attrs["keyType"] == "PREDEFINED" else attrs.get("customConfKey")
        if not key:
            field = "confKey" if attrs["keyType"] == "PREDEFINED" else "customConfKey"
            raise serializers.ValidationError({field: "This field is required for this keyType."})
        if is_secret_key(key):
            try:
                charger_password_validator(attrs["value"])
            except Exception as error:
                raise serializers.ValidationError({"value": error.messages}) from error
        attrs["key"] = key
        return attrs


@_operation
class ChangeConfiguration(Operation):
    action = "ChangeConfiguration"
    params = ChangeConfigurationParams
    description = (
        "Setting AuthorizationKey (16-40 characters) also makes it the password Powerfill expects from that charger "
        "once it accepts; HeartbeatInterval becomes the interval its BootNotification answers carry."
    )

    def payload(self, *, params, charge_box, task):
        return {"key": params["key"], "value": params["value"]}

    def secrets(self, params):
        return (params["value"],) if is_secret_key(params["key"]) else ()

    def accepted(self, *, params, charge_box, payload, result):
        if result.get("status") not in ("Accepted", "RebootRequired"):
            return
        key, value = payload["key"], payload["value"]
        charge_box.refresh_from_db()
        configuration = dict(charge_box.configuration)
        if not is_secret_key(key):  # never keep a password in clear text
            configuration[key] = {**configuration.get(key, {}), "value": value}
        update = {"configuration": configuration}
        if is_secret_key(key):
            charge_box.set_auth_password(value)
            update["auth_password_hash"] = charge_box.auth_password_hash
        if key in ("HeartbeatInterval", "HeartBeatInterval") and value.isdigit() and int(value) >= 10:
            update["heartbeat_interval"] = int(value)
        ChargeBox.objects.filter(pk=charge_box.pk).update(**update)


@_operation
class ClearCache(Operation):
    action = "ClearCache"


class DataTransferParams(MultipleChargePointSelect):
    vendorId = StrictCharField(max_length=255)
    messageId = StrictCharField(max_length=50, required=False)
    data = StrictCharField(required=False, allow_blank=True)


@_operation
class DataTransfer(Operation):
    action = "DataTransfer"
    params = DataTransferParams
    response_field = serializers.JSONField(help_text='{"status": "...", "data": "..."}')

    def payload(self, *, params, charge_box, task):
        return _compact(
            {"vendorId": params["vendorId"], "messageId": params.get("messageId"), "data": params.get("data")}
        )

    def response(self, result):
        return _compact({"status": result.get("status"), "data": result.get("data")})


class GetConfigurationParams(MultipleChargePointSelect):
    confKeyList = serializers.ListField(child=StrictCharField(max_length=50), required=False)
    commaSeparatedCustomConfKeys = StrictCharField(required=False, allow_blank=True)


@_operation
class GetConfiguration(Operation):
    action = "GetConfiguration"
    params = GetConfigurationParams
    response_field = serializers.JSONField(
        help_text='{"configurationKeys": [{"key", "readonly", "value"}], "unknownKeys"}'
    )
    description = "No keys asks for all of them. The answer is also kept on the charge box."

    def payload(self, *, params, charge_box, task):
        keys = list(params.get("confKeyList") or [])
        keys += [key.strip() for key in (params.get("commaSeparatedCustomConfKeys") or "").split(",") if key.strip()]
        return {"key": keys} if keys else {}

    def response(self, result):
        return {
            "configurationKeys": masked_configuration(result.get("configurationKey", [])),
            "unknownKeys": result.get("unknownKey", []),
        }

    def accepted(self, *, params, charge_box, payload, result):
        charge_box.refresh_from_db(fields=["configuration"])
        configuration = dict(charge_box.configuration)
        for entry in masked_configuration(result.get("configurationKey", [])):
            configuration[entry["key"]] = {"value": entry.get("value"), "readonly": entry.get("readonly", False)}
        ChargeBox.objects.filter(pk=charge_box.pk).update(configuration=configuration)


class RemoteStartTransactionParams(SingleChargeBox):
    idTag = StrictCharField(max_length=20)
    connectorId = Int32Field(min_value=0, required=False)
    chargingProfilePk = Int32Field(
        min_value=0, required=False, help_text="A stored charging profile whose purpose is TxProfile."
    )


@_operation
class RemoteStartTransaction(Operation):
    action = "RemoteStartTransaction"
    params = RemoteStartTransactionParams
    description = "Only 1 charge point can be selected. The tag must be allowed at the charger now."

    def payload(self, *, params, charge_box, task):
        _authorized_tag(charge_box=charge_box, id_tag=params["idTag"])
        payload = {"idTag": params["idTag"], "connectorId": params.get("connectorId") or None}
        if params.get("chargingProfilePk") is not None:
            profile = _profile(charge_box, params["chargingProfilePk"])
            if profile.purpose != ChargingProfilePurposeType.tx_profile:
                raise OperationRefused("A remote start takes a TxProfile.")
            payload["chargingProfile"] = profile.as_ocpp()
        return _compact(payload)


class RemoteStopTransactionParams(SingleChargeBox):
    transactionId = Int32Field()


@_operation
class RemoteStopTransaction(Operation):
    action = "RemoteStopTransaction"
    params = RemoteStopTransactionParams
    description = "Only 1 charge point can be selected; the transaction must be running there."

    def payload(self, *, params, charge_box, task):
        running = Transaction.objects.filter(pk=params["transactionId"], charge_box=charge_box, stopped_at=None)
        if not running.exists():
            raise OperationRefused(f"No running transaction {params['transactionId']} at {charge_box.charge_box_id}.")
        return {"transactionId": params["transactionId"]}


class ResetParams(MultipleChargePointSelect):
    resetType = StrictChoiceField(choices=[t.value for t in ResetType])


@_operation
class Reset(Operation):
    action = "Reset"
    params = ResetParams

    def payload(self, *, params, charge_box, task):
        return {"type": params["resetType"]}


class UnlockConnectorParams(SingleChargeBox):
    connectorId = Int32Field(min_value=1)


@_operation
class UnlockConnector(Operation):
    action = "UnlockConnector"
    params = UnlockConnectorParams

    def payload(self, *, params, charge_box, task):
        return {"connectorId": params["connectorId"]}


# Firmware management


class GetDiagnosticsParams(MultipleChargePointSelect):
    location = StrictCharField(max_length=512, help_text="The URL the charger uploads the file to.")
    retries = Int32Field(min_value=1, required=False)
    retryInterval = Int32Field(min_value=1, required=False)
    start = StrictDateTimeField(required=False)
    stop = StrictDateTimeField(required=False)


@_operation
class GetDiagnostics(Operation):
    action = "GetDiagnostics"
    params = GetDiagnosticsParams
    response_field = serializers.JSONField(help_text='{"fileName": "..."}')

    def payload(self, *, params, charge_box, task):
        return _compact(
            {
                "location": params["location"],
                "retries": params.get("retries"),
                "retryInterval": params.get("retryInterval"),
                "startTime": _time(params.get("start")),
                "stopTime": _time(params.get("stop")),
            }
        )

    def response(self, result):
        return _compact({"fileName": result.get("fileName")})


class UpdateFirmwareParams(MultipleChargePointSelect):
    location = StrictCharField(max_length=512, help_text="The URL the charger downloads the firmware from.")
    retrieveDateTime = StrictDateTimeField()
    retries = Int32Field(min_value=1, required=False)
    retryInterval = Int32Field(min_value=1, required=False)


@_operation
class UpdateFirmware(Operation):
    action = "UpdateFirmware"
    params = UpdateFirmwareParams
    response_field = serializers.CharField(help_text='"OK": OCPP 1.6 answers UpdateFirmware with an empty payload.')

    def payload(self, *, params, charge_box, task):
        return _compact(
            {
                "location": params["location"],
                "retrieveDate": ocpp_time(params["retrieveDateTime"]),
                "retries": params.get("retries"),
                "retryInterval": params.get("retryInterval"),
            }
        )

    def response(self, result):
        return "OK"


# Local authorization list management


@_operation
class GetLocalListVersion(Operation):
    action = "GetLocalListVersion"
    response_field = Int32Field(help_text="-1: no local list support; 0: no list installed.")

    def response(self, result):
        return result.get("listVersion")


class SendLocalListParams(MultipleChargePointSelect):
    listVersion = Int32Field(required=False, help_text="Default: one more than the version last sent to that charger.")
    updateType = StrictChoiceField(choices=[t.value for t in UpdateType])
    addUpdateList = serializers.ListField(
        child=StrictCharField(max_length=20),
        required=False,
        help_text="ID tags to add or update. Without it and deleteList, the list is built from the permission model: "
        "the tags that may charge at that charger.",
    )
    deleteList = serializers.ListField(child=StrictCharField(max_length=20), required=False)
    sendEmptyListWhenFull = StrictBooleanField(required=False, default=False)


@_operation
class SendLocalList(Operation):
    action = "SendLocalList"
    params = SendLocalListParams
    description = (
        "Full: the charger's list becomes the given tags, or (without addUpdateList) every tag allowed there by the "
        "permission model. Differential: without lists, the changes since the list last accepted."
    )

    def payload(self, *, params, charge_box, task):
        update = local_list_update_build(
            charge_box=charge_box,
            update_type=UpdateType(params["updateType"]),
            list_version=params.get("listVersion"),
            add_id_tags=params.get("addUpdateList"),
            delete_id_tags=params.get("deleteList"),
            send_empty_when_full=params["sendEmptyListWhenFull"],
        )
        limit = (charge_box.configuration.get("SendLocalListMaxLength") or {}).get("value")
        if limit and str(limit).isdigit() and len(update.entries) > int(limit):
            raise OperationRefused(
                f"{len(update.entries)} entries exceed the charger's SendLocalListMaxLength {limit}."
            )
        return {
            "listVersion": update.list_version,
            "updateType": update.update_type,
            "localAuthorizationList": update.entries,
        }

    def accepted(self, *, params, charge_box, payload, result):
        if result.get("status") == "Accepted":
            local_list_accepted(
                charge_box=charge_box,
                update_type=UpdateType(payload["updateType"]),
                list_version=payload["listVersion"],
                entries=payload["localAuthorizationList"],
            )


# Reservation


class ReserveNowParams(SingleChargeBox):
    connectorId = Int32Field(min_value=0, help_text="0 reserves any connector of the charger.")
    expiry = StrictDateTimeField()
    idTag = StrictCharField(max_length=20)

    def validate_expiry(self, value):
        if value <= timezone.now():
            raise serializers.ValidationError("The reservation must expire in the future.")
        return value


@_operation
class ReserveNow(Operation):
    action = "ReserveNow"
    params = ReserveNowParams
    description = "Only 1 charge point can be selected. The reservationId is the reservation's primary key."

    def payload(self, *, params, charge_box, task):
        tag = _authorized_tag(charge_box=charge_box, id_tag=params["idTag"])
        tag = OcppTag.objects.select_related("parent").get(pk=tag.pk)
        reservation = Reservation.objects.create(
            charge_box=charge_box, connector_id=params["connectorId"], ocpp_tag=tag, expiry=params["expiry"]
        )
        return _compact(
            {
                "connectorId": params["connectorId"],
                "expiryDate": ocpp_time(params["expiry"]),
                "idTag": tag.id_tag,
                "parentIdTag": tag.parent.id_tag if tag.parent_id else None,
                "reservationId": reservation.pk,
            }
        )

    def accepted(self, *, params, charge_box, payload, result):
        status = result.get("status")
        status = status if status in ReservationStatus.values else ReservationStatus.REJECTED
        Reservation.objects.filter(pk=payload["reservationId"]).update(status=status, updated_at=timezone.now())

    def not_answered(self, *, params, charge_box, payload):
        Reservation.objects.filter(pk=payload["reservationId"]).update(
            status=ReservationStatus.FAILED, updated_at=timezone.now()
        )


class CancelReservationParams(SingleChargeBox):
    reservationId = Int32Field(min_value=0)


@_operation
class CancelReservation(Operation):
    action = "CancelReservation"
    params = CancelReservationParams

    def payload(self, *, params, charge_box, task):
        if not Reservation.objects.filter(pk=params["reservationId"], charge_box=charge_box).exists():
            raise OperationRefused(f"No reservation {params['reservationId']} at {charge_box.charge_box_id}.")
        return {"reservationId": params["reservationId"]}

    def accepted(self, *, params, charge_box, payload, result):
        if result.get("status") == "Accepted":
            Reservation.objects.filter(pk=payload["reservationId"]).update(
                status=ReservationStatus.CANCELLED, updated_at=timezone.now()
            )


# Smart charging


def _profile(charge_box: ChargeBox, profile_pk: int) -> ChargingProfile:
    profile = ChargingProfile.objects.filter(pk=profile_pk, account_id=charge_box.account_id).first()
    if profile is None:
        raise OperationRefused(f"No charging profile {profile_pk}.")
    return profile


class SetChargingProfileParams(MultipleChargePointSelect):
    chargingProfilePk = Int32Field(min_value=0)
    connectorId = Int32Field(min_value=0)
    transactionId = Int32Field(
        min_value=0, required=False, help_text="For a TxProfile: the running transaction it applies to."
    )


@_operation
class SetChargingProfile(Operation):
    action = "SetChargingProfile"
    params = SetChargingProfileParams

    def payload(self, *, params, charge_box, task):
        profile = _profile(charge_box, params["chargingProfilePk"])
        transaction_id = params.get("transactionId")
        if transaction_id is not None:
            if profile.purpose != ChargingProfilePurposeType.tx_profile:
                raise OperationRefused("Only a TxProfile applies to a transaction.")
            if not Transaction.objects.filter(pk=transaction_id, charge_box=charge_box, stopped_at=None).exists():
                raise OperationRefused(f"No running transaction {transaction_id} at {charge_box.charge_box_id}.")
        elif profile.purpose == ChargingProfilePurposeType.tx_profile:
            raise OperationRefused("A TxProfile needs the transactionId it applies to.")
        if profile.purpose == ChargingProfilePurposeType.charge_point_max_profile and params["connectorId"] != 0:
            raise OperationRefused("A ChargePointMaxProfile goes to connector 0.")
        return {
            "connectorId": params["connectorId"],
            "csChargingProfiles": profile.as_ocpp(transaction_id=transaction_id),
        }

    def accepted(self, *, params, charge_box, payload, result):
        if result.get("status") == "Accepted":
            ChargingProfileAssignment.objects.update_or_create(
                charge_box=charge_box,
                connector_id=payload["connectorId"],
                charging_profile_id=params["chargingProfilePk"],
                defaults={"transaction_id": params.get("transactionId")},
            )


class ClearChargingProfileParams(MultipleChargePointSelect):
    filterType = StrictChoiceField(choices=["ChargingProfileId", "OtherParameters"])
    chargingProfilePk = Int32Field(min_value=0, required=False)
    connectorId = Int32Field(min_value=0, required=False)
    chargingProfilePurpose = StrictChoiceField(choices=[p.value for p in ChargingProfilePurposeType], required=False)
    stackLevel = Int32Field(min_value=0, required=False)

    def validate(self, attrs):
        if attrs["filterType"] == "ChargingProfileId" and attrs.get("chargingProfilePk") is None:
            raise serializers.ValidationError({"chargingProfilePk": "Required when filterType is ChargingProfileId."})
        return attrs


@_operation
class ClearChargingProfile(Operation):
    action = "ClearChargingProfile"
    params = ClearChargingProfileParams

    def payload(self, *, params, charge_box, task):
        if params["filterType"] == "ChargingProfileId":
            return {"id": params["chargingProfilePk"]}
        return _compact(
            {
                "connectorId": params.get("connectorId"),
                "chargingProfilePurpose": params.get("chargingProfilePurpose"),
                "stackLevel": params.get("stackLevel"),
            }
        )

    def accepted(self, *, params, charge_box, payload, result):
        if result.get("status") != "Accepted":
            return
        cleared = ChargingProfileAssignment.objects.filter(charge_box=charge_box)
        if "id" in payload:
            cleared = cleared.filter(charging_profile_id=payload["id"])
        if "connectorId" in payload:
            cleared = cleared.filter(connector_id=payload["connectorId"])
        if "chargingProfilePurpose" in payload:
            cleared = cleared.filter(charging_profile__purpose=payload["chargingProfilePurpose"])
        if "stackLevel" in payload:
            cleared = cleared.filter(charging_profile__stack_level=payload["stackLevel"])
        cleared.delete()


class GetCompositeScheduleParams(MultipleChargePointSelect):
    connectorId = Int32Field(min_value=0)
    durationInSeconds = Int32Field(min_value=0)
    chargingRateUnit = StrictChoiceField(choices=[u.value for u in ChargingRateUnitType], required=False)


@_operation
class GetCompositeSchedule(Operation):
    action = "GetCompositeSchedule"
    params = GetCompositeScheduleParams
    response_field = serializers.JSONField(
        help_text='{"status", "connectorId", "scheduleStart", "chargingSchedule"} as the charger answered.'
    )

    def payload(self, *, params, charge_box, task):
        return _compact(
            {
                "connectorId": params["connectorId"],
                "duration": params["durationInSeconds"],
                "chargingRateUnit": params.get("chargingRateUnit"),
            }
        )

    def response(self, result):
        return result


# Remote trigger


class TriggerMessageParams(MultipleChargePointSelect):
    triggerMessage = StrictChoiceField(
        choices=[
            "BootNotification",
            "DiagnosticsStatusNotification",
            "FirmwareStatusNotification",
            "Heartbeat",
            "MeterValues",
            "StatusNotification",
        ]
    )
    connectorId = Int32Field(min_value=1, required=False)


@_operation
class TriggerMessage(Operation):
    action = "TriggerMessage"
    params = TriggerMessageParams

    def payload(self, *, params, charge_box, task):
        return _compact({"requestedMessage": params["triggerMessage"], "connectorId": params.get("connectorId")})


# Security extension ("Improved security for OCPP 1.6-J")


class ExtendedTriggerMessageParams(MultipleChargePointSelect):
    triggerMessage = StrictChoiceField(
        choices=[
            "BootNotification",
            "LogStatusNotification",
            "FirmwareStatusNotification",
            "Heartbeat",
            "MeterValues",
            "SignChargePointCertificate",
            "StatusNotification",
        ]
    )
    connectorId = Int32Field(min_value=0, required=False)


@_operation
class ExtendedTriggerMessage(Operation):
    action = "ExtendedTriggerMessage"
    params = ExtendedTriggerMessageParams

    def payload(self, *, params, charge_box, task):
        return _compact({"requestedMessage": params["triggerMessage"], "connectorId": params.get("connectorId")})


class InstallCertificateParams(MultipleChargePointSelect):
    certificateType = StrictChoiceField(choices=[c.value for c in CertificateUse])
    certificate = StrictCharField(max_length=5500, help_text="PEM-encoded X.509 certificate")


@_operation
class InstallCertificate(Operation):
    action = "InstallCertificate"
    params = InstallCertificateParams

    def payload(self, *, params, charge_box, task):
        return {"certificateType": params["certificateType"], "certificate": params["certificate"]}


class GetInstalledCertificateIdsParams(MultipleChargePointSelect):
    certificateType = StrictChoiceField(choices=[c.value for c in CertificateUse])


@_operation
class GetInstalledCertificateIds(Operation):
    action = "GetInstalledCertificateIds"
    params = GetInstalledCertificateIdsParams
    response_field = serializers.JSONField(help_text='{"status", "certificateHashData": [...]}')
    description = "The certificates the charger reports are kept; DeleteCertificate names them by their id."

    def payload(self, *, params, charge_box, task):
        return {"certificateType": params["certificateType"]}

    def response(self, result):
        return result

    def accepted(self, *, params, charge_box, payload, result):
        if result.get("status") != "Accepted":
            return
        InstalledCertificate.objects.filter(charge_box=charge_box, certificate_type=payload["certificateType"]).delete()
        InstalledCertificate.objects.bulk_create(
            InstalledCertificate(
                charge_box=charge_box,
                certificate_type=payload["certificateType"],
                hash_algorithm=data["hashAlgorithm"],
                issuer_name_hash=data["issuerNameHash"],
                issuer_key_hash=data["issuerKeyHash"],
                serial_number=data["serialNumber"],
            )
            for data in result.get("certificateHashData", [])
        )


class DeleteCertificateParams(SingleChargeBox):
    installedCertificateId = Int32Field(help_text="The id of a certificate from GetInstalledCertificateIds.")


@_operation
class DeleteCertificate(Operation):
    action = "DeleteCertificate"
    params = DeleteCertificateParams

    def payload(self, *, params, charge_box, task):
        certificate = InstalledCertificate.objects.filter(
            pk=params["installedCertificateId"], charge_box=charge_box
        ).first()
        if certificate is None:
            raise OperationRefused(
                f"No installed certificate {params['installedCertificateId']} known for that charger."
            )
        return {"certificateHashData": certificate.hash_data()}

    def accepted(self, *, params, charge_box, payload, result):
        if result.get("status") == "Accepted":
            InstalledCertificate.objects.filter(pk=params["installedCertificateId"]).delete()


class GetLogParams(MultipleChargePointSelect):
    logType = StrictChoiceField(choices=[t.value for t in Log])
    location = StrictCharField(max_length=512)
    retries = Int32Field(min_value=1, required=False)
    retryInterval = Int32Field(min_value=1, required=False)
    start = StrictDateTimeField(required=False)
    stop = StrictDateTimeField(required=False)


@_operation
class GetLog(Operation):
    action = "GetLog"
    params = GetLogParams
    response_field = serializers.JSONField(help_text='{"status", "filename"}')
    description = "The requestId is the taskId; LogStatusNotifications carry it."

    def payload(self, *, params, charge_box, task):
        log = _compact(
            {
                "remoteLocation": params["location"],
                "oldestTimestamp": _time(params.get("start")),
                "latestTimestamp": _time(params.get("stop")),
            }
        )
        return _compact(
            {
                "logType": params["logType"],
                "requestId": task.pk,
                "log": log,
                "retries": params.get("retries"),
                "retryInterval": params.get("retryInterval"),
            }
        )

    def response(self, result):
        return result


class SignedUpdateFirmwareParams(MultipleChargePointSelect):
    location = StrictCharField(max_length=512)
    retrieveDateTime = StrictDateTimeField()
    installDateTime = StrictDateTimeField(required=False)
    signingCertificate = StrictCharField(max_length=5500)
    signature = StrictCharField(max_length=800)
    retries = Int32Field(min_value=1, required=False)
    retryInterval = Int32Field(min_value=1, required=False)


@_operation
class SignedUpdateFirmware(Operation):
    action = "SignedUpdateFirmware"
    params = SignedUpdateFirmwareParams
    description = "The requestId is the taskId; SignedFirmwareStatusNotifications carry it."

    def payload(self, *, params, charge_box, task):
        firmware = _compact(
            {
                "location": params["location"],
                "retrieveDateTime": ocpp_time(params["retrieveDateTime"]),
                "installDateTime": _time(params.get("installDateTime")),
                "signingCertificate": params["signingCertificate"],
                "signature": params["signature"],
            }
        )
        return _compact(
            {
                "requestId": task.pk,
                "firmware": firmware,
                "retries": params.get("retries"),
                "retryInterval": params.get("retryInterval"),
            }
        )


class CertificateSignedParams(MultipleChargePointSelect):
    certificateChain = StrictCharField(max_length=10000, help_text="PEM: the charger's certificate chain.")


@_operation
class CertificateSigned(Operation):
    action = "CertificateSigned"
    params = CertificateSignedParams
    description = "Answers a charger's SignCertificate (stored among its events) with the signed certificate chain."

    def payload(self, *, params, charge_box, task):
        return {"certificateChain": params["certificateChain"]}
