"""What the central system does with each charger-initiated OCPP 1.6 message.

The consumer parses and answers; the decisions live here, in plain functions with keyword arguments that take
the snake_case payload the ocpp library hands over. They are safe to repeat: chargers resend after reconnects.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
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


# The frequent messages (MeterValues, StatusNotification, Heartbeat) write with plain SQL: composing the same
# statements with the ORM cost more CPU than the rest of the message handling together (tests/benchmarks/
# bench_ocpp.py). The statements use the models' own table and column names.


def _sql(statement: str, params: list) -> int:
    """Run one INSERT, UPDATE or DELETE on the thread's connection; returns the number of rows it touched."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def _exists(statement: str, params: list) -> bool:
    """Does the SELECT find a row? (SQLite reports no row count for SELECTs.)"""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone() is not None


def _db_time(value: datetime | None):
    return connection.ops.adapt_datetimefield_value(value)


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
    _sql(f"UPDATE {ChargeBox._meta.db_table} SET last_heartbeat_at = %s WHERE id = %s", [_db_time(now), charge_box.pk])
    return now


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
    """StatusNotification: a line of history, and the connector's current state (two statements, each committed
    on its own: the next notification corrects a lost update)."""
    now = _db_time(timezone.now())
    details = [info or "", vendor_id or "", vendor_error_code or ""]
    _sql(
        f"INSERT INTO {ConnectorStatus._meta.db_table} (charge_box_id, connector_id, status, error_code, info, "
        "vendor_id, vendor_error_code, timestamp, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [charge_box.pk, connector_id, status, error_code, *details, _db_time(parse_charger_time(timestamp)), now],
    )
    updated = _sql(
        f"UPDATE {Connector._meta.db_table} SET status = %s, error_code = %s, info = %s, vendor_id = %s, "
        "vendor_error_code = %s, status_updated_at = %s WHERE charge_box_id = %s AND connector_id = %s",
        [status, error_code, *details, now, charge_box.pk, connector_id],
    )
    if not updated:  # the charger's first word about this connector
        Connector.objects.create(
            charge_box=charge_box,
            connector_id=connector_id,
            status=status,
            error_code=error_code,
            status_updated_at=timezone.now(),
            info=details[0],
            vendor_id=details[1],
            vendor_error_code=details[2],
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
    charge. A start repeated after a reconnect (same charger, connector, tag, meter and time) gets the same id:
    the transaction's start is unique (ocpp_core_tx_start_once), so the INSERT finds the first one instead."""
    charger_time = parse_charger_time(timestamp)
    started_at = plausible_or_now(charger_time)
    authorization = tag_authorization(id_tag=id_tag, charge_box=charge_box)
    info = IdTagInfo.of(authorization)
    tx_table = Transaction._meta.db_table

    if started_at is not charger_time:
        # The charger's clock is unset (1970): its replay will carry the same nonsense time, not ours. It can only
        # be the session still running on that connector with that tag and meter reading.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, start_status FROM {tx_table} WHERE charge_box_id = %s AND connector_id = %s "
                "AND id_tag = %s AND meter_start = %s AND stopped_at IS NULL",
                [charge_box.pk, connector_id, id_tag, meter_start],
            )
            running = cursor.fetchone()
        if running is not None:
            return StartAnswer(running[0], IdTagInfo(running[1] or info.status, info.parent_id_tag, info.expiry_date))

    reservation = _reservation_for_start(
        charge_box=charge_box, reservation_id=reservation_id, authorization=authorization
    )
    if (
        info.status == AuthorizationStatus.accepted
        and reservation is None
        and _reserved_for_others(charge_box=charge_box, connector_id=connector_id, authorization=authorization)
    ):
        info = IdTagInfo(AuthorizationStatus.invalid)

    key = [charge_box.pk, connector_id, id_tag, meter_start, _db_time(started_at)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {tx_table} (charge_box_id, connector_id, id_tag, meter_start, started_at, ocpp_tag_id, "
            "start_status, reservation_id, stop_reason, stop_id_tag, stop_event_actor, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '', '', '', %s) "
            "ON CONFLICT (charge_box_id, connector_id, id_tag, meter_start, started_at) DO NOTHING RETURNING id",
            [
                *key,
                authorization.ocpp_tag.pk if authorization.ocpp_tag else None,
                info.status,
                reservation.pk if reservation else None,
                _db_time(timezone.now()),
            ],
        )
        created = cursor.fetchone()
        if created is None:  # a replay: answer with the first start's id and status
            cursor.execute(
                f"SELECT id, start_status FROM {tx_table} WHERE charge_box_id = %s AND connector_id = %s "
                "AND id_tag = %s AND meter_start = %s AND started_at = %s",
                key,
            )
            transaction_id, start_status = cursor.fetchone()
            return StartAnswer(transaction_id, IdTagInfo(start_status, info.parent_id_tag, info.expiry_date))
    if reservation is not None:
        Reservation.objects.filter(pk=reservation.pk).update(status=ReservationStatus.USED, updated_at=timezone.now())
    return StartAnswer(created[0], info)


@dataclass(frozen=True)
class StopAnswer:
    id_tag_info: IdTagInfo | None
    known: bool  # a transaction of this charger (stopped now, or before)


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
    tx_table = Transaction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {tx_table} SET stopped_at = %s, meter_stop = %s, stop_reason = %s, stop_id_tag = %s, "
            "stop_event_actor = %s WHERE id = %s AND charge_box_id = %s AND stopped_at IS NULL RETURNING connector_id",
            [
                _db_time(plausible_or_now(parse_charger_time(timestamp))),
                meter_stop,
                reason or "Local",
                id_tag or "",
                StopEventActor.STATION,
                transaction_id,
                charge_box.pk,
            ],
        )
        stopped = cursor.fetchone()
    if stopped is not None:
        if transaction_data:
            _store_meter_values(
                charge_box=charge_box,
                connector_id=stopped[0],
                transaction_id=transaction_id,
                meter_value=transaction_data,
            )
        return StopAnswer(_stop_id_tag_info(charge_box, id_tag), known=True)
    if _exists(f"SELECT 1 FROM {tx_table} WHERE id = %s AND charge_box_id = %s", [transaction_id, charge_box.pk]):
        return StopAnswer(_stop_id_tag_info(charge_box, id_tag), known=True)  # a replayed stop: nothing changes
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
    return StopAnswer(_stop_id_tag_info(charge_box, id_tag), known=False)


