"""EVSE status changes we push as CPO (queued by the chargers' SQL, roaming.services.evse_events): made into a PATCH
of the EVSE's status when sent, from the EVSE as it is then."""

from ocpp_core.models import Connector

from ..locations import location_objects
from ..models import OutboxMessage
from ..sessions import location_of_charge_box
from .sessions import NothingToSend


def evse_message_build(message: OutboxMessage) -> tuple[str, dict]:
    connector = Connector.objects.select_related("charge_box__node").filter(pk=int(message.key.split(":")[1])).first()
    if connector is None:
        raise NothingToSend("The connector no longer exists.")
    location = location_of_charge_box(connector.charge_box)
    if location is None:
        raise NothingToSend("The charge box is at no published location any more.")
    url = message.partner.endpoint_url("locations", "RECEIVER")
    if url is None:
        raise NothingToSend("The partner lists no locations Receiver endpoint.")
    (body,) = location_objects([location])
    evse = next((e for e in body.get("evses", []) if e["uid"] == str(connector.pk)), None)
    if evse is None:
        raise NothingToSend("The connector is not an EVSE of the location.")
    ids = f"{body['country_code']}/{body['party_id']}/{body['id']}/{evse['uid']}"
    return f"{url.rstrip('/')}/{ids}", {"status": evse["status"], "last_updated": evse["last_updated"]}
