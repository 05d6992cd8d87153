"""Our locations (we are the CPO): saving one queues it for every partner eMSP that receives locations."""

from django.db import transaction

from .. import ocpi211
from ..choices import OcpiRole
from ..locations import location_objects, locations_of
from ..models import Location
from .outbox import outbox_put_to_partners


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
    return outbox_put_to_partners(
        account_id=location.identity.account_id,
        partner_role=OcpiRole.EMSP,
        module="locations",
        ids=(body["country_code"], body["party_id"], body["id"]),
        body=body,
        body_211=ocpi211.location_as_211(body),
    )
