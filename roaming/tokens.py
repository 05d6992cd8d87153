"""Our tokens as OCPI objects (we are the eMSP): the operator's OCPP tags, offered to partner CPOs so their chargers
let our drivers charge. Tags that only mirror a partner's token (roaming.models.PartnerToken) are not ours to offer.
A partner CPO asks about one in real time through token_authorization."""

import secrets

from django.db.models import F, QuerySet
from django.utils import timezone

from ocpp_core.models import OcppTag

from .choices import AllowedType, TokenType, WhitelistType
from .models import OcpiIdentity
from .protocol import timestamp, unknown_token


def tokens_of(account_id: int) -> QuerySet[OcppTag]:
    """The account's own tags, each with `last_updated` (what pagination filters and orders by)."""
    return (
        OcppTag.objects.filter(account_id=account_id, partner_token__isnull=True)
        .select_related("parent")
        .annotate(last_updated=F("updated_at"))
    )


def token_objects(tags: list[OcppTag], identity: OcpiIdentity) -> list[dict]:
    return [token_object(tag, identity) for tag in tags]


def token_object(tag: OcppTag, identity: OcpiIdentity) -> dict:
    """An OCPP tag as an OCPI RFID token. The contract id follows the eMA-ID shape (country, provider, C + the
    tag); a tag with a parent (a fleet or family card) is in the group of that parent. We answer real-time
    requests (whitelist ALLOWED), and a CPO that cannot reach us may decide from what it holds."""
    body = {
        "country_code": identity.country_code,
        "party_id": identity.party_id,
        "uid": tag.id_tag,
        "type": TokenType.RFID,
        "contract_id": f"{identity.country_code}-{identity.party_id}-C{tag.id_tag}",
        "issuer": identity.name[:64],
        "valid": not tag.blocked and not tag.is_expired(),
        "whitelist": WhitelistType.ALLOWED,
        "last_updated": timestamp(tag.updated_at),
    }
    if tag.parent is not None:
        body["group_id"] = tag.parent.id_tag
    return body


def token_authorization(*, account_id: int, identity: OcpiIdentity, uid: str, token_type: str, location=None) -> dict:
    """AuthorizationInfo: may this token of ours charge now (at the partner's location, when it names one)?"""
    tag = tokens_of(account_id).filter(id_tag__iexact=uid).first() if token_type == TokenType.RFID else None
    if tag is None:
        raise unknown_token(uid)
    if tag.blocked:
        allowed = AllowedType.BLOCKED
    elif tag.is_expired(timezone.now()):
        allowed = AllowedType.EXPIRED
    else:
        allowed = AllowedType.ALLOWED
    info = {"allowed": allowed, "token": token_object(tag, identity)}
    if allowed == AllowedType.ALLOWED:
        info["authorization_reference"] = secrets.token_hex(16)  # 32 characters of the 36 allowed
    if location:
        info["location"] = location
    return info
