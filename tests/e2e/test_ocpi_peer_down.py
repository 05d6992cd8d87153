"""Peer down: we, as CPO, change 100 locations (and add a few) while the partner eMSP's platform is stopped. The
pushes fail and wait in the outbox; some are retried until given up. Once the partner serves again at the same URL,
the outbox drains what is due and the partner's incremental pull brings what was given up: both sides end with the
same objects, none lost, none twice, and pulling again changes nothing."""

import base64
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from ocpp_core.models import ChargeBox, Connector
from roaming.models import Location, OutboxMessage, Party
from roaming.services.credentials import party_register_with
from roaming.services.locations import location_save
from roaming.services.outbox import outbox_due, outbox_send
from sites.models import Node

pytestmark = pytest.mark.django_db(transaction=True)

MAX_ATTEMPTS = 2
LOCATIONS, NEW_LOCATIONS = 100, 5
GIVEN_UP = [f"L{i:03d}" for i in range(50)]  # while the peer is down their pushes are retried until given up
CHANGED_TWICE = [f"L{i:03d}" for i in range(0, LOCATIONS, 10)]  # a second change waits behind the first

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
from roaming.models import ModuleSync, PartnerLocation
from roaming.protocol import timestamp
sync = ModuleSync.objects.filter(module="locations").first()
rows = [[row.pk, row.ocpi_id, timestamp(row.last_updated), row.data] for row in PartnerLocation.objects.order_by("pk")]
print(json.dumps({"stored": stored, "error": sync and sync.last_error, "rows": rows}))
"""

# The peer's catch-up pull of our locations (what its beat runs), incremental from its previous one.
PEER_PULL = """
from roaming.models import Party
from roaming.services.pull import partner_locations_pull
stored = partner_locations_pull(party=Party.objects.get(name="Acme"))
"""


def peer_holds(peer, *, pull: bool = False) -> tuple[dict, int | None]:
    """The peer's locations by id, each (row pk, last_updated column, object), after it pulled ours if `pull`; and
    how many that pull stored. One row per id, or it fails."""
    answer = peer.python((PEER_PULL if pull else "stored = None\n") + PEER_HOLDS)
    assert not answer["error"], answer["error"]
    held = {ocpi_id: (pk, last_updated, data) for pk, ocpi_id, last_updated, data in answer["rows"]}
    assert len(held) == len(answer["rows"]), "the peer holds a location twice"
    return held, answer["stored"]


def our_locations(daphne_server: str, token: str) -> dict:
    """What our Sender interface serves the peer now, all pages."""
    url = f"{daphne_server}/ocpi/cpo/2.2.1/locations"
    headers, objects = {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}, {}
    while url:
        response = httpx.get(url, headers=headers, timeout=15)
        assert response.status_code == 200, response.text
        for location in response.json()["data"]:
            assert location["id"] not in objects
            objects[location["id"]] = location
        url = response.links.get("next", {}).get("url")
    return objects


def location_create(account, number: int) -> Location:
    node = Node.objects.create(account=account, name=f"Site {number}")
    box = ChargeBox.objects.create(
        account=account, charge_box_id=f"ACME-{number}", node=node, is_connected=True, max_current_a=32
    )
    Connector.objects.create(charge_box=box, connector_id=1, status="Available", status_updated_at=timezone.now())
    location = Location(
        identity=account.ocpi_identities.get(), node=node, ocpi_id=f"L{number:03d}", address=f"Street {number}",
        city="Berlin", country="DEU", latitude="52.520008", longitude="13.404954", time_zone="Europe/Berlin",
    )  # fmt: skip
    return location_save(location=location)


def drain() -> None:
    """What the beat and the workers do with what is due, until nothing more goes out (in the quick start's eager
    mode a save, or a send, has already sent what it could)."""
    while any([outbox_send(message_pk) for message_pk in outbox_due()]):
        pass  # a sent change lets the next one of its object go


def test_changes_made_while_the_peer_is_down_all_arrive_once_it_is_back(daphne_server, peer, acme, settings):
    settings.OCPI_PUSH_MAX_ATTEMPTS = MAX_ATTEMPTS
    locations = [location_create(acme, number) for number in range(LOCATIONS)]
    party = Party.objects.create(account=acme, name="Peer", versions_url=f"{peer.url}/ocpi/versions")
    party.outgoing_token = peer.python(PEER_EMSP)
    party_register_with(party=party, base_url=daphne_server)
    party.refresh_from_db()
    held, stored = peer_holds(peer, pull=True)  # a new partner's first pull; from then on it pulls incrementally
    assert stored == len(held) == LOCATIONS

    peer.stop()
    for location in locations:
        location.address = f"New street {location.ocpi_id}"
        location_save(location=location)
    for location in locations:
        if location.ocpi_id in CHANGED_TWICE:
            location.name = f"Renamed {location.ocpi_id}"
            location_save(location=location)
    for number in range(LOCATIONS, LOCATIONS + NEW_LOCATIONS):
        location_create(acme, number)
    drain()  # the beat: each object's oldest change is tried (an eager save has tried it already) and fails
    waiting = OutboxMessage.objects.filter(sent_at=None, gave_up_at=None)
    assert waiting.count() == LOCATIONS + len(CHANGED_TWICE) + NEW_LOCATIONS
    second_changes = waiting.filter(body__name__startswith="Renamed")
    assert set(second_changes.values_list("attempts", flat=True)) == {0}  # each waits behind its object's first
    failed = waiting.exclude(pk__in=second_changes)
    assert all(m.attempts == 1 and "ConnectError" in m.last_error for m in failed)
    assert all(m.next_attempt_at > m.created_at + timedelta(seconds=10) for m in failed)  # retried after a backoff
    # The outage lasts until the pushes of GIVEN_UP are given up, and ends before the others' next retry.
    given_up_keys = [f"locations:DE:ACM:{ocpi_id}" for ocpi_id in GIVEN_UP]
    waiting.exclude(key__in=given_up_keys).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    for _ in range(MAX_ATTEMPTS - 1):
        waiting.filter(key__in=given_up_keys).update(next_attempt_at=timezone.now())  # backoff over, not waited out
        drain()
    given_up = OutboxMessage.objects.exclude(gave_up_at=None)
    assert sorted(m.key.rsplit(":", 1)[1] for m in given_up) == GIVEN_UP
    assert {m.attempts for m in given_up} == {MAX_ATTEMPTS}

    peer.start()  # at the same URL, which our endpoints for it name
    waiting.update(next_attempt_at=timezone.now())  # the backoff over
    drain()
    assert not waiting.exists()
    ours = our_locations(daphne_server, party.incoming_token)
    assert len(ours) == LOCATIONS + NEW_LOCATIONS
    held, _ = peer_holds(peer)
    only_given_up = [ocpi_id for ocpi_id in GIVEN_UP if ocpi_id not in CHANGED_TWICE]
    assert {ocpi_id for ocpi_id, (_, _, data) in held.items() if data != ours.get(ocpi_id)} == set(only_given_up)
    assert held["L001"][2]["address"] == "Street 1"  # its push was given up: the peer's pull brings it

    held, stored = peer_holds(peer, pull=True)
    assert stored == LOCATIONS + NEW_LOCATIONS
    assert len(held) == len(ours)
    assert {ocpi_id: data for ocpi_id, (_, _, data) in held.items()} == ours
    assert all(last_updated == data["last_updated"] for _, last_updated, data in held.values())
    assert ours["L001"]["address"] == "New street L001" and ours["L010"]["name"] == "Renamed L010"
    unsent = OutboxMessage.objects.filter(sent_at=None)
    assert all(m.gave_up_at is not None for m in unsent)
    assert sorted(m.key.rsplit(":", 1)[1] for m in unsent) == GIVEN_UP

    # Pulling again (the overlap brings the same objects) changes nothing.
    assert peer_holds(peer, pull=True)[0] == held
