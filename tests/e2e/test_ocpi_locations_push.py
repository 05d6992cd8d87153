"""We, as CPO, push a location change to a partner eMSP over real HTTP through the outbox: sent once the change
commits, and, when the partner refuses it, kept and sent again later, in order."""

import pytest
from django.utils import timezone

from ocpp_core.models import ChargeBox, Connector
from roaming.models import Location, OutboxMessage, Party
from roaming.services.credentials import party_register_with
from roaming.services.locations import location_save
from sites.models import Node

from .ocpi_peer import drain

pytestmark = pytest.mark.django_db(transaction=True)

PEER_EMSP = """
import json
from powerfill.accounts.models import Account
from roaming.models import OcpiIdentity
from roaming.services.credentials import party_invite
account = Account.objects.create(name="Peer Mobility")
OcpiIdentity.objects.create(account=account, country_code="NL", party_id="PEE", name="Peer Mobility")
print(json.dumps(party_invite(account=account, name="Acme").incoming_token))
"""

PEER_HOLDS = """
import json
from roaming.models import PartnerLocation
print(json.dumps({row.ocpi_id: row.data for row in PartnerLocation.objects.all()}))
"""


def test_a_saved_location_reaches_the_partner_and_a_refused_push_is_sent_again(daphne_server, peer, acme):
    party = Party.objects.create(account=acme, name="Peer", versions_url=f"{peer.url}/ocpi/versions")
    party.outgoing_token = peer.python(PEER_EMSP)
    party_register_with(party=party, base_url=daphne_server)
    party.refresh_from_db()
    node = Node.objects.create(account=acme, name="Garage")
    box = ChargeBox.objects.create(account=acme, charge_box_id="ACME-1", node=node, is_connected=True, max_current_a=32)
    Connector.objects.create(charge_box=box, connector_id=1, status="Available", status_updated_at=timezone.now())
    location = Location(
        identity=acme.ocpi_identities.get(), node=node, ocpi_id="GARAGE", address="Hauptstrasse 1", city="Berlin",
        country="DEU", latitude="52.520008", longitude="13.404954", time_zone="Europe/Berlin",
    )  # fmt: skip

    location_save(location=location)
    drain()

    held = peer.python(PEER_HOLDS)
    assert list(held) == ["GARAGE"]
    assert held["GARAGE"]["evses"][0]["status"] == "AVAILABLE" and held["GARAGE"]["address"] == "Hauptstrasse 1"
    assert OutboxMessage.objects.get().sent_at is not None

    # The partner refuses (here: our token is wrong); the change waits, and so does the next one of the object.
    token = party.outgoing_token
    Party.objects.filter(pk=party.pk).update(outgoing_token="not-the-token")
    location.address = "Hauptstrasse 2"
    location_save(location=location)
    drain()
    location.address = "Hauptstrasse 3"
    location_save(location=location)
    drain()
    waiting = list(OutboxMessage.objects.filter(sent_at=None).order_by("created_at"))
    assert len(waiting) == 2 and waiting[0].attempts == 1 and "401" in waiting[0].last_error
    assert waiting[1].attempts == 0  # not tried: the older change of its object is unsent
    assert peer.python(PEER_HOLDS)["GARAGE"]["address"] == "Hauptstrasse 1"

    Party.objects.filter(pk=party.pk).update(outgoing_token=token)
    OutboxMessage.objects.filter(sent_at=None).update(next_attempt_at=timezone.now())
    drain()
    drain()

    assert not OutboxMessage.objects.filter(sent_at=None).exists()
    assert peer.python(PEER_HOLDS)["GARAGE"]["address"] == "Hauptstrasse 3"
