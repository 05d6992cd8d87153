"""CiStrings (country codes, party ids, and the ids the OCPI 2.2.1 spec types CiString: location, EVSE, connector,
token, session, CDR, tariff and reservation ids) are case-insensitive: whatever case a partner writes them in, in a
URL or a body, they name the same object, one row; what it sent is kept as sent."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from roaming.choices import OcpiRole
from roaming.models import Location, PartnerLocation, PartnerObject, PartnerToken, Tariff
from roaming.services.pull import partner_tokens_pull

from ..e2e.ocpi_scripted_partner import scripted_partner
from ..factories import (
    ChargeBoxFactory,
    ConnectorFactory,
    LocationFactory,
    NodeFactory,
    OcpiIdentityFactory,
    PartyFactory,
    PartyRoleFactory,
)
from .clients import client_of

pytestmark = pytest.mark.django_db


def token(**changes) -> dict:
    body = {
        "country_code": "NL", "party_id": "EX1", "uid": "ABC123", "type": "RFID", "contract_id": "NL-EX1-C1",
        "issuer": "Example", "valid": True, "whitelist": "ALLOWED", "last_updated": "2026-01-01T10:00:00Z",
    }  # fmt: skip
    return {**body, **changes}


def location(**changes) -> dict:
    body = {
        "country_code": "NL", "party_id": "EX1", "id": "BUILDING-A-F2", "publish": True, "address": "Main 1",
        "city": "Utrecht", "country": "NLD", "coordinates": {"latitude": "52.090000", "longitude": "5.120000"},
        "time_zone": "Europe/Amsterdam", "last_updated": "2026-01-01T10:00:00Z",
        "evses": [{
            "uid": "EVSE-A", "status": "AVAILABLE", "last_updated": "2026-01-01T10:00:00Z",
            "connectors": [{
                "id": "CON-1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                "max_voltage": 230, "max_amperage": 16, "last_updated": "2026-01-01T10:00:00Z",
            }],
        }],
    }  # fmt: skip
    return {**body, **changes}


@pytest.fixture
def partner(account):
    """NL*EX1 in both roles: its tokens reach us as CPO, its locations, sessions, tariffs and CDRs as eMSP."""
    party = PartyFactory(account=account, name="Example")
    for role in (OcpiRole.CPO, OcpiRole.EMSP):
        PartyRoleFactory(partner=party, role=role, country_code="NL", party_id="EX1")
    return client_of(party)


def test_a_token_put_to_a_lower_case_url_is_the_partys_and_found_in_any_case(partner):
    response = partner.put("/ocpi/cpo/2.2.1/tokens/nl/ex1/abc123?type=RFID", token(), format="json")
    assert response.status_code == 200, response.json()
    assert partner.get("/ocpi/cpo/2.2.1/tokens/NL/EX1/ABC123?type=RFID").json()["data"] == token()
    patch = {"valid": False, "last_updated": "2026-01-02T10:00:00Z"}
    assert partner.patch("/ocpi/cpo/2.2.1/tokens/Nl/eX1/aBc123?type=RFID", patch, format="json").status_code == 200
    stored = PartnerToken.objects.get()
    assert (stored.country_code, stored.party_id, stored.uid, stored.valid) == ("nl", "ex1", "abc123", False)


def test_a_token_whose_body_is_lower_cased_is_stored_as_sent(partner):
    sent = token(country_code="nl", party_id="ex1", uid="abc123")
    assert partner.put("/ocpi/cpo/2.2.1/tokens/NL/EX1/ABC123", sent, format="json").status_code == 200
    assert partner.get("/ocpi/cpo/2.2.1/tokens/NL/EX1/abc123").json()["data"] == sent
    newer = token(uid="ABC123", last_updated="2026-01-02T10:00:00Z")
    assert partner.put("/ocpi/cpo/2.2.1/tokens/NL/EX1/ABC123", newer, format="json").status_code == 200
    assert PartnerToken.objects.count() == 1
    assert PartnerToken.objects.get().data == newer


def test_a_pulled_token_of_a_partner_that_lower_cases_ids_is_stored(account):
    """We are the CPO and page through the eMSP's tokens (a live partner answering the list)."""
    with scripted_partner() as emsp:
        party = PartyFactory(
            account=account,
            role=None,
            versions_url=f"{emsp.url}/ocpi/versions",
            endpoints=[{"identifier": "tokens", "role": "SENDER", "url": f"{emsp.url}/ocpi/emsp/2.2.1/tokens"}],
        )
        PartyRoleFactory(partner=party, role=OcpiRole.EMSP, country_code="NL", party_id="EX1")
        pulled = [token(country_code="nl", party_id="ex1", uid=f"card{n}") for n in range(3)]
        emsp.answer = {"status_code": 1000, "timestamp": "2026-01-01T10:00:00Z", "data": pulled}
        assert partner_tokens_pull(party=party) == 3
        assert sorted(PartnerToken.objects.values_list("uid", flat=True)) == ["card0", "card1", "card2"]
        again = [token(uid=f"CARD{n}", last_updated="2026-01-02T10:00:00Z") for n in range(3)]
        emsp.answer["data"] = again
        assert partner_tokens_pull(party=party) == 3
    assert PartnerToken.objects.count() == 3  # the same tokens, not three more
    assert all(t.ocpp_tag_id and not t.problem for t in PartnerToken.objects.all())


