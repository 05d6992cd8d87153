"""Re-sync with a partner (the admin's action, after an outage longer than the outbox retries, or a partner that
lost its data): the next pull of every module starts from the beginning, and everything we own that the partner
receives is queued for it again, as it is now."""

from django.db import transaction

from .. import ocpi211
from ..choices import OcpiRole
from ..locations import location_objects, locations_of
from ..models import ModuleSync, Party
from ..selectors import primary_identity
from ..tariffs import tariff_object, tariffs_of
from ..tokens import token_object, tokens_of
from .outbox import outbox_put


@transaction.atomic
def party_resync(*, party: Party) -> int:
    """Forget how far the pulls got and queue our locations, tariffs (to an eMSP) and tokens (to a CPO); returns how
    many objects were queued. The pulls themselves run when asked (the admin starts them right after)."""
    ModuleSync.objects.filter(partner=party).update(pulled_until=None)
    roles = set(party.roles.values_list("role", flat=True))
    queued = 0
    if OcpiRole.EMSP in roles:
        for body in location_objects(list(locations_of(party.account_id))):
            ids = (body["country_code"], body["party_id"], body["id"])
            queued += outbox_put(
                partner=party, module="locations", ids=ids, body=body, body_211=ocpi211.location_as_211(body)
            )
        for body in map(tariff_object, tariffs_of(party.account_id)):
            ids = (body["country_code"], body["party_id"], body["id"])
            queued += outbox_put(
                partner=party, module="tariffs", ids=ids, body=body, body_211=ocpi211.tariff_as_211(body)
            )
    identity = primary_identity(party.account_id)
    if OcpiRole.CPO in roles and identity is not None:
        for body in (token_object(tag, identity) for tag in tokens_of(party.account_id)):
            ids = (body["country_code"], body["party_id"], body["uid"])
            queued += outbox_put(
                partner=party, module="tokens", ids=ids, body=body, body_211=ocpi211.token_as_211(body),
                query=f"?type={body['type']}",
            )  # fmt: skip
    return queued
