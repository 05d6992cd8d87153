"""The OCPP-J WebSocket endpoint /ocpp/{chargeBoxId}: admits or refuses the handshake, feeds frames to the
charger's session (central_system.ChargerSession) and carries CSMS-initiated calls from the channel layer to the
charger and its answers back. Decisions live in services; this file moves frames."""

import asyncio
import base64
import binascii
import json
import logging
import time
from urllib.parse import unquote

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.exceptions import OCPPError
from ocpp.messages import CallError
from ocpp.v16 import call as ocpp_call

from priority.charging_profiles import amps_of

from .channel_groups import charge_box_group
from .charger_directory import charger_connected_note
from .choices import OcppProtocol
from .db import ocpp_db
from .ocpp_j import UNKNOWN_MESSAGE_ID, PendingCall, pending_call, unique_id_at_start
from .services import charger_messages
from .services.connections import (
    Handshake,
    Refusal,
    charger_disconnected,
    handshake_admit,
    new_connection_id,
    server_lease_hold,
)
from .services.message_log import message_log

logger = logging.getLogger(__name__)

SUBPROTOCOLS = (OcppProtocol.OCPP16J.value,)
TRIGGERS = frozenset({"TriggerMessage", "ExtendedTriggerMessage"})
SET_CHARGING_PROFILE = "SetChargingProfile"
# The message a trigger asks for, where its name differs from the action the charger sends.
TRIGGERED_ACTIONS = {"SignChargePointCertificate": "SignCertificate"}


