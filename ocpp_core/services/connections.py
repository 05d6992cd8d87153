"""Charger connections: who may open a socket, and the connected state that every server process can read."""

import asyncio
import hashlib
import hmac
import logging
import os
import socket
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Substr
from django.utils import timezone

from roaming.services.evse_events import evse_changes_record

from ..db import ocpp_db
from ..models import ChargeBox, ServerProcess, UnknownChargeBox
from .registry import charge_box_create

logger = logging.getLogger(__name__)


class Refusal(Enum):
    """Why a handshake is refused, with the HTTP status it answers (where the ASGI server can send one)."""

    UNKNOWN_CHARGER = 404
    BAD_CREDENTIALS = 401
    NO_CLIENT_CERTIFICATE = 403
    NO_SUBPROTOCOL = 400


@dataclass(frozen=True)
class Handshake:
    """What a charger presents when it opens /ocpp/{chargeBoxId}."""

    charge_box_id: str
    subprotocols: list[str]
    basic_credentials: tuple[str, str] | None
    client_certificate_cn: str | None
    remote_address: str
    user_agent: str


async def handshake_admit(*, handshake: Handshake) -> tuple[ChargeBox | None, Refusal | None]:
    """The charge box this handshake may speak for, or why not. Unknown identities are recorded for adoption."""
    charge_box = await ocpp_db(_handshake_charge_box)(handshake=handshake)
    if charge_box is None:
        return None, Refusal.UNKNOWN_CHARGER
    if charge_box.requires_auth_password:
        username, password = handshake.basic_credentials or ("", "")
        if username != charge_box.charge_box_id or not await charger_password_matches(charge_box, password):
            return None, Refusal.BAD_CREDENTIALS
    if charge_box.require_client_certificate and handshake.client_certificate_cn != charge_box.charge_box_id:
        return None, Refusal.NO_CLIENT_CERTIFICATE
    return charge_box, None


def _handshake_charge_box(*, handshake: Handshake) -> ChargeBox | None:
    charge_box = ChargeBox.objects.filter(charge_box_id=handshake.charge_box_id).first()
    if charge_box is None:
        unknown_charger_seen(handshake=handshake)
    return charge_box


class _VerifiedPasswords:
    """The charger passwords this process has verified, as keyed digests of (stored hash, password): PBKDF2 costs a
    quarter of a second of CPU by design, and a charger reconnects with the same password many times a day (a whole
    fleet at once after a network outage). Only successes are kept, none in clear; a changed password has a new
    stored hash, so its old entry no longer matches."""

    MAX_ENTRIES = 100_000

    def __init__(self):
        self._digests: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def digest(stored_hash: str, password: str) -> bytes:
        message = f"{stored_hash}\0{password}".encode()
        return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).digest()

    def __contains__(self, digest: bytes) -> bool:
        with self._lock:
            if digest in self._digests:
                self._digests.move_to_end(digest)
                return True
            return False

    def add(self, digest: bytes) -> None:
        with self._lock:
            self._digests[digest] = None
            while len(self._digests) > self.MAX_ENTRIES:
                self._digests.popitem(last=False)


_verified_passwords = _VerifiedPasswords()
# Password hashing has threads of its own: a burst of handshakes must not take the threads the OCPP messages
# need for the database.
_password_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ocpp-password")


async def charger_password_matches(charge_box: ChargeBox, password: str) -> bool:
    digest = _verified_passwords.digest(charge_box.auth_password_hash, password)
    if digest in _verified_passwords:
        return True
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(_password_executor, charge_box.check_auth_password, password):
        return False
    _verified_passwords.add(digest)
    return True


@transaction.atomic
def unknown_charger_seen(*, handshake: Handshake) -> None:
    now = timezone.now()
    details = {
        "last_seen_at": now,
        "remote_address": handshake.remote_address[:64],
        "subprotocols": ",".join(handshake.subprotocols)[:200],
        "user_agent": handshake.user_agent[:255],
        "sent_credentials": handshake.basic_credentials is not None,
    }
    charge_box_id = handshake.charge_box_id[:255]
    updated = UnknownChargeBox.objects.filter(charge_box_id=charge_box_id).update(attempts=F("attempts") + 1, **details)
    if not updated:
        UnknownChargeBox.objects.get_or_create(charge_box_id=charge_box_id, defaults=details)


