"""What the central system does with each charger-initiated OCPP 1.6 message.

The consumer parses and answers; the decisions live here, in plain functions with keyword arguments that take
the snake_case payload the ocpp library hands over. They are safe to repeat: chargers resend after reconnects.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from ocpp.v16.enums import AuthorizationStatus, DataTransferStatus, RegistrationStatus

from permissions.selectors import TagAuthorization, tag_authorization

from ..choices import ChargerEventKind, ReservationStatus, StopEventActor
from ..models import (
    ENERGY_REGISTER,
    ChargeBox,
    ChargerEvent,
    Connector,
    ConnectorStatus,
    MeterValue,
    Reservation,
    Transaction,
)
from ..timestamps import parse_charger_time, plausible_or_now

logger = logging.getLogger(__name__)

BOOT_FIELDS = {
    "charge_point_vendor": "charge_point_vendor",
    "charge_point_model": "charge_point_model",
    "charge_point_serial_number": "charge_point_serial_number",
    "charge_box_serial_number": "charge_box_serial_number",
    "firmware_version": "firmware_version",
    "iccid": "iccid",
    "imsi": "imsi",
    "meter_type": "meter_type",
    "meter_serial_number": "meter_serial_number",
}


@dataclass(frozen=True)
class IdTagInfo:
    """OCPP's idTagInfo: the answer about a tag at Authorize, StartTransaction and StopTransaction."""

    status: AuthorizationStatus
    parent_id_tag: str | None = None
    expiry_date: datetime | None = None

    @classmethod
    def of(cls, authorization: TagAuthorization) -> "IdTagInfo":
        return cls(authorization.status, authorization.parent_id_tag, authorization.expiry_date)


@dataclass(frozen=True)
class BootAnswer:
    status: RegistrationStatus
    interval: int
    current_time: datetime


@transaction.atomic
def charger_boot(*, charge_box: ChargeBox, **payload) -> BootAnswer:
    """BootNotification: remember what the charger says about itself; answer with its registration status."""
    now = timezone.now()
    fields = {
        model_field: (payload.get(key) or "")[: ChargeBox._meta.get_field(model_field).max_length]
        for key, model_field in BOOT_FIELDS.items()
    }
    ChargeBox.objects.filter(pk=charge_box.pk).update(**fields, last_boot_at=now, last_heartbeat_at=now)
    charge_box.refresh_from_db(fields=["registration_status", "heartbeat_interval", *fields, "last_boot_at"])
    return BootAnswer(RegistrationStatus(charge_box.registration_status), charge_box.heartbeat_interval, now)


def charger_heartbeat(*, charge_box: ChargeBox) -> datetime:
    now = timezone.now()
    ChargeBox.objects.filter(pk=charge_box.pk).update(last_heartbeat_at=now)
    return now


@transaction.atomic
def connector_status_report(
    *,
    charge_box: ChargeBox,
    connector_id: int,
    status: str,
    error_code: str,
    info: str | None = None,
    timestamp: str | None = None,
    vendor_id: str | None = None,
    vendor_error_code: str | None = None,
) -> None:
    """StatusNotification: the connector's current state, and a line of history."""
    now = timezone.now()
    details = {"info": info or "", "vendor_id": vendor_id or "", "vendor_error_code": vendor_error_code or ""}
    ConnectorStatus.objects.create(
        charge_box=charge_box,
        connector_id=connector_id,
        status=status,
        error_code=error_code,
        timestamp=parse_charger_time(timestamp),
        **details,
    )
    Connector.objects.update_or_create(
        charge_box=charge_box,
        connector_id=connector_id,
        defaults={"status": status, "error_code": error_code, "status_updated_at": now, **details},
    )


def authorize(*, charge_box: ChargeBox, id_tag: str) -> IdTagInfo:
    """Authorize: the permission resolver's answer, unless every connector is reserved for someone else."""
    authorization = tag_authorization(id_tag=id_tag, charge_box=charge_box)
    if authorization.status == AuthorizationStatus.accepted and _reserved_for_others(
        charge_box=charge_box, connector_id=None, authorization=authorization
    ):
        return IdTagInfo(AuthorizationStatus.invalid)
    return IdTagInfo.of(authorization)


@dataclass(frozen=True)
class StartAnswer:
    transaction_id: int
    id_tag_info: IdTagInfo


