"""The OCPP 1.6J central system for one connected charger: the ocpp library's ChargePoint, with OCPP-J framing
and errors as the specification has them (ocpp_j.py), every frame logged, and thin handlers that call services."""

import json
import logging
import re
import time
from functools import cache

from django.conf import settings
from ocpp.charge_point import (
    camel_to_snake_case,
    remove_nones,
    serialize_as_dict,
    snake_to_camel_case,
)
from ocpp.exceptions import OCPPError, SecurityError
from ocpp.messages import Call, CallError, CallResult
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action, GenericStatus, RegistrationStatus

from priority.services.load_triggers import load_triggers

from .choices import ChargerEventKind, MessageDirection
from .db import ocpp_database, ocpp_db
from .models import ChargeBox
from .ocpp_j import FrameError, check_call, parse_frame, pending_call
from .ocpp_library import LibraryChargePoint
from .secret_masking import masked_frame, received_frame_to_keep
from .services import charger_messages
from .services.message_log import message_log
from .timestamps import ocpp_time

logger = logging.getLogger(__name__)

_FRAME_HEAD = re.compile(r'^\[(?P<type>[234]),"(?P<id>(?:[^"\\]|\\.)*)"(?:,"(?P<action>\w+)")?')

# What a charger may send before the central system accepted it (OCPP 1.6, 4.2.1: a Pending or Rejected charger
# sends BootNotification until it is accepted).
ALLOWED_BEFORE_ACCEPTANCE = frozenset({Action.boot_notification})


@cache
def _snake_case_key(key: str) -> str:
    return camel_to_snake_case({key: None}).popitem()[0]


