"""Our tokens (we are the eMSP): a change to one of the operator's OCPP tags is queued, in the same transaction, as
a PUT for every partner CPO that receives tokens, so their chargers know at once that a card was blocked or added.
A deleted tag is sent as no longer valid (OCPI has no deletion of tokens). Partners that miss one catch up by
pulling our tokens."""

from django.utils import timezone

from ocpp_core.models import OcppTag

from .. import ocpi211
from ..choices import OcpiRole
from ..models import PartnerToken
from ..protocol import timestamp
from ..selectors import primary_identity
from ..tokens import token_object
from .outbox import outbox_put_to_partners


def token_push(*, ocpp_tag: OcppTag, deleted: bool = False) -> int:
    """Queue the tag as a token for the account's partner CPOs; returns how many. Tags that stand for a partner's
    token (roaming.services.partner_tokens) are not ours and are not sent."""
    if getattr(ocpp_tag, "stands_for_partner_token", False) or (
        not deleted and PartnerToken.objects.filter(ocpp_tag_id=ocpp_tag.pk).exists()
    ):
        return 0
    identity = primary_identity(ocpp_tag.account_id)
    if identity is None:
        return 0
    body = token_object(ocpp_tag, identity)
    if deleted:
        body.update(valid=False, last_updated=timestamp(timezone.now()))
    return outbox_put_to_partners(
        account_id=ocpp_tag.account_id,
        partner_role=OcpiRole.CPO,
        module="tokens",
        ids=(body["country_code"], body["party_id"], body["uid"]),
        body=body,
        body_211=ocpi211.token_as_211(body),
        query=f"?type={body['type']}",
    )
