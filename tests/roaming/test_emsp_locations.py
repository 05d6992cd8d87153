"""Locations, Receiver interface (we are the eMSP): partner CPOs push their locations, EVSEs and connectors; every
full location example of the 2.2.1 spec is accepted, and so are its PUT and PATCH examples."""

import base64
import json
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from roaming.choices import OcpiRole
from roaming.models import PartnerLocation

from ..factories import PartyFactory, PartyRoleFactory
from .ocpi_examples import EXAMPLES, example

pytestmark = pytest.mark.django_db
FULL_LOCATIONS = sorted(EXAMPLES.glob("location_example*.json"))
BASE = "/ocpi/emsp/2.2.1/locations"


@pytest.fixture
def cpo(account):
    """A partner that is the CPO of every location in the examples."""
    party = PartyFactory(account=account)
    owners = {(loc["country_code"], loc["party_id"]) for loc in map(json.loads, map(Path.read_text, FULL_LOCATIONS))}
    for country_code, party_id in sorted(owners):
        PartyRoleFactory(partner=party, role=OcpiRole.CPO, country_code=country_code, party_id=party_id)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + base64.b64encode(party.incoming_token.encode()).decode())
    client.party = party
    return client


def url_of(location: dict, *more: str) -> str:
    return "/".join([BASE, location["country_code"], location["party_id"], location["id"], *more])


@pytest.mark.parametrize("path", FULL_LOCATIONS, ids=[p.name for p in FULL_LOCATIONS])
def test_every_full_location_example_is_accepted_and_read_back(cpo, path):
    location = json.loads(path.read_text())
    response = cpo.put(url_of(location), location, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status_code"] == 1000
    assert cpo.get(url_of(location)).json()["data"] == location


def test_the_put_and_patch_examples_apply_to_the_stored_location(cpo):
    location = example("location_example.json")  # BE*BEC LOC1, EVSEs 3256 and 3257
    cpo.put(url_of(location), location, format="json")

    assert (
        cpo.patch(url_of(location), example("location_patch_example_location.json"), format="json").status_code == 200
    )
    assert (
        cpo.put(url_of(location, "3256"), example("location_put_example_add_evse.json"), format="json").status_code
        == 200
    )
    assert (
        cpo.patch(url_of(location, "3257"), example("location_patch_example_status.json"), format="json").status_code
        == 200
    )
    tariff = example("location_patch_example_tariff.json")
    assert cpo.patch(url_of(location, "3257", "1"), tariff, format="json").status_code == 200

    stored = cpo.get(url_of(location)).json()["data"]
    assert stored["name"] == "Interparking Gent Zuid"
    evses = {evse["uid"]: evse for evse in stored["evses"]}
    assert evses["3256"]["evse_id"] == "BE*BEC*E041503003"
    assert evses["3257"]["status"] == "CHARGING"
    assert evses["3257"]["connectors"][0]["tariff_ids"] == ["15"]
    assert stored["last_updated"] == "2019-06-24T12:39:09Z"
    cpo.patch(url_of(location, "3257"), example("location_patch_example_remove_evse.json"), format="json")
    assert cpo.get(url_of(location, "3257")).json()["data"]["status"] == "REMOVED"


def test_an_older_copy_does_not_overwrite_a_newer_one(cpo):
    location = example("location_example.json")
    cpo.put(url_of(location), {**location, "name": "new", "last_updated": "2020-01-01T00:00:00Z"}, format="json")
    cpo.put(url_of(location), {**location, "name": "old"}, format="json")  # last_updated 2015
    assert cpo.get(url_of(location)).json()["data"]["name"] == "new"


def test_a_cpo_writes_only_its_own_locations(cpo):
    location = {**example("location_example.json"), "country_code": "FR", "party_id": "XYZ"}
    response = cpo.put(url_of(location), location, format="json")
    assert response.status_code == 403 and response.json()["status_code"] == 2000
    assert not PartnerLocation.objects.exists()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"address": None}, "address"),
        ({"coordinates": {"latitude": "51.0", "longitude": "3.729944"}}, "coordinates.latitude"),
        ({"country": "BE"}, "country"),
        ({"last_updated": "yesterday"}, "last_updated"),
        ({"evses": [{"uid": "1", "status": "SLEEPING", "connectors": [], "last_updated": "2019-06-24T12:39:09Z"}]},
         "evses[0].status"),
    ],
)  # fmt: skip
def test_a_bad_location_is_a_2001_naming_the_field_and_nothing_is_stored(cpo, change, field):
    location = {**example("location_example.json"), **change}
    response = cpo.put(url_of(location), location, format="json")
    assert response.status_code == 400 and response.json()["status_code"] == 2001
    assert f"Invalid location: {field}:" in response.json()["status_message"]
    assert not PartnerLocation.objects.exists()


def test_a_patch_needs_last_updated_and_a_known_location(cpo):
    location = example("location_example.json")
    response = cpo.patch(url_of(location), {"name": "x"}, format="json")
    assert response.status_code == 400 and response.json()["status_code"] == 2001
    response = cpo.patch(url_of(location), {"name": "x", "last_updated": "2019-06-24T12:39:09Z"}, format="json")
    assert response.status_code == 404 and response.json()["status_code"] == 2003


def test_invalid_json_is_a_400_and_ids_must_match_the_url(cpo):
    location = example("location_example.json")
    response = cpo.generic("PUT", url_of(location), "{", content_type="application/json")
    assert response.status_code == 400
    response = cpo.put(url_of({**location, "id": "OTHER"}), location, format="json")
    assert response.status_code == 400 and response.json()["status_code"] == 2001


def test_a_late_patch_changes_nothing_and_a_patch_may_not_rename(cpo):
    location = example("location_example.json")
    cpo.put(url_of(location), location, format="json")
    evse = location["evses"][0]
    late = {"status": "CHARGING", "last_updated": "2001-01-01T00:00:00Z"}
    assert cpo.patch(url_of(location, evse["uid"]), late, format="json").status_code == 200
    assert PartnerLocation.objects.get().data["evses"][0]["status"] == evse["status"]
    renamed = {"uid": "OTHER", "last_updated": "2030-01-01T00:00:00Z"}
    response = cpo.patch(url_of(location, evse["uid"]), renamed, format="json")
    assert response.status_code == 400 and response.json()["status_message"].startswith("uid: cannot be changed")
