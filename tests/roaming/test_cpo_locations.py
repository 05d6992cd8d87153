"""Locations, Sender interface (we are the CPO): our site nodes and charge boxes as OCPI Locations, paginated, each
object checked against the 2.2.1 field rules."""

import base64
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from roaming.models import Location
from roaming.objects import ConnectorSerializer, LocationSerializer

from ..factories import (
    ChargeBoxFactory,
    ConnectorFactory,
    LocationFactory,
    NodeFactory,
    OcpiIdentityFactory,
    PartyFactory,
)

pytestmark = pytest.mark.django_db
LOCATIONS = "/ocpi/cpo/2.2.1/locations"


@pytest.fixture
def identity(account):
    return OcpiIdentityFactory(account=account, country_code="DE", party_id="ACM")


@pytest.fixture
def partner(identity):
    party = PartyFactory(account=identity.account)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + base64.b64encode(party.incoming_token.encode()).decode())
    return client


def garage(identity, *, boxes=2, ocpi_id="GARAGE"):
    """A location on a building node; its charge boxes sit on floors below it, two connectors each."""
    location = LocationFactory(identity=identity, ocpi_id=ocpi_id, node=NodeFactory(account=identity.account))
    floor = NodeFactory(parent=location.node)
    for _ in range(boxes):
        box = ChargeBoxFactory(node=floor, max_current_a=32, is_connected=True)
        ConnectorFactory(charge_box=box, connector_id=0, status="Available")  # the box itself: no EVSE
        ConnectorFactory(charge_box=box, connector_id=1, status="Charging", status_updated_at=timezone.now())
        ConnectorFactory(charge_box=box, connector_id=2, status="Faulted", status_updated_at=timezone.now())
    return location


def test_a_location_lists_the_connectors_of_its_subtree_as_evses_in_the_spec_shape(identity, partner):
    garage(identity)
    response = partner.get(LOCATIONS)
    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 1000
    (location,) = body["data"]
    serializer = LocationSerializer(data=location)
    assert serializer.is_valid(), serializer.errors
    for connector in (c for evse in location["evses"] for c in evse["connectors"]):
        assert ConnectorSerializer(data=connector).is_valid()  # complete on its own, as the Sender must send it
    assert (location["country_code"], location["party_id"], location["id"]) == ("DE", "ACM", "GARAGE")
    assert location["coordinates"] == {"latitude": "52.520008", "longitude": "13.404954"}
    assert [evse["status"] for evse in location["evses"]] == ["CHARGING", "OUTOFORDER", "CHARGING", "OUTOFORDER"]
    first = location["evses"][0]
    assert first["evse_id"].startswith("DE*ACM*ECB") and first["evse_id"].endswith("*1")
    assert first["connectors"][0]["power_type"] == "AC_3_PHASE" and first["connectors"][0]["max_amperage"] == 32


def test_an_offline_charger_has_unknown_evses(identity, partner):
    location = garage(identity, boxes=1)
    location.node.get_descendants()[0].charge_boxes.update(is_connected=False, disconnected_at=timezone.now())
    (data,) = partner.get(LOCATIONS).json()["data"]
    assert {evse["status"] for evse in data["evses"]} == {"UNKNOWN"}


def test_pages_follow_the_link_with_the_filters_kept_oldest_first(identity, partner):
    for index in range(5):
        garage(identity, boxes=1, ocpi_id=f"LOC{index}")
    since = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    seen, url, pages = [], f"{LOCATIONS}?limit=2&date_from={since}", 0
    while url:
        response = partner.get(url)
        assert response["X-Total-Count"] == "5" and response["X-Limit"] == "2"
        seen += [location["id"] for location in response.json()["data"]]
        pages += 1
        link = response.get("Link")
        if link:
            assert f"date_from={since.replace(':', '%3A')}" in link and link.endswith('>; rel="next"')
            parts = urlsplit(link[1 : link.index(">")])
            url = f"{parts.path}?{parts.query}"
        else:
            url = None
    assert pages == 3 and sorted(seen) == [f"LOC{i}" for i in range(5)] and len(set(seen)) == 5
    updated = [Location.objects.get(ocpi_id=i).updated_at for i in seen]
    assert updated == sorted(updated)