def _snake_case_keys(data):
    """The library's camel_to_snake_case, with each key's conversion remembered (OCPP has a few hundred keys)."""
    if isinstance(data, dict):
        return {_snake_case_key(key): _snake_case_keys(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_snake_case_keys(value) for value in data]
    return data


def _id_tag_info(info: charger_messages.IdTagInfo | None) -> dict | None:
    if info is None:
        return None
    return {
        "status": info.status,
        "parent_id_tag": info.parent_id_tag,
        "expiry_date": ocpp_time(info.expiry_date) if info.expiry_date else None,
    }


def _current_drawn(meter_value) -> float | None:
    """The highest Current.Import of a MeterValues request (amps per phase), None if it has none."""
    drawn = None
    for reading in meter_value or []:
        for sample in reading.get("sampledValue") or []:
            if sample.get("measurand") == "Current.Import":
                try:
                    amps = float(sample["value"]) / (1000 if sample.get("unit") == "mA" else 1)
                except (KeyError, TypeError, ValueError):
                    continue
                drawn = amps if drawn is None else max(drawn, amps)
    return drawn


class ChargerSession(LibraryChargePoint):
    """One charger's OCPP 1.6J conversation. The consumer hands frames to receive(); `connection` offers
    `send(text)` (the consumer)."""

    _ocpp_version = "1.6"
    _call_result = call_result

    def __init__(self, charge_box: ChargeBox, connection):
        super().__init__(charge_box.charge_box_id, connection, response_timeout=settings.OCPP_CALL_TIMEOUT)
        self.charge_box = charge_box
        self.database = ocpp_database()
        self._triggered_until: dict[str, float] = {}  # action -> time.monotonic() until which it may come
        self._statuses: dict[int, str] = {}  # connector id -> the last status (load management reacts to changes)
        self.load_limits: dict[int, float] = {}  # connector id -> the amps the site's allocation assumes
        self._last_periodic_load = time.monotonic()
        self.load_triggers = load_triggers()
        # message id -> secrets our CALL carried: the charger's answer may echo them (a CALLERROR's details)
        self._secrets_of_calls: dict[str, tuple[str, ...]] = {}
        self._awaited_answer_id: str | None = None  # the id of the CALL we sent and await the answer to
        self._unmatched_answer_logged = False

    async def receive(self, raw: str) -> None:
        """Serve one frame. One that breaks something unexpected is logged and the conversation goes on: a bad
        frame must not silence a charger."""
        try:
            await self.route_message(raw)
        except Exception:
            logger.exception("%s: could not handle %.200s", self.id, self._frame_to_keep(raw))

    # Framing, errors and the log

    async def route_message(self, raw_msg):
        try:
            message = parse_frame(raw_msg)
        except FrameError as error:
            self._log_in(raw_msg)
            await self._send(error.call_error().to_json())
            return
        kept = self._log_in(raw_msg, message)
        if not isinstance(message, Call):
            if kept is not raw_msg:  # a secret the answer carried goes no further than the log (nor into its logs)
                message = parse_frame(kept)
            self._answer_received(message)
            return
        try:
            check_call(message)
            self._check_registration(message)
        except OCPPError as error:
            await self._send(message.create_call_error(error).to_json())
            return
        await self._answer(message)

    def _answer_received(self, answer: CallResult | CallError) -> None:
        """Hand the answer to the call awaiting it (ChargePoint.call). The library keeps every answer in its queue
        until a call takes one: answers to calls we never sent, or no longer await (timed out, answered already),
        would stay there for the socket's life, so they are dropped (they are in the message log), and said so once
        per socket rather than per frame."""
        if answer.unique_id == self._awaited_answer_id and self.awaiting_answer():
            self._awaited_answer_id = None
            self.answer_arrived(answer)
        elif not self._unmatched_answer_logged:
            self._unmatched_answer_logged = True
            logger.warning(
                "%s sends answers to calls it was not sent or that no longer wait (first: id %.40r); they are dropped, "
                "and not reported again for this connection",
                self.id,
                answer.unique_id,
            )

    async def _answer(self, call: Call) -> None:
        """Run the action's @on handler and send its answer (a CALLERROR InternalError if it fails).

        The library's _handle_call does the same, and also inspects every handler's signature and converts every
        key with regular expressions on every message; at a thousand messages a second that was a tenth of the
        server's CPU (tests/benchmarks/bench_ocpp.py). Our handlers take the snake_case payload, nothing else."""
        handler = self.handler_for(call.action)
        try:
            result = await handler(**_snake_case_keys(call.payload))
        except Exception as error:
            logger.exception("%s: %s failed", self.id, call.action)
            await self._send(call.create_call_error(error).to_json())
            return
        payload = snake_to_camel_case(remove_nones(serialize_as_dict(result)))
        await self._send(call.create_call_result(payload).to_json())
        self._load_after(call, payload)

    # Load management: the events that change what a site draws ask for a recompute, after the answer went out
    # (a TxProfile names the transaction id the charger learns from it).

    def _load_after(self, call: Call, answer: dict) -> None:
        if self.charge_box.node_id is None:
            return
        action, request = call.action, call.payload
        if action in (Action.start_transaction, Action.stop_transaction):
            self.load_changed(action)
        elif action == Action.boot_notification and answer.get("status") == RegistrationStatus.accepted:
            self.load_changed("boot")
        elif action == Action.status_notification:
            connector_id, status = request.get("connectorId"), request.get("status")
            if self._statuses.get(connector_id) != status:
                self._statuses[connector_id] = status
                self.load_changed(f"status {status}")
        elif action == Action.heartbeat and settings.CELERY_TASK_ALWAYS_EAGER:
            # Without a worker there is no Celery beat: heartbeats renew the profiles' leases instead.
            if time.monotonic() - self._last_periodic_load >= settings.LOAD_REBALANCE_INTERVAL_SECONDS:
                self._last_periodic_load = time.monotonic()
                self.load_changed("heartbeat")
        elif action == Action.meter_values:
            # Compared with what the site's allocation assumes of this connector: the limit it accepted, or, for
            # a charger we do not steer, the draw it was last counted with.
            connector_id, drawn = request.get("connectorId"), _current_drawn(request.get("meterValue"))
            assumed = self.load_limits.get(connector_id)
            if drawn is not None and (assumed is None or abs(drawn - assumed) > settings.LOAD_HEADROOM_AMPS):
                self.load_limits[connector_id] = drawn
                self.load_changed("meter values deviate")

    def load_changed(self, reason: str) -> None:
        """Ask for a recompute of this charger's site, if it is managed, without holding up its messages."""
        self.load_triggers.charger_load_changed(charge_box_pk=self.charge_box.pk, reason=f"{self.id}: {reason}")

    def _check_registration(self, message: Call) -> None:
        status = self.charge_box.registration_status
        if status == RegistrationStatus.accepted or message.action in ALLOWED_BEFORE_ACCEPTANCE:
            return
        if status == RegistrationStatus.pending and self._triggered_until.get(message.action, 0) > time.monotonic():
            return  # OCPP 1.6, 4.2.1: a Pending charger sends what the central system asked for by TriggerMessage
        raise SecurityError(
            description=f"Registration status is {status}: only BootNotification is accepted until Accepted."
        )

    def expect_triggered(self, action: str) -> None:
        """The charger accepted a TriggerMessage for `action`: it may send that message for a while, even
        before its registration is accepted."""
        self._triggered_until[action] = time.monotonic() + settings.OCPP_CALL_TIMEOUT

    async def _send(self, message: str):
        # Frames we send were made by json.dumps from [type, id, ...]: their head names type, id and action.
        head = _FRAME_HEAD.match(message)
        pending = pending_call.get(None) if head and head["type"] == "2" else None
        unique_id = json.loads(f'"{head["id"]}"') if head else ""
        message_log.record(
            charge_box_pk=self.charge_box.pk,
            direction=MessageDirection.SENT,
            frame=masked_frame(message, pending.secrets) if pending is not None else message,
            message_type=int(head["type"]) if head else None,
            unique_id=unique_id,
            action=(head["action"] or "") if head and head["type"] == "2" else "",
        )
        if pending is not None:
            pending.mark_sent()
            if pending.secrets:
                self._secrets_of_calls[unique_id] = pending.secrets
        if head and head["type"] == "2":
            self._awaited_answer_id = unique_id
        await self.send_text(message)

    def _log_in(self, raw: str, message=None) -> str:
        """Log a received frame; returns it as kept (the same string unless a secret was masked)."""
        kept = self._frame_to_keep(raw, message)
        message_log.record(
            charge_box_pk=self.charge_box.pk,
            direction=MessageDirection.RECEIVED,
            frame=kept,
            message_type=getattr(message, "message_type_id", None),
            unique_id=getattr(message, "unique_id", ""),
            action=message.action if isinstance(message, Call) else "",
        )
        return kept

    def _frame_to_keep(self, raw: str, message=None) -> str:
        """A received frame as the log may keep it: secret configuration values masked, and in the answer to a
        call of ours that carried a secret, that secret wherever the charger echoed it."""
        frame = received_frame_to_keep(raw)
        if self._secrets_of_calls:
            if message is not None and not isinstance(message, Call):
                secrets = self._secrets_of_calls.pop(message.unique_id, ())
            else:  # a frame that could not be read: any secret still out
                secrets = [secret for secrets in self._secrets_of_calls.values() for secret in secrets]
            frame = masked_frame(frame, secrets)
        return frame

    # Charger-initiated messages. Payloads were checked against the schema in route_message.

    @on(Action.boot_notification, skip_schema_validation=True)
    async def on_boot_notification(self, **payload):
        async with self.database.session() as db:
            answer = await charger_messages.charger_boot(db=db, charge_box=self.charge_box, **payload)
        return call_result.BootNotification(
            current_time=ocpp_time(answer.current_time), interval=answer.interval, status=answer.status
        )

    @on(Action.heartbeat, skip_schema_validation=True)
    async def on_heartbeat(self):
        now = await charger_messages.charger_heartbeat(db=self.database, charge_box=self.charge_box)
        return call_result.Heartbeat(current_time=ocpp_time(now))

    @on(Action.status_notification, skip_schema_validation=True)
    async def on_status_notification(self, **payload):
        await charger_messages.connector_status_report(db=self.database, charge_box=self.charge_box, **payload)
        return call_result.StatusNotification()

    @on(Action.authorize, skip_schema_validation=True)
    async def on_authorize(self, id_tag):
        async with self.database.session() as db:
            local = await charger_messages.authorize(db=db, charge_box=self.charge_box, id_tag=id_tag)
        info = await charger_messages.authorize_in_real_time(local=local, charge_box=self.charge_box)
        return call_result.Authorize(id_tag_info=_id_tag_info(info))

    @on(Action.start_transaction, skip_schema_validation=True)
    async def on_start_transaction(self, **payload):
        async with self.database.session() as db:
            answer = await charger_messages.transaction_start(db=db, charge_box=self.charge_box, **payload)
        return call_result.StartTransaction(
            transaction_id=answer.transaction_id, id_tag_info=_id_tag_info(answer.id_tag_info)
        )

    @on(Action.stop_transaction, skip_schema_validation=True)
    async def on_stop_transaction(self, **payload):
        async with self.database.session() as db:
            info = await charger_messages.transaction_stop(db=db, charge_box=self.charge_box, **payload)
        return call_result.StopTransaction(id_tag_info=_id_tag_info(info))

    @on(Action.meter_values, skip_schema_validation=True)
    async def on_meter_values(self, **payload):
        await charger_messages.meter_values_record(db=self.database, charge_box=self.charge_box, **payload)
        return call_result.MeterValues()

    @on(Action.data_transfer, skip_schema_validation=True)
    async def on_data_transfer(self, **payload):
        status = await ocpp_db(charger_messages.data_transfer_receive)(charge_box=self.charge_box, **payload)
        return call_result.DataTransfer(status=status)

    @on(Action.diagnostics_status_notification, skip_schema_validation=True)
    async def on_diagnostics_status_notification(self, **payload):
        await self._record(ChargerEventKind.DIAGNOSTICS_STATUS, payload)
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification, skip_schema_validation=True)
    async def on_firmware_status_notification(self, **payload):
        await self._record(ChargerEventKind.FIRMWARE_STATUS, payload)
        return call_result.FirmwareStatusNotification()

    @on(Action.security_event_notification, skip_schema_validation=True)
    async def on_security_event_notification(self, **payload):
        await self._record(ChargerEventKind.SECURITY_EVENT, payload, payload.get("timestamp"))
        return call_result.SecurityEventNotification()

    @on(Action.sign_certificate, skip_schema_validation=True)
    async def on_sign_certificate(self, **payload):
        await self._record(ChargerEventKind.SIGN_CERTIFICATE, payload)
        accepted = settings.OCPP_ACCEPT_CERTIFICATE_SIGNING_REQUESTS
        return call_result.SignCertificate(status=GenericStatus.accepted if accepted else GenericStatus.rejected)

    @on(Action.log_status_notification, skip_schema_validation=True)
    async def on_log_status_notification(self, **payload):
        await self._record(ChargerEventKind.LOG_STATUS, payload)
        return call_result.LogStatusNotification()

    @on(Action.signed_firmware_status_notification, skip_schema_validation=True)
    async def on_signed_firmware_status_notification(self, **payload):
        await self._record(ChargerEventKind.SIGNED_FIRMWARE_STATUS, payload)
        return call_result.SignedFirmwareStatusNotification()

    async def _record(self, kind: ChargerEventKind, payload: dict, timestamp: str | None = None) -> None:
        await ocpp_db(charger_messages.charger_event_record)(
            charge_box=self.charge_box, kind=kind, payload=payload, timestamp=timestamp
        )
