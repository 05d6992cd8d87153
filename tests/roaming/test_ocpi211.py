"""OCPI 2.1.1 at the edge (roaming.ocpi211): a 2.1.1 partner's objects are accepted and stored as 2.2.1's, what it
reads of ours is in 2.1.1's shape, and a partner whose 2.1.1 role nobody chose is told so."""

import base64

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from roaming.models import PartnerLocation, PartnerObject, PartnerToken
from roaming.objects import CdrSerializer, LocationSerializer, SessionSerializer, TariffSerializer

from ..factories import (
    ChargeBoxFactory,
    ConnectorFactory,
    LocationFactory,
    OcpiIdentityFactory,
    PartyFactory,
    PartyRoleFactory,
)
from .clients import client_of

pytestmark = pytest.mark.django_db

LOCATION_211 = {
    "id": "1012",
    "type": "PARKING_LOT",
    "name": "Station square",
    "address": "Stationsplein 1",
    "city": "Utrecht",
    "postal_code": "3511",
    "country": "NLD",
    "coordinates": {"latitude": "52.089444", "longitude": "5.110278"},
    "evses": [
        {
            "uid": "3255",
            "status": "AVAILABLE",
            "connectors": [
                {
                    "id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                    "voltage": 230, "amperage": 16, "tariff_id": "11", "last_updated": "2026-01-01T10:00:00Z",
                }
            ],
            "last_updated": "2026-01-01T10:00:00Z",
        }
    ],
    "last_updated": "2026-01-01T10:00:00Z",
}  # fmt: skip
TOKEN_211 = {
    "uid": "012345678", "type": "RFID", "auth_id": "NL-OLD-C12345", "issuer": "Old Mobility", "valid": True,
    "whitelist": "ALLOWED", "last_updated": "2026-01-01T10:00:00Z",
}  # fmt: skip


@pytest.fixture
def cpo_211(account):
    party = PartyFactory(account=account, version="2.1.1", ocpi211_role="CPO", role=None)
    PartyRoleFactory(partner=party, role="CPO", country_code="NL", party_id="OLD")
    return client_of(party, plain=True)


def test_a_211_location_its_patch_and_an_evse_are_stored_as_221(cpo_211):
    url = "/ocpi/emsp/2.1.1/locations/NL/OLD/1012"
    assert cpo_211.put(url, LOCATION_211, format="json").status_code == 200
    stored = PartnerLocation.objects.get().data
    assert LocationSerializer(data=stored).is_valid()
    assert (stored["country_code"], stored["party_id"], stored["parking_type"]) == ("NL", "OLD", "PARKING_LOT")
    connector = stored["evses"][0]["connectors"][0]
    assert (connector["max_voltage"], connector["max_amperage"], connector["tariff_ids"]) == (230, 16, ["11"])

    before = timezone.now().replace(microsecond=0)
    assert cpo_211.patch(f"{url}/3255", {"status": "CHARGING"}, format="json").status_code == 200  # no last_updated
    stored = PartnerLocation.objects.get()
    assert stored.data["evses"][0]["status"] == "CHARGING" and stored.last_updated >= before
    assert cpo_211.patch(f"{url}/3255/1", {"tariff_id": "15"}, format="json").status_code == 200
    assert PartnerLocation.objects.get().data["evses"][0]["connectors"][0]["tariff_ids"] == ["15"]

    read_back = cpo_211.get(url).json()["data"]
    assert read_back["type"] == "PARKING_LOT" and "country_code" not in read_back
    assert read_back["evses"][0]["connectors"][0]["tariff_id"] == "15"


def test_a_211_location_breaking_the_rules_is_refused_naming_the_field(cpo_211):
    broken = {**LOCATION_211, "coordinates": {"latitude": "north"}}
    response = cpo_211.put("/ocpi/emsp/2.1.1/locations/NL/OLD/1012", broken, format="json")
    assert response.status_code == 400 and "coordinates.latitude" in response.json()["status_message"]
    assert not PartnerLocation.objects.exists()