def test_date_from_finds_a_location_whose_evse_status_changed(identity, partner):
    location = garage(identity, boxes=1)
    Location.objects.filter(pk=location.pk).update(updated_at=timezone.now() - timedelta(days=2))
    old_box = location.node.get_descendants()[0].charge_boxes.get()
    type(old_box).objects.filter(pk=old_box.pk).update(updated_at=timezone.now() - timedelta(days=2))
    old_box.connectors.update(status_updated_at=timezone.now() - timedelta(days=2))
    yesterday = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert partner.get(f"{LOCATIONS}?date_from={yesterday}").json()["data"] == []

    old_box.connectors.filter(connector_id=1).update(status="Available", status_updated_at=timezone.now())

    (found,) = partner.get(f"{LOCATIONS}?date_from={yesterday}").json()["data"]
    assert found["evses"][0]["status"] == "AVAILABLE"


def test_one_location_evse_and_connector_and_unknown_ones(identity, partner):
    garage(identity, boxes=1)
    (location,) = partner.get(LOCATIONS).json()["data"]
    uid = location["evses"][1]["uid"]
    assert partner.get(f"{LOCATIONS}/GARAGE").json()["data"]["id"] == "GARAGE"
    assert partner.get(f"{LOCATIONS}/GARAGE/{uid}").json()["data"]["status"] == "OUTOFORDER"
    assert partner.get(f"{LOCATIONS}/GARAGE/{uid}/1").json()["data"]["standard"] == "IEC_62196_T2"
    for path in ("NOPE", "GARAGE/nope", f"GARAGE/{uid}/9"):
        response = partner.get(f"{LOCATIONS}/{path}")
        assert response.status_code == 404 and response.json()["status_code"] == 2003


def test_only_the_partners_account_locations_and_only_registered_partners(identity, partner, other_account):
    garage(identity)
    other = OcpiIdentityFactory(account=other_account, country_code="NL", party_id="RIV")
    garage(other, ocpi_id="RIVAL")
    assert [location["id"] for location in partner.get(LOCATIONS).json()["data"]] == ["GARAGE"]
    invited = PartyFactory(account=identity.account, state="invited")
    token_a = APIClient()
    token_a.credentials(HTTP_AUTHORIZATION="Token " + base64.b64encode(invited.incoming_token.encode()).decode())
    response = token_a.get(LOCATIONS)
    assert response.status_code == 401 and response.json()["status_code"] == 2000


@pytest.mark.parametrize("query", ["limit=0", "offset=-1", "limit=x", "date_from=yesterday", "date_to=2026-01-01"])
def test_bad_pagination_parameters_are_a_2001(identity, partner, query):
    response = partner.get(f"{LOCATIONS}?{query}")
    assert response.status_code == 400 and response.json()["status_code"] == 2001


def test_the_page_size_is_capped(identity, partner, settings):
    settings.OCPI_PAGE_LIMIT = 2
    for index in range(3):
        garage(identity, boxes=1, ocpi_id=f"LOC{index}")
    response = partner.get(f"{LOCATIONS}?limit=50")
    assert len(response.json()["data"]) == 2 and response["X-Limit"] == "2" and "Link" in response


def test_the_next_page_link_is_at_our_public_address(identity, partner, settings):
    settings.OCPI_PAGE_LIMIT = 1
    settings.OCPI_PUBLIC_URL = "https://ocpi.example.com"
    LocationFactory.create_batch(2, identity=identity)
    link = partner.get("/ocpi/cpo/2.2.1/locations")["Link"]
    assert link.startswith("<https://ocpi.example.com/ocpi/cpo/2.2.1/locations?offset=1&limit=1>")
