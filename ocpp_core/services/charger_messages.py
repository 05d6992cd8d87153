"""What the central system does with each charger-initiated OCPP 1.6 message.

The consumer parses and answers; the decisions live here, in functions with keyword arguments that take the
snake_case payload the ocpp library hands over. They are safe to repeat: chargers resend after reconnects.

The frequent messages (Heartbeat, StatusNotification, MeterValues, Authorize, Start/StopTransaction) are async and
speak SQL through `db` (ocpp_core.db: psycopg's async pool on PostgreSQL, one thread on SQLite), one statement per
fact: composing them with the ORM in a thread cost several times the CPU of everything else a message needs
(tests/benchmarks/bench_ocpp.py). Those that only write hand their statements to `OcppDatabase.write` (committed
with other chargers' writes); those that read and decide get a session of `Statements`. The rare ones
(notifications kept as events, reservations) are plain ORM functions the consumer runs with ocpp_db().
BootNotification and the connection's own record are rare for one charger but come all at once in a reconnect
storm, so they are SQL through `db` as well.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from ocpp.v16.enums import AuthorizationStatus, ChargePointStatus, DataTransferStatus, RegistrationStatus

from permissions.selectors import TagAuthorization, authorization_from_row, authorization_statement
from priority.services.priorities import connector_unplug_statements
from roaming.services.charger_roaming import roaming_concerns, roaming_concerns_known
from roaming.services.evse_events import evse_change_statements
from roaming.services.realtime_authorization import (
    REALTIME_TIMEOUT_SECONDS,
    ask_emsp,
    partner_token_statement,
    unreachable_emsp_status,
)
from roaming.services.session_events import session_change_statements

from ..choices import ChargerEventKind, ReservationStatus, StopEventActor
from ..db import OcppDatabase, Statement, Statements, ocpp_db
from ..hooks import app_statements_committed
from ..models import (
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

BOOT_FIELDS = (
    "charge_point_vendor",
    "charge_point_model",
    "charge_point_serial_number",
    "charge_box_serial_number",
    "firmware_version",
    "iccid",
    "imsi",
    "meter_type",
    "meter_serial_number",
)
_BOOT_FIELD_LENGTHS = {field: ChargeBox._meta.get_field(field).max_length for field in BOOT_FIELDS}
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


@dataclass(frozen=True)
class IdTagInfo:
    """OCPP's idTagInfo: the answer about a tag at Authorize, StartTransaction and StopTransaction."""

    status: AuthorizationStatus
    parent_id_tag: str | None = None
    expiry_date: datetime | None = None

    @classmethod
    def of(cls, authorization: TagAuthorization) -> "IdTagInfo":
        return cls(authorization.status, authorization.parent_id_tag, authorization.expiry_date)


# Rare messages: the ORM, in a thread (ocpp_db)


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


def reserved_for_others(*, charge_box: ChargeBox, connector_id: int | None, authorization: TagAuthorization) -> bool:
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


def reservation_for_start(*, charge_box: ChargeBox, reservation_id: int, authorization: TagAuthorization) -> int | None:
    """The id of the reservation a start may use: active, at this charger, held for this tag (or its parent)."""
    reservation = _active_reservations(charge_box).filter(pk=reservation_id).first()
    return reservation.pk if reservation is not None and _holds(reservation, authorization) else None


def reservation_used(*, reservation_id: int) -> None:
    Reservation.objects.filter(pk=reservation_id).update(status=ReservationStatus.USED, updated_at=timezone.now())


def unknown_stop_record(*, charge_box: ChargeBox, **stop) -> None:
    logger.warning("%s stopped unknown transaction %s", charge_box.charge_box_id, stop["transactionId"])
    ChargerEvent.objects.create(
        charge_box=charge_box,
        kind=ChargerEventKind.UNKNOWN_STOP_TRANSACTION,
        payload=stop,
        timestamp=parse_charger_time(stop["timestamp"]),
    )


def _active_reservations(charge_box: ChargeBox):
    return Reservation.objects.filter(
        charge_box=charge_box, status=ReservationStatus.ACCEPTED, expiry__gt=timezone.now()
    ).select_related("ocpp_tag")