def test_a_partner_location_is_found_evse_and_connector_in_any_case(partner):
    assert partner.put("/ocpi/emsp/2.2.1/locations/NL/EX1/BUILDING-A-F2", location(), format="json").status_code == 200
    assert partner.get("/ocpi/emsp/2.2.1/locations/nl/ex1/building-a-f2").json()["data"] == location()
    evse = partner.get("/ocpi/emsp/2.2.1/locations/nl/ex1/building-a-f2/evse-a").json()
    assert evse["data"]["uid"] == "EVSE-A"
    connector = "/ocpi/emsp/2.2.1/locations/nl/ex1/building-a-f2/evse-a/con-1"
    assert partner.get(connector).json()["data"]["id"] == "CON-1"
    patch = {"max_electric_power": 11000, "last_updated": "2026-01-02T10:00:00Z"}
    assert partner.patch(connector, patch, format="json").status_code == 200
    # The EVSE again under another spelling replaces it; the location again under another spelling is the same row.
    evse_body = {
        **location()["evses"][0],
        "uid": "evse-a",
        "status": "CHARGING",
        "last_updated": "2026-01-03T10:00:00Z",
    }
    response = partner.put("/ocpi/emsp/2.2.1/locations/NL/EX1/building-a-f2/EVSE-A", evse_body, format="json")
    assert response.status_code == 200, response.json()
    assert [e["status"] for e in PartnerLocation.objects.get().data["evses"]] == ["CHARGING"]
    newer = location(id="building-a-f2", last_updated="2026-01-04T10:00:00Z")
    assert partner.put("/ocpi/emsp/2.2.1/locations/nl/ex1/building-a-f2", newer, format="json").status_code == 200
    stored = PartnerLocation.objects.get()
    assert (stored.ocpi_id, stored.data["id"]) == ("BUILDING-A-F2", "building-a-f2")