def _stop_id_tag_info(charge_box: ChargeBox, id_tag: str | None) -> IdTagInfo | None:
    return IdTagInfo.of(tag_authorization(id_tag=id_tag, charge_box=charge_box)) if id_tag else None


def meter_values_record(
    *, charge_box: ChargeBox, connector_id: int, meter_value: list, transaction_id: int | None = None
) -> int:
    """MeterValues: every sampled value, as sent. Returns how many were stored."""
    return _store_meter_values(
        charge_box=charge_box, connector_id=connector_id, transaction_id=transaction_id, meter_value=meter_value
    )


METER_VALUE_COLUMNS = (
    "charge_box_id",
    "connector_id",
    "transaction_id",
    "timestamp",
    "received_at",
    "value",
    "numeric_value",
    "measurand",
    "phase",
    "unit",
    "context",
    "location",
    "format",
)


def _store_meter_values(
    *, charge_box: ChargeBox, connector_id: int, transaction_id: int | None, meter_value: list
) -> int:
    """Two statements, each committed on its own (the values are what matters; the transaction's running energy
    is a convenience the next reading corrects): the rows, linked to the transaction only when it is this
    charger's, and the transaction's newest energy register reading in Wh."""
    now = _db_time(timezone.now())
    rows, energy = [], []
    for reading in meter_value:
        taken_at = plausible_or_now(parse_charger_time(reading.get("timestamp")))
        for sample in reading.get("sampled_value") or []:
            number = _number(sample)
            measurand, phase, unit = sample.get("measurand") or "", sample.get("phase") or "", sample.get("unit") or ""
            rows.append(
                [
                    charge_box.pk,
                    connector_id,
                    transaction_id,
                    charge_box.pk,
                    _db_time(taken_at),
                    now,
                    sample["value"],
                    number,
                    measurand,
                    phase,
                    unit,
                    sample.get("context") or "",
                    sample.get("location") or "",
                    sample.get("format") or "",
                ]
            )
            if measurand in ("", ENERGY_REGISTER) and not phase and number is not None and unit in ENERGY_SCALE:
                energy.append((taken_at, number * ENERGY_SCALE[unit]))
    if rows:
        # One multi-row INSERT: a charger sends the same measurands each time, so the statement's text repeats
        # and psycopg parses (and PostgreSQL plans) it once. Another charger's transaction id links to nothing.
        row = f"(%s, %s, (SELECT id FROM {Transaction._meta.db_table} WHERE id = %s AND charge_box_id = %s), " + (
            ", ".join(["%s"] * (len(METER_VALUE_COLUMNS) - 3)) + ")"
        )
        _sql(
            f"INSERT INTO {MeterValue._meta.db_table} ({', '.join(METER_VALUE_COLUMNS)}) "
            f"VALUES {', '.join([row] * len(rows))}",
            [value for values in rows for value in values],
        )
    if transaction_id is not None and energy:
        taken_at, value = max(energy, key=lambda reading: reading[0])
        _sql(
            f"UPDATE {Transaction._meta.db_table} SET meter_latest = %s, meter_latest_at = %s "
            "WHERE id = %s AND charge_box_id = %s AND (meter_latest_at IS NULL OR meter_latest_at <= %s)",
            [round(value), _db_time(taken_at), transaction_id, charge_box.pk, _db_time(taken_at)],
        )
    return len(rows)


ENERGY_SCALE = {"": 1, "Wh": 1, "kWh": 1000}


def _number(sample: dict) -> float | None:
    if sample.get("format") == "SignedData":
        return None
    try:
        return float(sample["value"])
    except (TypeError, ValueError):
        return None


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
    if not authorization.station_has_reservations:  # the usual case, known from the authorization query
        return False
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
