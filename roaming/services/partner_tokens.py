"""Partner eMSPs' tokens as we keep them as CPO. Pushed tokens (the eMSP calls our Receiver interface) and pulled
ones (we page through its Sender interface) go through partner_token_put, so both ways converge: a token is stored
only if it is at least as new as what we have, and an eMSP may write only tokens under its own country code and
party id.

Each token is mirrored as an OCPP tag of the partner's tag group (Party.token_group): at our chargers a foreign
token is a tag like any other, and the permission resolver decides where it may charge; an invalid token is a
blocked tag."""

import hashlib

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ocpp_core.models import OcppTag, OcppTagGroup
from ocpp_core.validators import id_tag_validator

from ..choices import OcpiRole, TokenType
from ..models import PartnerToken, Party
from ..objects import TokenSerializer, first_error, without_nulls
from ..protocol import OcpiError, OcpiStatus, ci_equal, unknown_token


def partner_token_put(
    *, party: Party, country_code: str, party_id: str, token_uid: str, data, token_type: str | None = None
) -> bool:
    """A whole token (PUT, or one object of a pull). Returns whether it was stored (False: ours is newer)."""
    _check_owner(party, country_code, party_id)
    token = _valid(data)
    token_type = token_type or TokenType.RFID
    sent = (token["country_code"], token["party_id"], token["uid"])
    if not all(map(ci_equal, sent, (country_code, party_id, token_uid))) or token["type"] != token_type:
        raise OcpiError(
            "country_code, party_id, uid and type of the token differ from the URL (type: ?type=, RFID if absent).",
            status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
        )
    try:
        with transaction.atomic():
            return _token_upsert(party, country_code, party_id, token_uid, token_type, data, token)
    except IntegrityError:  # a push and a pull created it at once: the other one's row is there now
        with transaction.atomic():
            return _token_upsert(party, country_code, party_id, token_uid, token_type, data, token)


def _token_upsert(party, country_code, party_id, token_uid, token_type, data, token) -> bool:
    stored = _stored(party, country_code, party_id, token_uid, token_type, lock=True)
    if stored is not None and stored.last_updated > token["last_updated"]:
        return False
    if stored is None:
        stored = PartnerToken(
            partner=party, country_code=country_code, party_id=party_id, uid=token_uid, type=token_type
        )
    _stored_save(stored, data, token)
    return True


@transaction.atomic
def partner_token_patch(
    *, party: Party, country_code: str, party_id: str, token_uid: str, data, token_type: str | None = None
) -> None:
    """Some fields of a token (PATCH, e.g. valid: false): merged into what we have and checked as a whole."""
    _check_owner(party, country_code, party_id)
    if not isinstance(data, dict) or "last_updated" not in data:
        raise OcpiError("last_updated: a PATCH must carry it.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS)
    stored = _stored_or_unknown(party, country_code, party_id, token_uid, token_type or TokenType.RFID, lock=True)
    merged = {**stored.data, **data}
    for fixed in ("country_code", "party_id", "uid", "type"):
        if not ci_equal(merged[fixed], stored.data[fixed]):
            raise OcpiError(
                f"{fixed}: cannot be changed by a PATCH.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS
            )
    _stored_save(stored, merged, _valid(merged))


def partner_token_object(
    *, party: Party, country_code: str, party_id: str, token_uid: str, token_type: str | None = None
) -> dict:
    """What we have (GET on our Receiver interface, for the eMSP to check)."""
    return _stored_or_unknown(party, country_code, party_id, token_uid, token_type or TokenType.RFID).data


def stand_in_id_tag(country_code: str, party_id: str, uid: str) -> str:
    """The OCPP idTag a token is presented as: its uid when OCPP 1.6 can carry it (20 printable characters), else a
    stable stand-in derived from the token's identity (app tokens are often 36-character UUIDs)."""
    try:
        id_tag_validator(uid)
        return uid
    except ValidationError:
        digest = hashlib.sha256(f"{country_code}*{party_id}*{uid}".encode()).hexdigest()
        return "R" + digest[:19].upper()


def _stored_save(stored: PartnerToken, data: dict, token: dict) -> None:
    stored.data = without_nulls(data)
    stored.contract_id = token["contract_id"]
    stored.valid = token["valid"]
    stored.whitelist = token["whitelist"]
    stored.last_updated = token["last_updated"]
    stored.save()
    _mirror_as_tag(stored)


def _mirror_as_tag(token: PartnerToken) -> None:
    """Create or update the OCPP tag the token is presented as. A tag of that idTag that is not this token's (one of
    the operator's own cards, or another partner's token) is left alone: the token is then not usable here, and
    `problem` says why."""
    account_id = token.partner.account_id
    id_tag = stand_in_id_tag(token.country_code, token.party_id, token.uid)
    tag = token.ocpp_tag
    if tag is None:
        taken = OcppTag.objects.filter(account_id=account_id, id_tag__iexact=id_tag).first()
        if taken is not None:
            token.problem = f"The OCPP tag {id_tag!r} exists already and is not this token's."
            token.save(update_fields=["problem"])
            return
        tag = OcppTag(account_id=account_id, id_tag=id_tag)
    tag.stands_for_partner_token = True  # not one of ours to offer to partner CPOs (roaming.services.tokens)
    tag.max_active_transaction_count = -1 if token.valid else 0
    tag.note = f"Roaming token {token.uid} ({token.type}, contract {token.contract_id}) of {token.partner}."
    tag.save()
    tag.groups.add(_token_group(token.partner))
    if token.ocpp_tag_id != tag.pk or token.problem:
        token.ocpp_tag, token.problem = tag, ""
        token.save(update_fields=["ocpp_tag", "problem"])


def _token_group(party: Party) -> OcppTagGroup:
    if party.token_group_id is None:
        party.token_group, _ = OcppTagGroup.objects.get_or_create(
            account_id=party.account_id, name=f"Roaming: {party.name}"[:100]
        )
        party.save(update_fields=["token_group"])
    return party.token_group


def _check_owner(party: Party, country_code: str, party_id: str) -> None:
    if not party.roles.filter(role=OcpiRole.EMSP, country_code=country_code, party_id=party_id).exists():
        raise OcpiError(
            f"{country_code}*{party_id} is not an eMSP of this partner: it may write only its own tokens.",
            http_status=403,
        )


def _valid(data) -> dict:
    serializer = TokenSerializer(data=data)
    if not serializer.is_valid():
        raise OcpiError(
            f"Invalid token: {first_error(serializer.errors)}", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS
        )
    return serializer.validated_data


def _stored(party, country_code, party_id, uid, token_type, *, lock: bool = False) -> PartnerToken | None:
    rows = PartnerToken.objects.filter(
        partner=party, type=token_type, country_code=country_code, party_id=party_id, uid=uid
    ).select_related("partner", "ocpp_tag")
    return (rows.select_for_update(of=("self",)) if lock else rows).first()


def _stored_or_unknown(party, country_code, party_id, uid, token_type, *, lock: bool = False) -> PartnerToken:
    stored = _stored(party, country_code, party_id, uid, token_type, lock=lock)
    if stored is None:
        raise unknown_token(uid)
    return stored