def test_a_partner_session_tariff_and_cdr_are_found_in_any_case(partner):
    session = {
        "country_code": "NL", "party_id": "EX1", "id": "Sess-1", "start_date_time": "2026-01-01T10:00:00Z",
        "kwh": 1.5, "auth_method": "WHITELIST", "location_id": "BUILDING-A-F2", "evse_uid": "EVSE-A",
        "connector_id": "CON-1", "currency": "EUR", "status": "ACTIVE", "last_updated": "2026-01-01T10:00:00Z",
        "cdr_token": {"country_code": "DE", "party_id": "ACM", "uid": "T1", "type": "RFID", "contract_id": "C1"},
    }  # fmt: skip
    assert partner.put("/ocpi/emsp/2.2.1/sessions/NL/EX1/Sess-1", session, format="json").status_code == 200
    patch = {"kwh": 3.0, "last_updated": "2026-01-01T11:00:00Z"}
    assert partner.patch("/ocpi/emsp/2.2.1/sessions/nl/ex1/SESS-1", patch, format="json").status_code == 200
    assert partner.get("/ocpi/emsp/2.2.1/sessions/nl/ex1/sess-1").json()["data"]["kwh"] == 3.0

    tariff = {
        "country_code": "nl", "party_id": "ex1", "id": "tariff-1", "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}],
        "last_updated": "2026-01-01T10:00:00Z",
    }  # fmt: skip
    assert partner.put("/ocpi/emsp/2.2.1/tariffs/NL/EX1/TARIFF-1", tariff, format="json").status_code == 200
    assert partner.delete("/ocpi/emsp/2.2.1/tariffs/Nl/Ex1/Tariff-1").status_code == 200

    cdr = {
        "country_code": "NL", "party_id": "EX1", "id": "cdr-1", "start_date_time": "2026-01-01T10:00:00Z",
        "end_date_time": "2026-01-01T11:00:00Z", "auth_method": "WHITELIST", "currency": "EUR",
        "cdr_token": session["cdr_token"],
        "cdr_location": {
            "id": "BUILDING-A-F2", "address": "Main 1", "city": "Utrecht", "country": "NLD",
            "coordinates": {"latitude": "52.090000", "longitude": "5.120000"}, "evse_uid": "EVSE-A",
            "evse_id": "NL*EX1*E1", "connector_id": "CON-1", "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET", "connector_power_type": "AC_3_PHASE",
        },
        "charging_periods": [
            {"start_date_time": "2026-01-01T10:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 3}]}
        ],
        "total_cost": {"excl_vat": 1.0}, "total_energy": 3.0, "total_time": 1.0,
        "last_updated": "2026-01-01T11:00:00Z",
    }  # fmt: skip
    first = partner.post("/ocpi/emsp/2.2.1/cdrs", cdr, format="json")
    again = partner.post("/ocpi/emsp/2.2.1/cdrs", {**cdr, "id": "CDR-1", "party_id": "ex1"}, format="json")
    assert first.status_code == again.status_code == 201
    assert first["Location"] == again["Location"]  # the same CDR: stored once
    assert PartnerObject.objects.filter(module="cdrs").count() == 1


def test_our_location_evse_and_connector_are_found_in_any_case(account):
    identity = OcpiIdentityFactory(account=account, country_code="DE", party_id="ACM")
    garage = LocationFactory(identity=identity, ocpi_id="BUILDING-A-F2", node=NodeFactory(account=account))
    box = ChargeBoxFactory(node=garage.node, max_current_a=32)
    evse = ConnectorFactory(charge_box=box, connector_id=1, status="Available")
    client = client_of(PartyFactory(account=account))
    base = "/ocpi/cpo/2.2.1/locations/building-a-f2"
    assert client.get(base).json()["data"]["id"] == "BUILDING-A-F2"
    assert client.get(f"{base}/{evse.pk}/1").json()["status_code"] == 1000


CISTRING_COLUMNS = {"country_code", "party_id", "ocpi_id", "uid"}


@pytest.mark.parametrize(
    ("model", "row"),
    [
        (PartnerLocation, {"country_code": "NL", "party_id": "EX1", "ocpi_id": "Building-A", "last_updated": "now"}),
        (PartnerToken, {"country_code": "NL", "party_id": "EX1", "uid": "Card", "type": "RFID", "valid": True}),
        (
            PartnerObject,
            {"module": "sessions", "country_code": "NL", "party_id": "EX1", "ocpi_id": "S", "last_updated": "now"},
        ),
    ],
)
def test_two_spellings_of_one_id_cannot_be_two_rows(partner, model, row):
    """The database holds to it too (a push and a pull of one object in two spellings at once)."""
    row = {**row, "last_updated": timezone.now(), "partner": partner.party, "data": {}}
    model.objects.create(**row)
    for case in (str.upper, str.lower):
        spelling = {key: case(value) if key in CISTRING_COLUMNS else value for key, value in row.items()}
        with pytest.raises(IntegrityError), transaction.atomic():
            model.objects.create(**spelling)


def test_our_ids_are_unique_ignoring_case(account):
    identity = OcpiIdentityFactory(account=account, country_code="DE", party_id="ACM")
    LocationFactory(identity=identity, ocpi_id="Garage", node=NodeFactory(account=account))
    with pytest.raises(IntegrityError), transaction.atomic():
        LocationFactory(identity=identity, ocpi_id="GARAGE", node=NodeFactory(account=account))
    Tariff.objects.create(identity=identity, ocpi_id="Std", currency="EUR", elements=[])
    with pytest.raises(IntegrityError), transaction.atomic():
        Tariff.objects.create(identity=identity, ocpi_id="STD", currency="EUR", elements=[])
    assert Location.objects.count() == 1


def test_a_command_names_our_location_and_its_token_in_any_case(account, django_capture_on_commit_callbacks):
    identity = OcpiIdentityFactory(account=account, country_code="DE", party_id="ACM")
    node = NodeFactory(account=account, name="Garage")
    box = ChargeBoxFactory(node=node, charge_box_id="ACME-1", max_current_a=32)
    evse = ConnectorFactory(charge_box=box, connector_id=1, status="Available")
    LocationFactory(identity=identity, node=node, ocpi_id="GARAGE")
    party = PartyFactory(account=account, name="Mobility", versions_url="http://127.0.0.1:9/ocpi/versions")
    PartyRoleFactory(partner=party, role=OcpiRole.EMSP, country_code="NL", party_id="EX1")
    emsp = client_of(party)
    assert emsp.put("/ocpi/cpo/2.2.1/tokens/NL/EX1/ABC123", token(), format="json").status_code == 200
    body = {
        "response_url": "http://127.0.0.1:9/ocpi/emsp/2.2.1/commands/result/1",
        "token": token(country_code="nl", party_id="ex1", uid="abc123", last_updated="2026-01-02T10:00:00Z"),
        "location_id": "garage",
        "evse_uid": str(evse.pk),
    }
    with django_capture_on_commit_callbacks(execute=False):
        response = emsp.post("/ocpi/cpo/2.2.1/commands/START_SESSION", body, format="json")
    assert response.json()["data"]["result"] == "ACCEPTED", response.json()
    assert PartnerToken.objects.count() == 1  # the token of the command is the one pushed before
