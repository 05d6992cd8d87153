"""Our tokens (we are the eMSP): a change to one of the operator's OCPP tags is queued, in the same transaction, as
a PUT for every partner CPO that receives tokens, so their chargers know at once that a card was blocked or added.
A deleted tag is sent as no longer valid (OCPI has no deletion of tokens). Partners that miss one catch up by
pulling our tokens."""

from django.utils import timezone

from ocpp_core.models import OcppTag

from .. import ocpi211
from ..choices import OcpiRole, RegistrationState
from ..models import PartnerToken, Party
from ..protocol import timestamp
from ..selectors import primary_identity
from ..tokens import token_object
from .outbox import outbox_enqueue


def token_push(*, ocpp_tag: OcppTag, deleted: bool = False) -> int:
    """Queue the tag as a token for the account's partner CPOs; returns how many. Tags that stand for a partner's
    token (roaming.services.partner_tokens) are not ours and are not sent."""
    if getattr(ocpp_tag, "stands_for_partner_token", False) or (
        not deleted and PartnerToken.objects.filter(ocpp_tag_id=ocpp_tag.pk).exists()
    ):
        return 0
    partners = list(
        Party.objects.filter(
            account_id=ocpp_tag.account_id, state=RegistrationState.REGISTERED, roles__role=OcpiRole.CPO
        ).distinct()
    )
    identity = primary_identity(ocpp_tag.account_id) if partners else None
    if identity is None:
        return 0
    body = token_object(ocpp_tag, identity)
    if deleted:
        body.update(valid=False, last_updated=timestamp(timezone.now()))
    queued = 0
    for partner in partners:
        url = partner.endpoint_url("tokens", "RECEIVER")
        if url is None:
            continue
        outbox_enqueue(
            partner=partner,
            key=f"tokens:{body['country_code']}:{body['party_id']}:{body['uid']}",
            method="PUT",
            url=f"{url.rstrip('/')}/{body['country_code']}/{body['party_id']}/{body['uid']}?type={body['type']}",
            body=ocpi211.token_as_211(body) if partner.version == ocpi211.VERSION else body,
        )
        queued += 1
    return queued