def _holds(reservation: Reservation, authorization: TagAuthorization) -> bool:
    """A reservation is for a tag, or for every tag under the same parent."""
    tag = authorization.ocpp_tag
    if tag is None:
        return False
    reserved = reservation.ocpp_tag
    return reserved.pk == tag.pk or (reserved.parent_id is not None and reserved.parent_id == tag.parent_id)


# Frequent messages: SQL through `db`


async def charger_connected(*, db: OcppDatabase, charge_box: ChargeBox, connection_id: str, protocol: str) -> None:
    """Mark the charger connected through this socket (a newer socket of the same charger takes over). Its EVSEs,
    if published over OCPI, are online again for partners. Group-committed: a reconnect storm commits its
    connections together instead of one transaction each."""
    connected = (
        f"UPDATE {ChargeBox._meta.db_table} SET is_connected = %s, connection_id = %s, connected_at = %s, "
        "ocpp_protocol = %s WHERE id = %s",
        [True, connection_id, timezone.now(), protocol, charge_box.pk],
    )
    roaming = partial(evse_change_statements, charge_box_pk=charge_box.pk)
    await _write_with_roaming(db, charge_box, [connected], roaming)


@dataclass(frozen=True)
class BootAnswer:
    status: RegistrationStatus
    interval: int
    current_time: datetime


async def charger_boot(*, db: Statements, charge_box: ChargeBox, **payload) -> BootAnswer:
    """BootNotification: remember what the charger says about itself; answer with its registration status (one
    statement: a reconnect storm is all boots)."""
    now = timezone.now()
    fields = {field: (payload.get(field) or "")[: _BOOT_FIELD_LENGTHS[field]] for field in BOOT_FIELDS}
    row = await db.fetchone(
        f"UPDATE {ChargeBox._meta.db_table} SET {', '.join(f'{field} = %s' for field in BOOT_FIELDS)}, "
        "last_boot_at = %s, last_heartbeat_at = %s WHERE id = %s RETURNING registration_status, heartbeat_interval",
        [*fields.values(), now, now, charge_box.pk],
    )
    if row is None:
        raise ChargeBox.DoesNotExist(f"Charge box {charge_box.charge_box_id} was deleted")
    charge_box.registration_status, charge_box.heartbeat_interval = row
    for field, value in fields.items():
        setattr(charge_box, field, value)
    charge_box.last_boot_at = now
    return BootAnswer(RegistrationStatus(charge_box.registration_status), charge_box.heartbeat_interval, now)


async def charger_heartbeat(*, db: OcppDatabase, charge_box: ChargeBox) -> datetime:
    now = timezone.now()
    await db.write(
        (f"UPDATE {ChargeBox._meta.db_table} SET last_heartbeat_at = %s WHERE id = %s", [now, charge_box.pk])
    )
    return now


async def connector_status_report(
    *,
    db: OcppDatabase,
    charge_box: ChargeBox,
    connector_id: int,
    status: str,
    error_code: str,
    info: str | None = None,
    timestamp: str | None = None,
    vendor_id: str | None = None,
    vendor_error_code: str | None = None,
) -> None:
    """StatusNotification: a line of history, and the connector's current state. An outlet that reports Available
    has been unplugged: its user priority goes back to 0 (API.md, Priorities)."""
    now = timezone.now()
    details = [info or "", vendor_id or "", vendor_error_code or ""]
    history = (
        f"INSERT INTO {ConnectorStatus._meta.db_table} (charge_box_id, connector_id, status, error_code, info, "
        "vendor_id, vendor_error_code, timestamp, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [charge_box.pk, connector_id, status, error_code, *details, parse_charger_time(timestamp), now],
    )
    current = (
        f"INSERT INTO {Connector._meta.db_table} (charge_box_id, connector_id, status, error_code, info, vendor_id, "
        "vendor_error_code, status_updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (charge_box_id, connector_id) DO UPDATE SET status = excluded.status, "
        "error_code = excluded.error_code, info = excluded.info, vendor_id = excluded.vendor_id, "
        "vendor_error_code = excluded.vendor_error_code, status_updated_at = excluded.status_updated_at",
        [charge_box.pk, connector_id, status, error_code, *details, now],
    )
    # The unplug reset reads the connector's row, so it comes after the upsert that creates (and locks) it.
    unplugged = []
    if status == ChargePointStatus.available and connector_id > 0:
        unplugged = connector_unplug_statements(
            charge_box_pk=charge_box.pk, connector_id=connector_id, at=now, lock_row=False
        )
    # Published over OCPI: the EVSE's partners get its new status (roaming.services.evse_events).
    roaming = partial(evse_change_statements, charge_box_pk=charge_box.pk, connector_id=connector_id)
    await _write_with_roaming(db, charge_box, [history, current, *unplugged], roaming if connector_id else None)


