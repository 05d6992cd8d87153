"""Real-time authorization of a partner eMSP's token at our chargers (tokens module, "authorize"). The permission
resolver has said the token's OCPP tag may charge here; a token whose whitelist is not ALWAYS is then also put to
its eMSP, which may refuse it (no credit, blocked since the last push). What the eMSP answers decides; when it
cannot be reached in time, or answers without a valid `allowed` or with an ALLOWED that is otherwise no
AuthorizationInfo (logged), ALLOWED and ALLOWED_OFFLINE tokens charge on what we hold, NEVER tokens do not. A clear
refusal (BLOCKED, EXPIRED, NO_CREDIT, NOT_ALLOWED) stands even when the rest of the answer is flawed (logged): the
eMSP's no is never turned into a yes.

The chargers' hot path asks in two steps: partner_token_statement (one indexed SQL statement, on the consumer's
database path: most tags are not partners' tokens) and, only for those that are, ask_emsp in a thread of the OCPP
pool once the database session is given back (an HTTP call to the partner, bounded by REALTIME_TIMEOUT_SECONDS so
the charger's own timeout is not reached)."""

import logging
from urllib.parse import quote

from django.utils import timezone
from ocpp.v16.enums import AuthorizationStatus

from ocpp_core.models import ChargeBox, Connector

from ..choices import AllowedType, OcpiRole, WhitelistType
from ..client import OcpiClientError, ocpi_request
from ..models import PartnerToken
from ..objects import AuthorizationInfoSerializer, first_error
from ..ocpi211 import VERSION as VERSION_211
from ..ocpi211 import AuthorizationInfo211Serializer
from ..selectors import routing_headers
from ..sessions import location_of_charge_box

logger = logging.getLogger(__name__)

REALTIME_TIMEOUT_SECONDS = 5.0
STATUS_OF_ALLOWED = {
    AllowedType.ALLOWED: AuthorizationStatus.accepted,
    AllowedType.BLOCKED: AuthorizationStatus.blocked,
    AllowedType.EXPIRED: AuthorizationStatus.expired,
    AllowedType.NO_CREDIT: AuthorizationStatus.invalid,
    AllowedType.NOT_ALLOWED: AuthorizationStatus.invalid,
}


def partner_token_statement(*, ocpp_tag_pk: int) -> tuple[str, list]:
    """The partner token behind an OCPP tag, if the tag is one, when its eMSP wants to be asked: (pk, whitelist) or
    no row."""
    table = PartnerToken._meta.db_table
    return (
        f"SELECT id, whitelist FROM {table} WHERE ocpp_tag_id = %s AND whitelist <> %s",
        [ocpp_tag_pk, WhitelistType.ALWAYS.value],
    )


def ask_emsp(*, partner_token_pk: int, charge_box: ChargeBox) -> AuthorizationStatus:
    """The eMSP's answer about its token at this charge box, as OCPP's authorization status."""
    token = PartnerToken.objects.select_related("partner").get(pk=partner_token_pk)
    partner = token.partner
    url = partner.endpoint_url("tokens", "SENDER")
    if url is None:
        return _unreachable(token, "the partner lists no tokens Sender endpoint")
    where = None
    location = location_of_charge_box(charge_box)
    if location is not None:
        evses = Connector.objects.filter(charge_box=charge_box, connector_id__gt=0).values_list("pk", flat=True)
        where = {"location_id": location.ocpi_id, "evse_uids": [str(pk) for pk in evses]}
    try:
        info = ocpi_request(
            "POST",
            f"{url.rstrip('/')}/{quote(token.uid, safe='')}/authorize?type={token.type}",
            token=partner.outgoing_token,
            plain_token=partner.plain_token_header,
            body=where,
            timeout=REALTIME_TIMEOUT_SECONDS,
            routing=routing_headers(partner, to_role=OcpiRole.EMSP),
        )
    except OcpiClientError as error:
        if error.status_code == 2004:  # the eMSP no longer knows the token
            return AuthorizationStatus.invalid
        return _unreachable(token, str(error))
    serializer = (AuthorizationInfo211Serializer if partner.version == VERSION_211 else AuthorizationInfoSerializer)(
        data=info
    )
    valid = serializer.is_valid()
    allowed = _allowed_of(info)
    if allowed is None or (allowed == AllowedType.ALLOWED and not valid):
        # An answer without a clear `allowed`, or an ALLOWED one that is otherwise no AuthorizationInfo, decides
        # nothing: as if the eMSP could not be asked.
        return _unreachable(token, f"its answer is no AuthorizationInfo ({first_error(serializer.errors)})")
    if not valid:
        # A clear refusal is honoured whatever else is wrong with the answer: taking it for an unreachable eMSP
        # would let an ALLOWED-whitelist token charge against its eMSP's explicit no.
        logger.warning(
            "Real-time authorization of %s with %s: the eMSP answered %s in an answer that is otherwise no "
            "AuthorizationInfo (%s); the refusal stands",
            token,
            partner,
            allowed,
            first_error(serializer.errors),
        )
        return STATUS_OF_ALLOWED[allowed]
    if allowed == AllowedType.ALLOWED:
        # The session that follows says it was authorized so, with the eMSP's reference (sessions module).
        token.last_authorization = {
            "charge_box": charge_box.pk,
            "at": timezone.now().isoformat(),
            "reference": serializer.validated_data.get("authorization_reference", ""),
        }
        token.save(update_fields=["last_authorization"])
    return STATUS_OF_ALLOWED[allowed]


def _allowed_of(info) -> AllowedType | None:
    """The `allowed` of an eMSP's answer when it is one of the spec's values, checked on its own so that a flaw
    elsewhere in the answer does not hide it."""
    allowed = info.get("allowed") if isinstance(info, dict) else None
    return AllowedType(allowed) if isinstance(allowed, str) and allowed in AllowedType.values else None


def _unreachable(token: PartnerToken, why: str) -> AuthorizationStatus:
    logger.warning("Real-time authorization of %s with %s failed: %s", token, token.partner, why)
    return unreachable_emsp_status(token.whitelist)


def unreachable_emsp_status(whitelist: str) -> AuthorizationStatus:
    """When the eMSP cannot be asked: NEVER tokens may not charge, the others charge on what we hold."""
    return AuthorizationStatus.invalid if whitelist == WhitelistType.NEVER else AuthorizationStatus.accepted
