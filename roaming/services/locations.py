"""Our locations (we are the CPO): saving one queues it for every partner eMSP that receives locations."""

from django.db import transaction

from .. import ocpi211
from ..choices import OcpiRole, RegistrationState
from ..locations import location_objects, locations_of
from ..models import Location, Party
from .outbox import outbox_enqueue


@transaction.atomic
def location_save(*, location: Location) -> Location:
    location.full_clean()
    location.save()
    location_push(location=location)
    return location


def location_push(*, location: Location) -> int:
    """Queue the location as it is now (PUT of the whole object) for the account's partner eMSPs; returns how many.
    Call inside the transaction that changed it."""
    (body,) = location_objects([locations_of(location.identity.account_id).get(pk=location.pk)])
    partners = Party.objects.filter(
        account_id=location.identity.account_id, state=RegistrationState.REGISTERED, roles__role=OcpiRole.EMSP
    ).distinct()
    queued = 0
    for partner in partners:
        url = partner.endpoint_url("locations", "RECEIVER")
        if url is None:
            continue
        outbox_enqueue(
            partner=partner,
            key=f"locations:{body['country_code']}:{body['party_id']}:{body['id']}",
            method="PUT",
            url=f"{url.rstrip('/')}/{body['country_code']}/{body['party_id']}/{body['id']}",
            body=ocpi211.location_as_211(body) if partner.version == ocpi211.VERSION else body,
        )
        queued += 1
    return queued
