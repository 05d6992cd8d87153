"""We, as eMSP, pull a partner CPO's locations over real HTTP (two platforms, two databases): all of them the first
time, page by page; afterwards only what changed (date_from); both sides end with the same objects, none twice."""

import base64

import httpx
import pytest

from roaming.models import ModuleSync, PartnerLocation, Party
from roaming.services.credentials import party_register_with
from roaming.services.pull import partner_locations_pull

pytestmark = pytest.mark.django_db(transaction=True)

PEER_CPO = """
import json
from django.utils import timezone
from ocpp_core.models import ChargeBox, Connector
from powerfill.accounts.models import Account
from roaming.models import Location, OcpiIdentity
from roaming.services.credentials import party_invite
from sites.models import Node
account = Account.objects.create(name="Peer Charging")
identity = OcpiIdentity.objects.create(account=account, country_code="NL", party_id="PEE", name="Peer Charging")
for i in range(120):
    node = Node.objects.create(account=account, name=f"Site {i}")
    box = ChargeBox.objects.create(account=account, charge_box_id=f"PEER-{i}", node=node, is_connected=True)
    Connector.objects.create(charge_box=box, connector_id=1, status="Available", status_updated_at=timezone.now())
    Location.objects.create(
        identity=identity, node=node, ocpi_id=f"L{i:03d}", address=f"Street {i}", city="Utrecht", country="NLD",
        latitude="52.090737", longitude="5.121420", time_zone="Europe/Amsterdam",
    )
print(json.dumps(party_invite(account=account, name="Acme").incoming_token))
"""

PEER_CHANGES = """
import json
from django.utils import timezone
from ocpp_core.models import Connector
from roaming.models import Location
Location.objects.filter(ocpi_id__lt="L100").update(address="New street 1", updated_at=timezone.now())
charging = Connector.objects.filter(charge_box__charge_box_id="PEER-110")
charging.update(status="Charging", status_updated_at=timezone.now())
print(json.dumps(Location.objects.count()))
"""


def peer_locations(url: str, token: str) -> dict:
    """Everything the peer lists, following its pages."""
    objects, headers = {}, {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}
    while url:
        response = httpx.get(url, headers=headers, timeout=15)
        objects.update({location["id"]: location for location in response.json()["data"]})
        url = response.links.get("next", {}).get("url")
    return objects


def test_a_full_pull_then_an_incremental_one_converge(daphne_server, peer, acme):
    token_a = peer.python(PEER_CPO)
    party = Party.objects.create(
        account=acme, name="Peer", versions_url=f"{peer.url}/ocpi/versions", outgoing_token=token_a
    )
    party_register_with(party=party, base_url=daphne_server)
    party.refresh_from_db()
    locations_url = party.endpoint_url("locations", "SENDER")
    assert locations_url == f"{peer.url}/ocpi/cpo/2.2.1/locations"

    assert partner_locations_pull(party=party) == 120  # three pages of 50
    assert PartnerLocation.objects.filter(partner=party).count() == 120
    sync = ModuleSync.objects.get(partner=party, module="locations")
    assert sync.pulled_until is not None and sync.last_error == ""

    peer.python(PEER_CHANGES)
    partner_locations_pull(party=party)

    theirs = peer_locations(locations_url, party.outgoing_token)
    ours = {row.ocpi_id: row.data for row in PartnerLocation.objects.filter(partner=party)}
    assert len(theirs) == len(ours) == 120
    assert ours == theirs
    assert ours["L000"]["address"] == "New street 1" and ours["L119"]["address"] == "Street 119"
    assert ours["L110"]["evses"][0]["status"] == "CHARGING"


def test_a_pull_from_a_partner_that_is_down_keeps_date_from_and_says_why(daphne_server, peer, acme):
    token_a = peer.python(PEER_CPO)
    party = Party.objects.create(
        account=acme, name="Peer", versions_url=f"{peer.url}/ocpi/versions", outgoing_token=token_a
    )
    party_register_with(party=party, base_url=daphne_server)
    party.refresh_from_db()
    partner_locations_pull(party=party)
    before = ModuleSync.objects.get(partner=party, module="locations").pulled_until
    party.endpoints = [
        {"identifier": "locations", "role": "SENDER", "url": "http://127.0.0.1:9/ocpi/cpo/2.2.1/locations"}
    ]
    party.save()

    with pytest.raises(Exception, match="ConnectError"):
        partner_locations_pull(party=party)

    sync = ModuleSync.objects.get(partner=party, module="locations")
    assert sync.pulled_until == before and "ConnectError" in sync.last_error