def test_a_211_token_is_stored_as_221_and_read_back_in_211(account):
    emsp = PartyFactory(account=account, version="2.1.1", ocpi211_role="EMSP", role=None)
    PartyRoleFactory(partner=emsp, role="EMSP", country_code="NL", party_id="OLD")
    client = client_of(emsp, plain=True)
    url = "/ocpi/cpo/2.1.1/tokens/NL/OLD/012345678?type=RFID"
    assert client.put(url, TOKEN_211, format="json").status_code == 200
    token = PartnerToken.objects.get()
    assert (token.contract_id, token.ocpp_tag.id_tag) == ("NL-OLD-C12345", "012345678")
    assert client.patch(url, {"valid": False}, format="json").status_code == 200  # no last_updated in 2.1.1
    assert PartnerToken.objects.get().ocpp_tag.blocked
    patched = PartnerToken.objects.get().data["last_updated"]
    assert client.get(url).json()["data"] == {**TOKEN_211, "valid": False, "last_updated": patched}


def test_our_locations_in_211s_shape_and_a_partner_without_a_211_role(account):
    location = LocationFactory(identity__account=account, parking_type="ON_DRIVEWAY")
    ConnectorFactory(charge_box=ChargeBoxFactory(account=account, node=location.node), connector_id=1)
    emsp = PartyFactory(account=account, version="2.1.1", ocpi211_role="EMSP")
    (listed,) = client_of(emsp, plain=True).get("/ocpi/cpo/2.1.1/locations").json()["data"]
    assert listed["type"] == "OTHER" and "publish" not in listed and "country_code" not in listed
    assert set(listed["evses"][0]["connectors"][0]) >= {"voltage", "amperage"}

    undecided = PartyFactory(account=account, state="invited", ocpi211_role="")
    details = APIClient().get(
        "/ocpi/2.1.1/details",
        HTTP_AUTHORIZATION="Token " + base64.b64encode(undecided.incoming_token.encode()).decode(),
    )
    assert details.status_code == 400 and details.json()["status_code"] == 3003
    assert "role is not set" in details.json()["status_message"]


SESSION_211 = {
    "id": "S101", "start_datetime": "2026-01-01T10:00:00Z", "end_datetime": "2026-01-01T11:00:00Z", "kwh": 11.5,
    "auth_id": "DE-ACM-C12345", "auth_method": "WHITELIST",
    "location": {**LOCATION_211, "evses": LOCATION_211["evses"][:1]}, "currency": "EUR",
    "total_cost": 4.6, "status": "COMPLETED", "last_updated": "2026-01-01T11:00:00Z",
}  # fmt: skip


def test_a_211_cpos_session_cdr_and_tariff_are_stored_as_221(cpo_211, account):
    OcpiIdentityFactory(account=account, country_code="DE", party_id="ACM")
    assert cpo_211.put("/ocpi/emsp/2.1.1/sessions/NL/OLD/S101", SESSION_211, format="json").status_code == 200
    session = PartnerObject.objects.get(module="sessions").data
    assert SessionSerializer(data=session).is_valid()
    assert (session["location_id"], session["evse_uid"], session["connector_id"]) == ("1012", "3255", "1")
    token = session["cdr_token"]
    assert (token["country_code"], token["party_id"], token["type"]) == ("DE", "ACM", "OTHER")
    assert token["uid"] == token["contract_id"] == "DE-ACM-C12345"
    assert session["total_cost"] == {"excl_vat": 4.6}

    period = {"start_date_time": "2026-01-01T10:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 11.5}]}
    cdr = {
        "id": "CDR101", "start_date_time": "2026-01-01T10:00:00Z", "stop_date_time": "2026-01-01T11:00:00Z",
        "auth_id": "DE-ACM-C12345", "auth_method": "WHITELIST", "location": SESSION_211["location"],
        "currency": "EUR", "charging_periods": [period], "total_cost": 4.6, "total_energy": 11.5, "total_time": 1.0,
        "last_updated": "2026-01-01T11:00:00Z",
    }  # fmt: skip
    posted = cpo_211.post("/ocpi/emsp/2.1.1/cdrs", cdr, format="json")
    assert posted.status_code == 201 and "/ocpi/emsp/2.1.1/cdrs/" in posted["Location"]
    stored = PartnerObject.objects.get(module="cdrs").data
    assert CdrSerializer(data=stored).is_valid()
    assert stored["cdr_location"]["evse_uid"] == "3255" and stored["total_cost"] == {"excl_vat": 4.6}

    tariff = {
        "id": "11", "currency": "EUR", "last_updated": "2026-01-01T10:00:00Z",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.4, "step_size": 1}]}],
    }  # fmt: skip
    assert cpo_211.put("/ocpi/emsp/2.1.1/tariffs/NL/OLD/11", tariff, format="json").status_code == 200
    assert TariffSerializer(data=PartnerObject.objects.get(module="tariffs").data).is_valid()
