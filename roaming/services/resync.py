"""Re-sync with a partner (the admin's action, after an outage longer than the outbox retries, or a partner that
lost its data): the next pull of every module starts from the beginning, and everything we own that the partner
receives is queued for it again, as it is now."""

from django.db import transaction

from ocpp_core.models import OcppTag

from .. import ocpi211
from ..choices import OcpiRole
from ..locations import location_objects, locations_of
from ..models import ModuleSync, Party
from ..selectors import primary_identity
from ..tariffs import tariff_object, tariffs_of
from ..tokens import token_object, tokens_of
from .outbox import outbox_enqueue


@transaction.atomic
def party_resync(*, party: Party) -> int:
    """Forget how far the pulls got and queue our locations, tariffs (to an eMSP) and tokens (to a CPO); returns how
    many objects were queued. The pulls themselves run when asked (the admin starts them right after)."""
    ModuleSync.objects.filter(partner=party).update(pulled_until=None)
    roles = set(party.roles.values_list("role", flat=True))
    legacy = party.version == ocpi211.VERSION
    queued = 0
    if OcpiRole.EMSP in roles:
        url = party.endpoint_url("locations", "RECEIVER")
        for body in location_objects(list(locations_of(party.account_id))) if url else []:
            ids = f"{body['country_code']}/{body['party_id']}/{body['id']}"
            _enqueue(
                party, "locations", ids, f"{url.rstrip('/')}/{ids}", ocpi211.location_as_211(body) if legacy else body
            )
            queued += 1
        url = party.endpoint_url("tariffs", "RECEIVER")
        for tariff in tariffs_of(party.account_id) if url else []:
            body = tariff_object(tariff)
            ids = f"{body['country_code']}/{body['party_id']}/{body['id']}"
            _enqueue(party, "tariffs", ids, f"{url.rstrip('/')}/{ids}", ocpi211.tariff_as_211(body) if legacy else body)
            queued += 1
    identity = primary_identity(party.account_id)
    url = party.endpoint_url("tokens", "RECEIVER") if OcpiRole.CPO in roles else None
    if url and identity is not None:
        tags: list[OcppTag] = list(tokens_of(party.account_id))
        for body in (token_object(tag, identity) for tag in tags):
            ids = f"{body['country_code']}/{body['party_id']}/{body['uid']}"
            _enqueue(
                party, "tokens", ids, f"{url.rstrip('/')}/{ids}?type={body['type']}",
                ocpi211.token_as_211(body) if legacy else body,
            )  # fmt: skip
            queued += 1
    return queued


def _enqueue(party: Party, module: str, ids: str, url: str, body: dict) -> None:
    outbox_enqueue(partner=party, key=f"{module}:{ids.replace('/', ':')}", method="PUT", url=url, body=body)
