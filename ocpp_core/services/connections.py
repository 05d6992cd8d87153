"""Charger connections: who may open a socket, and the connected state that every server process can read."""

import asyncio
import hashlib
import hmac
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..db import ocpp_db
from ..models import ChargeBox, UnknownChargeBox
from .registry import charge_box_create


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


def charger_connected(*, charge_box: ChargeBox, connection_id: str, protocol: str) -> None:
    """Mark the charger connected through this socket (a newer socket of the same charger takes over)."""
    ChargeBox.objects.filter(pk=charge_box.pk).update(
        is_connected=True, connection_id=connection_id, connected_at=timezone.now(), ocpp_protocol=protocol
    )


def charger_disconnected(*, charge_box_pk: int, connection_id: str) -> bool:
    """Mark the charger disconnected, unless a newer socket took over meanwhile. Returns whether it did."""
    return bool(
        ChargeBox.objects.filter(pk=charge_box_pk, connection_id=connection_id).update(
            is_connected=False, connection_id="", disconnected_at=timezone.now()
        )
    )


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