@transaction.atomic
def transaction_start(
    *,
    charge_box: ChargeBox,
    connector_id: int,
    id_tag: str,
    meter_start: int,
    timestamp: str,
    reservation_id: int | None = None,
) -> StartAnswer:
    """StartTransaction. The charger has already started; we record the session and say whether the tag may
    charge. A start repeated after a reconnect (same charger, connector, tag, meter and time) gets the same id."""
    started_at = plausible_or_now(parse_charger_time(timestamp))
    authorization = tag_authorization(id_tag=id_tag, charge_box=charge_box)
    info = IdTagInfo.of(authorization)

    existing = (
        Transaction.objects.select_for_update()
        .filter(
            charge_box=charge_box,
            connector_id=connector_id,
            id_tag__iexact=id_tag,
            meter_start=meter_start,
            started_at=started_at,
        )
        .first()
    )
    if existing is not None:
        return StartAnswer(
            existing.pk, IdTagInfo(existing.start_status or info.status, info.parent_id_tag, info.expiry_date)
        )

    reservation = _reservation_for_start(
        charge_box=charge_box, reservation_id=reservation_id, authorization=authorization
    )
    if (
        info.status == AuthorizationStatus.accepted
        and reservation is None
        and _reserved_for_others(charge_box=charge_box, connector_id=connector_id, authorization=authorization)
    ):
        info = IdTagInfo(AuthorizationStatus.invalid)

    tx = Transaction.objects.create(
        charge_box=charge_box,
        connector_id=connector_id,
        id_tag=id_tag,
        ocpp_tag=authorization.ocpp_tag if authorization.ocpp_tag else None,
        start_status=info.status,
        reservation=reservation,
        started_at=started_at,
        meter_start=meter_start,
    )
    if reservation is not None:
        Reservation.objects.filter(pk=reservation.pk).update(status=ReservationStatus.USED, updated_at=timezone.now())
    return StartAnswer(tx.pk, info)


@dataclass(frozen=True)
class StopAnswer:
    id_tag_info: IdTagInfo | None
    transaction: Transaction | None


@transaction.atomic
def transaction_stop(
    *,
    charge_box: ChargeBox,
    transaction_id: int,
    meter_stop: int,
    timestamp: str,
    id_tag: str | None = None,
    reason: str | None = None,
    transaction_data: list | None = None,
) -> StopAnswer:
    """StopTransaction. An id we never issued (chargers send -1 and replays) is acknowledged and kept as an event,
    never applied to another transaction; a repeated stop changes nothing. The idTagInfo is judged with this
    session already ended, so the tag's own session does not count against its concurrency limit."""
    tx = Transaction.objects.select_for_update().filter(pk=transaction_id, charge_box=charge_box).first()
    if tx is None:
        info = _stop_id_tag_info(charge_box, id_tag)
        logger.warning("%s stopped unknown transaction %s", charge_box.charge_box_id, transaction_id)
        ChargerEvent.objects.create(
            charge_box=charge_box,
            kind=ChargerEventKind.UNKNOWN_STOP_TRANSACTION,
            payload={
                "transactionId": transaction_id,
                "meterStop": meter_stop,
                "timestamp": timestamp,
                "idTag": id_tag,
                "reason": reason,
                "transactionData": transaction_data or [],
            },
            timestamp=parse_charger_time(timestamp),
        )
        return StopAnswer(info, None)
    if tx.stopped_at is None:
        tx.stopped_at = plausible_or_now(parse_charger_time(timestamp))
        tx.meter_stop = meter_stop
        tx.stop_reason = reason or "Local"
        tx.stop_id_tag = id_tag or ""
        tx.stop_event_actor = StopEventActor.STATION
        tx.save(update_fields=["stopped_at", "meter_stop", "stop_reason", "stop_id_tag", "stop_event_actor"])
        if transaction_data:
            _store_meter_values(
                charge_box=charge_box, connector_id=tx.connector_id, transaction=tx, meter_value=transaction_data
            )
    return StopAnswer(_stop_id_tag_info(charge_box, id_tag), tx)


def _stop_id_tag_info(charge_box: ChargeBox, id_tag: str | None) -> IdTagInfo | None:
    return IdTagInfo.of(tag_authorization(id_tag=id_tag, charge_box=charge_box)) if id_tag else None


@transaction.atomic
def meter_values_record(
    *, charge_box: ChargeBox, connector_id: int, meter_value: list, transaction_id: int | None = None
) -> int:
    """MeterValues: every sampled value, as sent. Returns how many were stored."""
    tx = None
    if transaction_id is not None:
        tx = Transaction.objects.filter(pk=transaction_id, charge_box=charge_box).first()
    return _store_meter_values(
        charge_box=charge_box, connector_id=connector_id, transaction=tx, meter_value=meter_value
    )