# This server process, in the connection ids of the sockets it holds: when it stops renewing its lease, whoever
# looks next (another process starting, the Celery beat task) marks its chargers disconnected.
INSTANCE_ID_LENGTH = 12
SERVER_INSTANCE = uuid.uuid4().hex[:INSTANCE_ID_LENGTH]
LEASE_RENEW_SECONDS = 20
LEASE_SECONDS = 90  # several renewals missed: the process is gone (or stuck so long its chargers gave up)


def new_connection_id() -> str:
    return f"{SERVER_INSTANCE}.{uuid.uuid4().hex[:23]}"


@transaction.atomic
def charger_disconnected(*, charge_box_pk: int, connection_id: str) -> bool:
    """Mark the charger disconnected, unless a newer socket took over meanwhile. Returns whether it did (then its
    published EVSEs become UNKNOWN for partners)."""
    disconnected = bool(
        ChargeBox.objects.filter(pk=charge_box_pk, connection_id=connection_id).update(
            is_connected=False, connection_id="", disconnected_at=timezone.now()
        )
    )
    if disconnected:
        evse_changes_record(charge_box_pk=charge_box_pk)
    return disconnected


def server_lease_renew(*, now=None) -> None:
    """This process is alive: its sockets' connected flags hold for another LEASE_SECONDS. Single statements, no
    row locks held across them: the renewal must never wait behind (or hold up) other work on the table."""
    now = now or timezone.now()
    if not ServerProcess.objects.filter(instance_id=SERVER_INSTANCE).update(renewed_at=now):
        ServerProcess.objects.bulk_create(
            [
                ServerProcess(
                    instance_id=SERVER_INSTANCE,
                    host=socket.gethostname()[:255],
                    pid=os.getpid(),
                    started_at=now,
                    renewed_at=now,
                )
            ],
            ignore_conflicts=True,
        )


def stale_connections_release(*, now=None) -> int:
    """Mark disconnected the chargers whose socket was held by a server process that stopped renewing its lease
    (killed, crashed, its host lost): nobody else would, until the charger reconnects. Returns how many.

    One UPDATE decides against the leases as they are at that moment; a process registers its lease before it
    marks any charger connected, so a live process's chargers always find their lease."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=LEASE_SECONDS)
    live_lease = ServerProcess.objects.filter(
        instance_id=Substr(OuterRef("connection_id"), 1, INSTANCE_ID_LENGTH), renewed_at__gte=cutoff
    )
    released = (
        ChargeBox.objects.filter(is_connected=True)
        .filter(~Exists(live_lease))
        .update(is_connected=False, connection_id="", disconnected_at=now)
    )
    ServerProcess.objects.filter(renewed_at__lt=cutoff).delete()
    if released:
        logger.warning("Marked %d chargers disconnected: the server process holding them is gone", released)
    return released


_server_leases: dict[asyncio.AbstractEventLoop, tuple[asyncio.Future, asyncio.Task]] = {}


async def server_lease_hold() -> None:
    """Returns once this process holds its lease (the first call on the event loop takes it and keeps renewing
    it), so that no charger is marked connected by a process a sweep would take for dead."""
    loop = asyncio.get_running_loop()
    if loop not in _server_leases:
        registered = loop.create_future()
        _server_leases[loop] = (registered, loop.create_task(_renew_lease(registered)))
    await asyncio.shield(_server_leases[loop][0])


async def _renew_lease(registered: asyncio.Future) -> None:
    while True:
        try:
            await ocpp_db(server_lease_renew)()
            if not registered.done():
                registered.set_result(None)
                # A process that started: chargers of one that died before it may still be marked connected.
                await ocpp_db(stale_connections_release)()
        except Exception:
            logger.exception("Could not renew this server's lease")
        finally:
            if not registered.done():  # connections go on without the lease rather than waiting for the database
                registered.set_result(None)
        await asyncio.sleep(LEASE_RENEW_SECONDS)


def client_certificate_header() -> str:
    """The header in which the TLS terminator names the verified client certificate's CN (security profile 3)."""
    return settings.OCPP_CLIENT_CERT_HEADER.lower()


@transaction.atomic
def unknown_charger_adopt(*, unknown: UnknownChargeBox, account) -> ChargeBox:
    """Register a charger that tried to connect: its identity becomes a charge box of `account`."""
    charge_box = charge_box_create(
        account=account,
        charge_box_id=unknown.charge_box_id,
        description=f"Adopted (first seen {unknown.first_seen_at:%Y-%m-%d})",
    )
    unknown.delete()
    return charge_box