async def tag_authorization_of(*, db: Statements, charge_box: ChargeBox, id_tag: str) -> TagAuthorization:
    """The permission resolver's one statement (permissions.selectors), on the consumer's database path."""
    sql, params = authorization_statement(id_tag=id_tag, charge_box=charge_box)
    return authorization_from_row(await db.fetchone(sql, params))


@dataclass(frozen=True)
class LocalAuthorization:
    """Authorize as our own data answers it; a roaming partner's token may still have to be put to its eMSP
    (authorize_in_real_time), after the database session is given back."""

    info: IdTagInfo
    partner_token_pk: int | None = None
    whitelist: str = ""


async def authorize(*, db: Statements, charge_box: ChargeBox, id_tag: str) -> LocalAuthorization:
    """Authorize: the permission resolver's answer, unless every connector is reserved for someone else; a partner's
    token accepted here is marked to be put to its eMSP when its whitelist asks for it."""
    authorization = await tag_authorization_of(db=db, charge_box=charge_box, id_tag=id_tag)
    if authorization.status != AuthorizationStatus.accepted:
        return LocalAuthorization(IdTagInfo.of(authorization))
    if authorization.station_has_reservations and await ocpp_db(reserved_for_others)(
        charge_box=charge_box, connector_id=None, authorization=authorization
    ):
        return LocalAuthorization(IdTagInfo(AuthorizationStatus.invalid))
    partner_token = None
    if await roaming_concerns(charge_box_pk=charge_box.pk):
        partner_token = await db.fetchone(*partner_token_statement(ocpp_tag_pk=authorization.ocpp_tag.pk))
    if partner_token is None:
        return LocalAuthorization(IdTagInfo.of(authorization))
    return LocalAuthorization(
        IdTagInfo.of(authorization), partner_token_pk=partner_token[0], whitelist=partner_token[1]
    )


async def authorize_in_real_time(*, local: LocalAuthorization, charge_box: ChargeBox) -> IdTagInfo:
    """The eMSP's answer about its token, when it is to be asked: an HTTP call in a thread of the OCPP pool, with no
    database session held, bounded so the charger's own timeout is never reached. An eMSP that does not answer in
    time (or anything going wrong on the way) counts as unreachable: the token's whitelist decides."""
    if local.partner_token_pk is None:
        return local.info
    try:
        status = await asyncio.wait_for(
            ocpp_db(ask_emsp)(partner_token_pk=local.partner_token_pk, charge_box=charge_box),
            REALTIME_TIMEOUT_SECONDS + 1,
        )
    except Exception:
        logger.warning("Real-time authorization of partner token %s failed", local.partner_token_pk, exc_info=True)
        status = unreachable_emsp_status(local.whitelist)
    if status == AuthorizationStatus.accepted:
        return local.info
    return IdTagInfo(status, local.info.parent_id_tag, local.info.expiry_date)


@dataclass(frozen=True)
class StartAnswer:
    transaction_id: int
    id_tag_info: IdTagInfo