class OcppConsumer(AsyncWebsocketConsumer):
    charge_box = None
    replaced = False  # a newer socket of the same charger took over: this one only closes

    # Handshake

    async def connect(self):
        handshake = self._handshake()
        if not any(protocol in SUBPROTOCOLS for protocol in handshake.subprotocols):
            await self._refuse(Refusal.NO_SUBPROTOCOL)
            return
        charge_box, refusal = await handshake_admit(handshake=handshake)
        if refusal is not None:
            logger.info("Refused %r from %s: %s", handshake.charge_box_id, handshake.remote_address, refusal.name)
            await self._refuse(refusal)
            return
        from .central_system import ChargerSession

        self.charge_box = charge_box
        self.connection_id = new_connection_id()
        self.group = charge_box_group(charge_box.pk)
        self.calls_in_flight: set[asyncio.Task] = set()
        if charge_box.is_connected:
            # Take over from an older socket of this charger, in whichever process it lives.
            await self.channel_layer.group_send(
                self.group, {"type": "socket.replaced", "connection_id": self.connection_id}
            )
        await self.channel_layer.group_add(self.group, self.channel_name)
        await server_lease_hold()
        charger_connected_note(charge_box.pk)
        self.session = ChargerSession(charge_box, self)
        await charger_messages.charger_connected(
            db=self.session.database, charge_box=charge_box, connection_id=self.connection_id, protocol=SUBPROTOCOLS[0]
        )
        # Open only now: once the charger sees its socket open, it is connected for everyone (an operation sent at
        # once finds it), and its group reaches this socket.
        await self.accept(subprotocol=SUBPROTOCOLS[0])

    def _handshake(self) -> Handshake:
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in self.scope["headers"]}
        client = self.scope.get("client") or ("", 0)
        return Handshake(
            charge_box_id=unquote(self.scope["url_route"]["kwargs"]["charge_box_id"]),
            subprotocols=list(self.scope.get("subprotocols") or []),
            basic_credentials=_basic_credentials(headers.get("authorization", "")),
            client_certificate_cn=headers.get(settings.OCPP_CLIENT_CERT_HEADER.lower()),
            remote_address=client[0] or "",
            user_agent=headers.get("user-agent", ""),
        )

    async def _refuse(self, refusal: Refusal):
        """Answer the handshake with the refusal's HTTP status where the server can (uvicorn); Daphne can only
        close the handshake, which it answers with 403."""
        if "websocket.http.response" in self.scope.get("extensions", {}):
            body = f"{refusal.name.replace('_', ' ').lower()}\n".encode()
            headers = [(b"content-type", b"text/plain")]
            if refusal is Refusal.BAD_CREDENTIALS:
                headers.append((b"www-authenticate", b'Basic realm="ocpp"'))
            await self.base_send({"type": "websocket.http.response.start", "status": refusal.value, "headers": headers})
            await self.base_send({"type": "websocket.http.response.body", "body": body})
        else:
            await self.close()

    async def dispatch(self, message):
        # Channels runs close_old_connections() on its one sync thread before every message it dispatches. This
        # consumer never uses the ORM on that thread (ocpp_db's pool looks after its own connections), so the hop
        # would only queue every frame of every charger behind one thread.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # Frames from the charger

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            await self._reject_frame(UNKNOWN_MESSAGE_ID, "FormationViolation", "OCPP-J frames are text, not binary.")
            return
        if len(text_data.encode()) > settings.OCPP_MAX_FRAME_BYTES:
            await self._reject_frame(
                unique_id_at_start(text_data),
                "GenericError",
                f"The frame exceeds {settings.OCPP_MAX_FRAME_BYTES} bytes.",
            )
            return
        # Channels hands this consumer one event at a time, so the charger's frames are served in order, one by
        # one, as the ocpp library's start() loop would (without its queue and task in between).
        await self.session.receive(text_data)

    async def _reject_frame(self, unique_id: str, code: str, description: str):
        await self.session._send(CallError(unique_id, code, description, {}).to_json())

    async def disconnect(self, code):
        if self.charge_box is None:
            return
        for task in self.calls_in_flight:
            task.cancel()
        await self.channel_layer.group_discard(self.group, self.channel_name)
        await ocpp_db(charger_disconnected)(charge_box_pk=self.charge_box.pk, connection_id=self.connection_id)
        if not self.replaced:
            self.session.load_changed("disconnected")  # from now on counted at what it draws, not steered
        await message_log.flush()  # the last frames of a socket are the ones an operator looks for

    # Messages from the channel layer

    async def socket_replaced(self, event):
        if event["connection_id"] != self.connection_id:
            logger.info("%s reconnected elsewhere; closing the old socket", self.charge_box.charge_box_id)
            # Out of the charger's group first: operations sent from now on reach the new socket alone.
            self.replaced = True
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.close(code=4000)

    async def registration_changed(self, event):
        """The operator changed the registration status: the next messages are judged by it (a charger learns it
        itself from its next BootNotification)."""
        self.charge_box.registration_status = event["status"]

    async def charger_removed(self, event):
        logger.info("%s was deleted; closing its socket", self.charge_box.charge_box_id)
        self.replaced = True  # nothing more goes to this charger
        await self.channel_layer.group_discard(self.group, self.channel_name)
        await self.close(code=4001)

    async def ocpp_call(self, event):
        """A CSMS-initiated operation: send the CALL, and report the answer on event["reply_to"]."""
        if self.replaced:
            # Sent to the group while both sockets were in it: the new socket answers; a "failed" from this one
            # could arrive first and hide the charger's real answer.
            return
        task = asyncio.create_task(self._call_and_reply(event))
        self.calls_in_flight.add(task)
        task.add_done_callback(self.calls_in_flight.discard)

    async def _call_and_reply(self, event):
        reply = {"type": "ocpp.reply", "request_id": event["request_id"]}
        pending = None
        try:
            request = getattr(ocpp_call, event["action"])(**camel_to_snake_case(event["payload"]))
            # The charger gets one call at a time: this one may wait behind earlier ones, but only until its
            # send_by; once sent, the charger has the whole OCPP_CALL_TIMEOUT to answer.
            async with asyncio.timeout_at(_loop_time_of(event.get("send_by"))) as send_by:
                pending = PendingCall(send_by, tuple(event.get("secrets", ())))
                token = pending_call.set(pending)
                try:
                    result = await self.session.call(request, suppress=False)
                finally:
                    pending_call.reset(token)
            reply |= {"outcome": "result", "payload": snake_to_camel_case(remove_nones(serialize_as_dict(result)))}
            if event["action"] == SET_CHARGING_PROFILE and reply["payload"].get("status") == "Accepted":
                self._tx_limit_remember(event["payload"])
            if event["action"] in TRIGGERS and reply["payload"].get("status") == "Accepted":
                requested = event["payload"]["requestedMessage"]
                self.session.expect_triggered(TRIGGERED_ACTIONS.get(requested, requested))
        except OCPPError as error:
            reply |= {
                "outcome": "call_error",
                "code": error.code,
                "description": error.description,
                "details": json.dumps(error.details) if error.details else "",
            }
        except TimeoutError:
            if pending is not None and pending.sent:
                reply |= {"outcome": "timeout", "message": f"No answer within {settings.OCPP_CALL_TIMEOUT:g} s."}
            else:
                reply |= {"outcome": "failed", "message": "Not sent: the charger was busy with earlier calls."}
        except asyncio.CancelledError:
            reply |= {"outcome": "failed", "message": "The charger's connection closed before it answered."}
            await self.channel_layer.send(event["reply_to"], reply)
            raise
        except Exception as error:  # a request the charger could not be sent, or an answer we could not read
            logger.exception("%s to %s failed", event["action"], self.charge_box.charge_box_id)
            reply |= {"outcome": "failed", "message": str(error) or error.__class__.__name__}
        await self.channel_layer.send(event["reply_to"], reply)

    def _tx_limit_remember(self, request: dict) -> None:
        """A TxProfile the charger accepted: its MeterValues are compared with it (ChargerSession._load_after)."""
        profile = request.get("csChargingProfiles") or {}
        if profile.get("chargingProfilePurpose") == "TxProfile":
            amps = amps_of(request, voltage=settings.LOAD_VOLTAGE)
            if amps is not None:
                self.session.load_limits[request.get("connectorId")] = amps


def _loop_time_of(wall_time: float | None) -> float | None:
    """A wall-clock time (time.time(), set in another process) on this event loop's clock."""
    if wall_time is None:
        return None
    return asyncio.get_running_loop().time() + (wall_time - time.time())


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        username, _, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    return username, password
