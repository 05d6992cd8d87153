"""Charger connections: who may open a socket, and the connected state that every server process can read."""

from dataclasses import dataclass
from enum import Enum

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

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


def handshake_admit(*, handshake: Handshake) -> tuple[ChargeBox | None, Refusal | None]:
    """The charge box this handshake may speak for, or why not. Unknown identities are recorded for adoption."""
    charge_box = ChargeBox.objects.filter(charge_box_id=handshake.charge_box_id).first()
    if charge_box is None:
        unknown_charger_seen(handshake=handshake)
        return None, Refusal.UNKNOWN_CHARGER
    if charge_box.requires_auth_password:
        username, password = handshake.basic_credentials or ("", "")
        if username != charge_box.charge_box_id or not charge_box.check_auth_password(password):
            return None, Refusal.BAD_CREDENTIALS
    if charge_box.require_client_certificate and handshake.client_certificate_cn != charge_box.charge_box_id:
        return None, Refusal.NO_CLIENT_CERTIFICATE
    return charge_box, None


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