async def transaction_start(
    *,
    db: Statements,
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
    authorization = await tag_authorization_of(db=db, charge_box=charge_box, id_tag=id_tag)
    info = IdTagInfo.of(authorization)
    tx_table = Transaction._meta.db_table

    if started_at is not charger_time:
        # The charger's clock is unset (1970): its replay will carry the same nonsense time, not ours. It can only
        # be the session still running on that connector with that tag and meter reading.
        running = await db.fetchone(
            f"SELECT id, start_status FROM {tx_table} WHERE charge_box_id = %s AND connector_id = %s "
            "AND id_tag = %s AND meter_start = %s AND stopped_at IS NULL",
            [charge_box.pk, connector_id, id_tag, meter_start],
        )
        if running is not None:
            return StartAnswer(running[0], IdTagInfo(running[1] or info.status, info.parent_id_tag, info.expiry_date))

    reservation = None
    if reservation_id is not None and authorization.ocpp_tag is not None:
        reservation = await ocpp_db(reservation_for_start)(
            charge_box=charge_box, reservation_id=reservation_id, authorization=authorization
        )
    if (
        info.status == AuthorizationStatus.accepted
        and reservation is None
        and authorization.station_has_reservations
        and await ocpp_db(reserved_for_others)(
            charge_box=charge_box, connector_id=connector_id, authorization=authorization
        )
    ):
        info = IdTagInfo(AuthorizationStatus.invalid)

    key = [charge_box.pk, connector_id, id_tag, meter_start, started_at]
    roaming = authorization.ocpp_tag is not None and await roaming_concerns(charge_box_pk=charge_box.pk)
    insert = (
        f"INSERT INTO {tx_table} (charge_box_id, connector_id, id_tag, meter_start, started_at, ocpp_tag_id, "
        "start_status, reservation_id, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (charge_box_id, connector_id, id_tag, meter_start, started_at) DO NOTHING RETURNING id",
        [*key, authorization.ocpp_tag.pk if authorization.ocpp_tag else None, info.status, reservation, timezone.now()],
    )
    if not roaming:
        created = await db.fetchone(*insert)  # one statement: its own transaction
    else:
        async with db.pipeline(), db.transaction():  # the session and its push to the eMSP (roaming)
            created = await db.fetchone(*insert)
            if created is not None:
                for statement in session_change_statements(transaction_id=created[0]):
                    await db.execute(*statement)
        if created is not None:
            app_statements_committed()  # the session's PUT, now committed
    if created is None:  # a replay: answer with the first start's id and status
        transaction_id, start_status = await db.fetchone(
            f"SELECT id, start_status FROM {tx_table} WHERE charge_box_id = %s AND connector_id = %s "
            "AND id_tag = %s AND meter_start = %s AND started_at = %s",
            key,
        )
        return StartAnswer(transaction_id, IdTagInfo(start_status, info.parent_id_tag, info.expiry_date))
    if reservation is not None:
        await ocpp_db(reservation_used)(reservation_id=reservation)
    return StartAnswer(created[0], info)


async def transaction_stop(
    *,
    db: Statements,
    charge_box: ChargeBox,
    transaction_id: int,
    meter_stop: int,
    timestamp: str,
    id_tag: str | None = None,
    reason: str | None = None,
    transaction_data: list | None = None,
) -> IdTagInfo | None:
    """StopTransaction. An id we never issued (chargers send -1 and replays) is acknowledged and kept as an event,
    never applied to another transaction; a repeated stop changes nothing. The idTagInfo is judged with this
    session already ended, so the tag's own session does not count against its concurrency limit. The stopped
    session's connector goes back to user priority 0 (API.md, Priorities), in the same transaction."""
    tx_table = Transaction._meta.db_table
    roaming = await roaming_concerns(charge_box_pk=charge_box.pk)
    # The stop and the readings it carries are stored together: a charger that is not answered sends the stop
    # again, and then finds the transaction still open instead of ended without its readings. Pipelined: the
    # statements after the stop need only its connector id, so the whole transaction is two round trips.
    async with db.pipeline(), db.transaction():
        stopped = await db.fetchone(
            f"UPDATE {tx_table} SET stopped_at = %s, meter_stop = %s, stop_reason = %s, stop_id_tag = %s, "
            "stop_event_actor = %s WHERE id = %s AND charge_box_id = %s AND stopped_at IS NULL RETURNING connector_id",
            [
                plausible_or_now(parse_charger_time(timestamp)),
                meter_stop,
                reason or "Local",
                id_tag or "",
                StopEventActor.STATION,
                transaction_id,
                charge_box.pk,
            ],
        )
        if stopped is not None:
            readings = meter_values_statement(
                charge_box=charge_box,
                connector_id=stopped[0],
                transaction_id=transaction_id,
                meter_value=transaction_data,
            )
            if readings is not None:
                await db.execute(*readings)
            for unplug in connector_unplug_statements(
                charge_box_pk=charge_box.pk, connector_id=stopped[0], at=timezone.now(), lock_row=True
            ):
                await db.execute(*unplug)
            if roaming:
                for statement in session_change_statements(transaction_id=transaction_id, stopped=True):
                    await db.execute(*statement)
    if stopped is not None and roaming:
        app_statements_committed()  # the session's last PUT and its CDR, now committed
    if stopped is None and not await db.fetchone(
        f"SELECT 1 FROM {tx_table} WHERE id = %s AND charge_box_id = %s", [transaction_id, charge_box.pk]
    ):
        await ocpp_db(unknown_stop_record)(
            charge_box=charge_box,
            transactionId=transaction_id,
            meterStop=meter_stop,
            timestamp=timestamp,
            idTag=id_tag,
            reason=reason,
            transactionData=transaction_data or [],
        )
    if not id_tag:
        return None
    return IdTagInfo.of(await tag_authorization_of(db=db, charge_box=charge_box, id_tag=id_tag))


async def meter_values_record(
    *, db: OcppDatabase, charge_box: ChargeBox, connector_id: int, meter_value: list, transaction_id: int | None = None
) -> None:
    """MeterValues: every sampled value, as sent."""
    readings = meter_values_statement(
        charge_box=charge_box, connector_id=connector_id, transaction_id=transaction_id, meter_value=meter_value
    )
    if readings is not None:
        # A roaming session's energy changed: its eMSP gets the session again (roaming.services.session_events).
        roaming = partial(session_change_statements, transaction_id=transaction_id)
        await _write_with_roaming(db, charge_box, [readings], roaming if transaction_id is not None else None)


async def _write_with_roaming(
    db: OcppDatabase, charge_box: ChargeBox, statements: list[Statement], roaming: Callable[[], list] | None
) -> None:
    """db.write() of a message's statements, with `roaming()`'s where roaming concerns the charger at all
    (roaming.services.charger_roaming). Where that is not known yet, the look-up and the write run in a task of
    their own: a charger that goes away meanwhile still has its write kept, as db.write() promises."""
    known = None if roaming is None else roaming_concerns_known(charge_box_pk=charge_box.pk)
    if roaming is None or known is False:
        await db.write(*statements)
    elif known:
        await db.write(*statements, *roaming())
        app_statements_committed()  # what the roaming statements queued is committed
    else:

        async def look_up_and_write():
            concerned = await roaming_concerns(charge_box_pk=charge_box.pk)
            await db.write(*statements, *(roaming() if concerned else []))
            if concerned:
                app_statements_committed()

        write = asyncio.ensure_future(look_up_and_write())
        write.add_done_callback(lambda done: done.cancelled() or done.exception())  # retrieved, if nobody waits
        await asyncio.shield(write)


def meter_values_statement(
    *, charge_box: ChargeBox, connector_id: int, transaction_id: int | None, meter_value: list | None
) -> Statement | None:
    """One INSERT for every sampled value of the readings (None if there are none), linked to the transaction only
    when it is this charger's."""
    now = timezone.now()
    rows = []
    for reading in meter_value or []:
        taken_at = plausible_or_now(parse_charger_time(reading.get("timestamp")), now)
        for sample in reading.get("sampled_value") or []:
            number = _number(sample)
            measurand, phase, unit = sample.get("measurand") or "", sample.get("phase") or "", sample.get("unit") or ""
            rows.append(
                [
                    charge_box.pk,
                    connector_id,
                    transaction_id,
                    charge_box.pk,
                    taken_at,
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
    if not rows:
        return None
    # One multi-row INSERT: a charger sends the same measurands each time, so the statement's text repeats and is
    # prepared once. Another charger's transaction id links to nothing.
    row = f"(%s, %s, (SELECT id FROM {Transaction._meta.db_table} WHERE id = %s AND charge_box_id = %s), " + (
        ", ".join(["%s"] * (len(METER_VALUE_COLUMNS) - 3)) + ")"
    )
    columns = ", ".join(METER_VALUE_COLUMNS)
    return (
        f"INSERT INTO {MeterValue._meta.db_table} ({columns}) VALUES {', '.join([row] * len(rows))}",
        [value for values in rows for value in values],
    )


def _number(sample: dict) -> float | None:
    if sample.get("format") == "SignedData":
        return None
    try:
        return float(sample["value"])
    except (TypeError, ValueError):
        return None