def _store_meter_values(
    *, charge_box: ChargeBox, connector_id: int, transaction: Transaction | None, meter_value: list
) -> int:
    now = timezone.now()
    rows = []
    for reading in meter_value:
        taken_at = plausible_or_now(parse_charger_time(reading.get("timestamp")), now)
        for sample in reading.get("sampled_value") or []:
            rows.append(
                MeterValue(
                    charge_box=charge_box,
                    connector_id=connector_id,
                    transaction=transaction,
                    timestamp=taken_at,
                    value=sample["value"],
                    numeric_value=_number(sample),
                    measurand=sample.get("measurand") or "",
                    phase=sample.get("phase") or "",
                    unit=sample.get("unit") or "",
                    context=sample.get("context") or "",
                    location=sample.get("location") or "",
                    format=sample.get("format") or "",
                )
            )
    MeterValue.objects.bulk_create(rows)
    if transaction is not None:
        _update_latest_energy(transaction, rows)
    return len(rows)


def _number(sample: dict) -> float | None:
    if sample.get("format") == "SignedData":
        return None
    try:
        return float(sample["value"])
    except (TypeError, ValueError):
        return None


def _update_latest_energy(transaction: Transaction, rows: list[MeterValue]) -> None:
    """Keep the transaction's running energy: the newest total import register reading, in Wh."""
    scale = {"": 1, "Wh": 1, "kWh": 1000}
    readings = [
        (row.timestamp, row.numeric_value * scale[row.unit])
        for row in rows
        if row.measurand in ("", ENERGY_REGISTER)
        and not row.phase
        and row.numeric_value is not None
        and row.unit in scale
    ]
    if not readings:
        return
    taken_at, value = max(readings, key=lambda reading: reading[0])
    Transaction.objects.filter(pk=transaction.pk).filter(
        Q(meter_latest_at__isnull=True) | Q(meter_latest_at__lte=taken_at)
    ).update(meter_latest=round(value), meter_latest_at=taken_at)


@transaction.atomic
def charger_event_record(
    *, charge_box: ChargeBox, kind: ChargerEventKind, payload: dict, timestamp: str | None = None
) -> ChargerEvent:
    """Keep a charger-initiated message as it came; status notifications also update the charger's status."""
    event = ChargerEvent.objects.create(
        charge_box=charge_box, kind=kind, payload=payload, timestamp=parse_charger_time(timestamp)
    )
    if kind in (ChargerEventKind.FIRMWARE_STATUS, ChargerEventKind.SIGNED_FIRMWARE_STATUS):
        ChargeBox.objects.filter(pk=charge_box.pk).update(firmware_status=payload.get("status", ""))
    elif kind == ChargerEventKind.DIAGNOSTICS_STATUS:
        ChargeBox.objects.filter(pk=charge_box.pk).update(diagnostics_status=payload.get("status", ""))
    return event


def data_transfer_receive(
    *, charge_box: ChargeBox, vendor_id: str, message_id: str | None = None, data: str | None = None
) -> DataTransferStatus:
    """DataTransfer: always stored; Accepted only for vendors listed in OCPP_DATA_TRANSFER_VENDORS."""
    charger_event_record(
        charge_box=charge_box,
        kind=ChargerEventKind.DATA_TRANSFER,
        payload={"vendorId": vendor_id, "messageId": message_id, "data": data},
    )
    if vendor_id in settings.OCPP_DATA_TRANSFER_VENDORS:
        return DataTransferStatus.accepted
    return DataTransferStatus.unknown_vendor_id


def _active_reservations(charge_box: ChargeBox):
    return Reservation.objects.filter(
        charge_box=charge_box, status=ReservationStatus.ACCEPTED, expiry__gt=timezone.now()
    ).select_related("ocpp_tag", "ocpp_tag__parent")


def _holds(reservation: Reservation, authorization: TagAuthorization) -> bool:
    """A reservation is for a tag, or for every tag under the same parent."""
    tag = authorization.ocpp_tag
    if tag is None:
        return False
    reserved = reservation.ocpp_tag
    return reserved.pk == tag.pk or (reserved.parent_id is not None and reserved.parent_id == tag.parent_id)


def _reserved_for_others(*, charge_box: ChargeBox, connector_id: int | None, authorization: TagAuthorization) -> bool:
    """Is the connector (None: every connector of the charger) held by a reservation of someone else?"""
    reservations = [r for r in _active_reservations(charge_box) if not _holds(r, authorization)]
    if not reservations:
        return False
    if any(r.connector_id == 0 for r in reservations):
        return True
    if connector_id is not None:
        return any(r.connector_id == connector_id for r in reservations)
    outlets = set(
        Connector.objects.filter(charge_box=charge_box, connector_id__gt=0).values_list("connector_id", flat=True)
    )
    return bool(outlets) and outlets <= {r.connector_id for r in reservations}


def _reservation_for_start(
    *, charge_box: ChargeBox, reservation_id: int | None, authorization: TagAuthorization
) -> Reservation | None:
    if reservation_id is None:
        return None
    reservation = _active_reservations(charge_box).filter(pk=reservation_id).first()
    if reservation is None or not _holds(reservation, authorization):
        return None
    return reservation
