"""Sessions, CDRs and tariffs over OCPI 2.2.1, both ways round.

As eMSP we receive partner CPOs' (Receiver interfaces): every example of the spec is accepted and read back, a PATCH
appends its charging periods, a CDR is stored once and never changed, a CPO writes only under its own country code
and party id, and a refused object leaves nothing behind. As CPO we offer ours (Sender interfaces): a partner eMSP
sees only its customers' sessions and CDRs, paginated, each valid by the field rules, priced by the version of the
tariff in force when the session started."""

import copy
import json
from datetime import timedelta
from types import SimpleNamespace
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from ocpp_core.models import MeterValue, Transaction
from roaming.choices import OcpiRole
from roaming.models import Cdr, OutboxMessage, PartnerObject, PartnerToken, Tariff, TariffVersion
from roaming.objects import CdrSerializer, SessionSerializer, TariffSerializer
from roaming.services.partner_tokens import partner_token_put
from roaming.services.sessions import NothingToSend, cdr_issue
from roaming.services.tariffs import tariff_save

from ..factories import (
    ChargeBoxFactory,
    ConnectorFactory,
    LocationFactory,
    NodeFactory,
    OcpiIdentityFactory,
    PartyFactory,
    PartyRoleFactory,
    TransactionFactory,
)
from .clients import client_of
from .ocpi_examples import EXAMPLES, example

pytestmark = pytest.mark.django_db
SESSIONS = sorted(EXAMPLES.glob("session_example_*.json"))
# The restriction examples are whole tariffs too; the PUT example is one without last_updated.
TARIFFS = sorted([*EXAMPLES.glob("tariff_*.json"), *EXAMPLES.glob("tariffrestriction_example_*.json")])
EMSP = "/ocpi/emsp/2.2.1"
CPO = "/ocpi/cpo/2.2.1"


def ocpi_time(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def owned_url(module: str, body: dict) -> str:
    return f"{EMSP}/{module}/{body['country_code']}/{body['party_id']}/{body['id']}"


# We are the eMSP: partner CPOs push their sessions, CDRs and tariffs.


@pytest.fixture
def cpo(account):
    """A partner that is the CPO of every session, CDR and tariff in the examples (NL*STK, BE*BEC, DE*ALL)."""
    party = PartyFactory(account=account, name="Charging Co", role=None)
    for country_code, party_id in (("NL", "STK"), ("BE", "BEC"), ("DE", "ALL")):
        PartyRoleFactory(partner=party, role=OcpiRole.CPO, country_code=country_code, party_id=party_id)
    return client_of(party)


@pytest.mark.parametrize("path", SESSIONS, ids=[p.name for p in SESSIONS])
def test_every_session_example_is_accepted_and_read_back(cpo, path):
    session = json.loads(path.read_text())
    response = cpo.put(owned_url("sessions", session), session, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status_code"] == 1000
    assert cpo.get(owned_url("sessions", session)).json()["data"] == session


def test_the_patch_examples_apply_and_append_their_charging_periods(cpo):
    session = example("session_example_2_short_finished.json")  # three charging periods, last_updated 2015
    url = owned_url("sessions", session)
    cpo.put(url, session, format="json")

    total_cost = example("session_patch_example_total_cost.json")
    assert cpo.patch(url, total_cost, format="json").status_code == 200
    assert cpo.get(url).json()["data"]["total_cost"] == {"excl_vat": 0.6, "incl_vat": 0.66}

    period = example("session_patch_example_charging_period.json")
    assert cpo.patch(url, period, format="json").status_code == 200
    stored = cpo.get(url).json()["data"]
    assert stored["charging_periods"] == [*session["charging_periods"], *period["charging_periods"]]
    assert (stored["kwh"], stored["total_cost"]) == (15.0, {"excl_vat": 0.8, "incl_vat": 0.88})
    assert stored["last_updated"] == "2019-06-23T08:16:02Z" and stored["status"] == "COMPLETED"
    assert ocpi_time(PartnerObject.objects.get().last_updated) == "2019-06-23T08:16:02Z"


def test_a_patch_needs_last_updated_a_known_session_and_keeps_the_field_rules(cpo):
    session = example("session_example_2_short_finished.json")
    url = owned_url("sessions", session)
    unknown = cpo.patch(url, example("session_patch_example_total_cost.json"), format="json")
    assert unknown.status_code == 404 and "101" in unknown.json()["status_message"]

    cpo.put(url, session, format="json")
    for patch, field in [
        ({"kwh": 3.0}, "last_updated"),
        ({"status": "STOPPED", "last_updated": "2019-06-23T08:16:02Z"}, "status"),
        ({"charging_periods": {"start_date_time": "2019-06-23T08:16:02Z"}, "last_updated": "2019-06-23T08:16:02Z"},
         "charging_periods"),
        ({"id": "102", "last_updated": "2019-06-23T08:16:02Z"}, "id"),
    ]:  # fmt: skip
        response = cpo.patch(url, patch, format="json")
        assert response.status_code == 400 and response.json()["status_code"] == 2001, patch
        assert field in response.json()["status_message"]
    assert cpo.get(url).json()["data"] == session


def test_an_older_session_does_not_replace_a_newer_one(cpo):
    session = example("session_example_2_short_finished.json")
    url = owned_url("sessions", session)
    cpo.put(url, {**session, "kwh": 50.0, "last_updated": "2016-01-01T00:00:00Z"}, format="json")
    response = cpo.put(url, session, format="json")  # last_updated 2015: older
    assert response.status_code == 200  # not an error: the CPO's copy is merely stale
    assert cpo.get(url).json()["data"]["kwh"] == 50.0
    cpo.put(url, {**session, "kwh": 60.0, "last_updated": "2016-01-01T00:00:00Z"}, format="json")
    assert cpo.get(url).json()["data"]["kwh"] == 60.0  # as new as ours: taken


def test_a_patch_older_than_the_stored_session_changes_nothing(cpo):
    session = example("session_example_1_simple_start.json")  # last_updated 2020-03-09
    url = owned_url("sessions", session)
    cpo.put(url, session, format="json")
    cpo.patch(url, example("session_patch_example_total_cost.json"), format="json")  # of 2019: arrives late
    assert cpo.get(url).json()["data"] == session


def test_the_cdr_example_is_stored_once_and_read_back_where_the_location_header_says(cpo):
    cdr = example("cdr_example.json")
    response = cpo.post(f"{EMSP}/cdrs", cdr, format="json")
    assert response.status_code == 201 and response.json()["status_code"] == 1000
    location = urlsplit(response["Location"])
    assert location.path == f"{EMSP}/cdrs/{PartnerObject.objects.get().pk}"
    assert cpo.get(location.path).json()["data"] == cdr

    again = cpo.post(f"{EMSP}/cdrs", cdr, format="json")  # a retry
    assert again.status_code == 201 and again["Location"] == response["Location"]
    changed = copy.deepcopy(cdr)
    changed["total_cost"] = {"excl_vat": 1.0, "incl_vat": 1.1}
    changed["last_updated"] = "2016-01-01T00:00:00Z"
    cpo.post(f"{EMSP}/cdrs", changed, format="json")  # a correction must come as a new (credit) CDR
    stored = PartnerObject.objects.get()
    assert stored.data == cdr and ocpi_time(stored.last_updated) == cdr["last_updated"]


def test_a_cdr_is_read_back_only_by_the_cpo_that_posted_it(cpo, account):
    response = cpo.post(f"{EMSP}/cdrs", example("cdr_example.json"), format="json")
    other = client_of(PartyFactory(account=account, name="Other CPO"))
    read = other.get(urlsplit(response["Location"]).path)
    assert read.status_code == 404
    assert cpo.get(f"{EMSP}/cdrs/999999").status_code == 404


@pytest.mark.parametrize("path", TARIFFS, ids=[p.name for p in TARIFFS])
def test_every_tariff_example_is_accepted_read_back_and_deleted(cpo, path):
    tariff = json.loads(path.read_text())
    url = owned_url("tariffs", tariff)
    response = cpo.put(url, tariff, format="json")
    assert response.status_code == 200, response.json()
    stored = cpo.get(url).json()["data"]
    if "last_updated" in tariff:
        assert stored == tariff
    else:  # the PUT example: the time we received it stands in
        assert stored == {**tariff, "last_updated": stored["last_updated"]}
        assert TariffSerializer(data=stored).is_valid()

    assert cpo.delete(url).status_code == 200
    assert cpo.get(url).status_code == 404 and not PartnerObject.objects.exists()
    assert cpo.delete(url).status_code == 404


def foreign(name: str) -> dict:
    return {**example(name), "country_code": "FR", "party_id": "XYZ"}


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("put", f"{EMSP}/sessions/FR/XYZ/101", foreign("session_example_2_short_finished.json")),
        ("patch", f"{EMSP}/sessions/FR/XYZ/101", example("session_patch_example_total_cost.json")),
        ("post", f"{EMSP}/cdrs", foreign("cdr_example.json")),
        ("put", f"{EMSP}/tariffs/FR/XYZ/12", foreign("tariff_put_example.json")),
        ("delete", f"{EMSP}/tariffs/FR/XYZ/12", None),
    ],
    ids=["session-put", "session-patch", "cdr-post", "tariff-put", "tariff-delete"],
)
def test_a_cpo_writes_only_under_its_own_cpo_roles(cpo, method, url, body):
    # FR*XYZ is this partner's, but as eMSP: it may not write objects of a CPO under it.
    PartyRoleFactory(partner=cpo.party, role=OcpiRole.EMSP, country_code="FR", party_id="XYZ")
    response = getattr(cpo, method)(url, body, format="json")
    assert response.status_code == 403 and response.json()["status_code"] == 2000
    assert "FR*XYZ" in response.json()["status_message"]
    assert not PartnerObject.objects.exists()


def test_a_cpo_cannot_change_or_remove_what_another_cpo_pushed(cpo, account):
    session, tariff = example("session_example_2_short_finished.json"), example("tariff_1_simple_2hour.json")
    cpo.put(owned_url("sessions", session), session, format="json")
    cpo.put(owned_url("tariffs", tariff), tariff, format="json")
    rival = client_of(PartyFactory(account=account, name="Rival CPO"))  # a CPO, but not of BE*BEC or DE*ALL
    patch = example("session_patch_example_total_cost.json")
    assert rival.patch(owned_url("sessions", session), patch, format="json").status_code == 403
    assert rival.put(owned_url("sessions", session), {**session, "kwh": 1.0}, format="json").status_code == 403
    assert rival.delete(owned_url("tariffs", tariff)).status_code == 403
    assert rival.get(owned_url("sessions", session)).status_code == 404  # what others pushed is not even seen
    assert {o.module: o.data for o in PartnerObject.objects.all()} == {"sessions": session, "tariffs": tariff}


def drop(*keys):
    def change(body):
        target = body
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return change


def setting(value, *keys):
    def change(body):
        target = body
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


BAD_BODIES = [
    # (module, example, change, the field the message names)
    ("sessions", "session_example_2_short_finished.json", drop("currency"), "currency"),
    ("sessions", "session_example_2_short_finished.json", drop("cdr_token", "contract_id"), "cdr_token.contract_id"),
    ("sessions", "session_example_2_short_finished.json", setting("lots", "kwh"), "kwh"),
    ("sessions", "session_example_2_short_finished.json", setting("EUR", "charging_periods"), "charging_periods"),
    ("sessions", "session_example_2_short_finished.json", setting("x" * 37, "location_id"), "location_id"),
    ("sessions", "session_example_1_simple_start.json", setting("y" * 37, "cdr_token", "uid"), "cdr_token.uid"),
    ("cdrs", "cdr_example.json", drop("total_cost"), "total_cost"),
    ("cdrs", "cdr_example.json", drop("cdr_location", "evse_id"), "cdr_location.evse_id"),
    ("cdrs", "cdr_example.json", setting("a lot", "total_energy"), "total_energy"),
    ("cdrs", "cdr_example.json", setting("x" * 46, "cdr_location", "address"), "cdr_location.address"),
    ("tariffs", "tariff_4_complex.json", drop("elements"), "elements"),
    ("tariffs", "tariff_4_complex.json", setting("free", "elements", 0, "price_components", 0, "price"),
     "elements[0].price_components[0].price"),
    ("tariffs", "tariff_put_example.json", setting("EURO", "currency"), "currency"),
    ("tariffs", "tariff_2_alt_text.json", setting("x" * 513, "tariff_alt_text", 1, "text"), "tariff_alt_text[1].text"),
]  # fmt: skip
WHAT = {"sessions": "session", "cdrs": "CDR", "tariffs": "tariff"}


@pytest.mark.parametrize(
    ("module", "name", "change", "field"), BAD_BODIES, ids=[f"{m}-{f}" for m, _, _, f in BAD_BODIES]
)
def test_an_invalid_object_is_a_2001_naming_the_field_and_nothing_is_stored(cpo, module, name, change, field):
    body = copy.deepcopy(example(name))
    change(body)
    if module == "cdrs":
        response = cpo.post(f"{EMSP}/cdrs", body, format="json")
    else:
        response = cpo.put(owned_url(module, example(name)), body, format="json")
    assert response.status_code == 400 and response.json()["status_code"] == 2001
    assert response.json()["status_message"].startswith(f"Invalid {WHAT[module]}: {field}: ")
    assert not PartnerObject.objects.exists()


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("PUT", f"{EMSP}/sessions/BE/BEC/101"),
        ("PATCH", f"{EMSP}/sessions/BE/BEC/101"),
        ("POST", f"{EMSP}/cdrs"),
        ("PUT", f"{EMSP}/tariffs/DE/ALL/12"),
    ],
)
def test_invalid_json_is_a_400(cpo, method, url):
    response = cpo.generic(method, url, '{"id": "101",', content_type="application/json")
    assert response.status_code == 400 and response.json()["status_code"] == 2000
    assert response.json()["status_message"].startswith("Invalid JSON")
    assert not PartnerObject.objects.exists()


def test_the_ids_of_the_object_must_be_those_of_the_url(cpo):
    session = example("session_example_2_short_finished.json")
    response = cpo.put(f"{EMSP}/sessions/BE/BEC/999", session, format="json")
    assert response.status_code == 400 and response.json()["status_code"] == 2001
    tariff = example("tariff_put_example.json")
    response = cpo.put(f"{EMSP}/tariffs/BE/BEC/12", {**tariff, "country_code": "BE", "party_id": "BEC"}, format="json")
    assert response.status_code == 200  # BE*BEC is this CPO's too: the URL and the object agree
    response = cpo.put(f"{EMSP}/tariffs/BE/BEC/12", tariff, format="json")  # a DE*ALL tariff under BE*BEC
    assert response.status_code == 400 and response.json()["status_code"] == 2001
    assert PartnerObject.objects.get().country_code == "BE"


# We are the CPO: a partner eMSP reads its customers' sessions and CDRs, and our tariffs.

BASE = (timezone.now() - timedelta(days=1)).replace(microsecond=0)
PRICE = [{"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 19.0, "step_size": 1}]}]
NEW_PRICE = [{"price_components": [{"type": "ENERGY", "price": 0.50, "vat": 19.0, "step_size": 1}]}]


def saved_at(moment, tariff: Tariff) -> Tariff:
    """tariff_save as the operator did it at `moment`: the version it records is in force from then on."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        return tariff_save(tariff=tariff)


def emsp_with_token(account, *, name: str, country_code: str, party_id: str, uid: str):
    """A registered partner eMSP and its customer's RFID token, mirrored as an OCPP tag of ours."""
    party = PartyFactory(account=account, name=name)
    PartyRoleFactory(partner=party, role=OcpiRole.EMSP, country_code=country_code, party_id=party_id)
    token = {
        **example("token_put_example.json"),
        "country_code": country_code,
        "party_id": party_id,
        "uid": uid,
        "contract_id": f"{country_code}-{party_id}-C{uid}",
    }
    assert partner_token_put(
        party=party, country_code=country_code, party_id=party_id, token_uid=uid, token_type="RFID", data=token
    )
    party.tag = party.tokens.get().ocpp_tag
    return party


def charge(box, tag, *, start, wh: int, minutes: int = 30, stopped: bool = True, connector_id: int = 1):
    """A session by `tag`: half its energy read a quarter of an hour in, the rest by the stop (when it stopped). Rows
    carry the times the charger reported them, as the chargers' path would have written them."""
    stop = start + timedelta(minutes=minutes)
    tx = TransactionFactory(
        charge_box=box,
        connector_id=connector_id,
        ocpp_tag=tag,
        started_at=start,
        meter_start=1000,
        stopped_at=stop if stopped else None,
        meter_stop=1000 + wh if stopped else None,
        start_status="Accepted",
    )
    read_at = start + timedelta(minutes=15)
    MeterValue.objects.create(
        charge_box=box,
        connector_id=connector_id,
        transaction=tx,
        timestamp=read_at,
        value=str(1000 + wh // 2),
        numeric_value=1000 + wh // 2,
        unit="Wh",
    )
    Transaction.objects.filter(pk=tx.pk).update(created_at=start)
    MeterValue.objects.filter(transaction=tx).update(received_at=read_at)
    tx.refresh_from_db()
    return tx


@pytest.fixture
def roaming(account):
    """Our garage (two connectors, one charge box) at a published location whose tariff was 0.30 EUR/kWh, then from
    BASE+2h on 0.50; the partner eMSP New Motion's customer charged three times (twice done, once still charging),
    another partner's customer once."""
    identity = OcpiIdentityFactory(account=account, country_code="DE", party_id="ACM", name="Acme Mobility")
    tariff = saved_at(BASE, Tariff(identity=identity, ocpi_id="STD", currency="EUR", elements=PRICE))
    site = NodeFactory(account=account, name="Garage")
    box = ChargeBoxFactory(node=NodeFactory(parent=site, name="Level 1"), charge_box_id="ACME-1", max_current_a=32)
    connectors = [ConnectorFactory(charge_box=box, connector_id=n, status="Available") for n in (1, 2)]
    LocationFactory(identity=identity, node=site, ocpi_id="GARAGE", tariff=tariff)
    emsp = emsp_with_token(account, name="New Motion", country_code="NL", party_id="TNM", uid="012345678")
    other = emsp_with_token(account, name="Other Mobility", country_code="FR", party_id="OTH", uid="OTHERCARD")

    before = charge(box, emsp.tag, start=BASE + timedelta(hours=1), wh=10_000)
    other_session = charge(box, other.tag, start=BASE + timedelta(hours=1), wh=4_000, connector_id=2)
    tariff.elements = NEW_PRICE
    saved_at(BASE + timedelta(hours=2), tariff)
    after = charge(box, emsp.tag, start=BASE + timedelta(hours=3), wh=10_000)
    running = charge(box, emsp.tag, start=BASE + timedelta(hours=4), wh=6_000, stopped=False)
    return SimpleNamespace(
        identity=identity,
        tariff=tariff,
        box=box,
        connectors=connectors,
        emsp=client_of(emsp),
        other=client_of(other),
        before=before,
        after=after,
        running=running,
        other_session=other_session,
    )


def valid(serializer_class, body: dict) -> dict:
    serializer = serializer_class(data=body)
    assert serializer.is_valid(), (serializer.errors, body)
    return body


def test_a_partner_lists_only_its_customers_sessions_each_valid_and_priced_by_the_tariff_of_its_start(roaming):
    response = roaming.emsp.get(f"{CPO}/sessions")
    assert response.status_code == 200 and response["X-Total-Count"] == "3"
    sessions = {s["id"]: valid(SessionSerializer, s) for s in response.json()["data"]}
    before, after, running = (sessions[str(tx.pk)] for tx in (roaming.before, roaming.after, roaming.running))
    assert str(roaming.other_session.pk) not in sessions

    assert (before["country_code"], before["party_id"], before["location_id"]) == ("DE", "ACM", "GARAGE")
    assert before["evse_uid"] == str(roaming.connectors[0].pk) and before["connector_id"] == "1"
    assert before["cdr_token"] == {
        "country_code": "NL", "party_id": "TNM", "uid": "012345678", "type": "RFID", "contract_id": "NL-TNM-C012345678",
    }  # fmt: skip
    assert before["auth_method"] == "WHITELIST" and before["currency"] == "EUR"
    assert (before["status"], before["kwh"]) == ("COMPLETED", 10.0)
    assert before["start_date_time"] == ocpi_time(roaming.before.started_at)
    assert before["end_date_time"] == before["last_updated"] == ocpi_time(roaming.before.stopped_at)
    assert before["total_cost"] == {"excl_vat": 3.0, "incl_vat": 3.57}  # 0.30 EUR/kWh, the price of then
    assert after["total_cost"] == {"excl_vat": 5.0, "incl_vat": 5.95}  # 0.50 EUR/kWh
    assert {p["tariff_id"] for p in before["charging_periods"]} == {"STD"}

    assert running["status"] == "ACTIVE" and "end_date_time" not in running
    assert running["kwh"] == 3.0 and running["total_cost"] == {"excl_vat": 1.5, "incl_vat": 1.785}

    (theirs,) = roaming.other.get(f"{CPO}/sessions").json()["data"]
    assert theirs["id"] == str(roaming.other_session.pk) and theirs["cdr_token"]["party_id"] == "OTH"
    assert theirs["evse_uid"] == str(roaming.connectors[1].pk)


def test_sessions_come_oldest_first_in_pages_that_link_to_the_next_keeping_date_from(roaming):
    since = ocpi_time(BASE)
    seen, url = [], f"{CPO}/sessions?limit=1&date_from={since}"
    while url:
        response = roaming.emsp.get(url)
        assert response["X-Total-Count"] == "3" and response["X-Limit"] == "1"
        assert len(response.json()["data"]) == 1
        seen += [session["id"] for session in response.json()["data"]]
        link = response.get("Link")
        if link:
            assert link.endswith('>; rel="next"') and f"date_from={since.replace(':', '%3A')}" in link
            assert f"offset={len(seen)}&limit=1" in link
            parts = urlsplit(link[1 : link.index(">")])
            url = f"{parts.path}?{parts.query}"
        else:
            url = None
    assert seen == [str(tx.pk) for tx in (roaming.before, roaming.after, roaming.running)]

    recent = roaming.emsp.get(f"{CPO}/sessions?date_from={ocpi_time(BASE + timedelta(hours=3))}")
    assert recent["X-Total-Count"] == "2" and "Link" not in recent
    assert [s["id"] for s in recent.json()["data"]] == [str(roaming.after.pk), str(roaming.running.pk)]
    # A new reading changes the running session: it is found again from that moment on.
    later = timezone.now() - timedelta(minutes=1)
    MeterValue.objects.create(
        charge_box=roaming.box, connector_id=1, transaction=roaming.running, timestamp=later, value="9000",
        numeric_value=9000, unit="Wh",
    )  # fmt: skip
    (changed,) = roaming.emsp.get(f"{CPO}/sessions?date_from={ocpi_time(later)}").json()["data"]
    assert changed["id"] == str(roaming.running.pk) and changed["kwh"] == 8.0


def test_the_total_counts_only_the_sessions_the_pages_hold(roaming, account):
    depot = ChargeBoxFactory(node=NodeFactory(account=account, name="Depot"), charge_box_id="DEPOT-1")
    ConnectorFactory(charge_box=depot, connector_id=1)
    charge(depot, roaming.before.ocpp_tag, start=BASE + timedelta(hours=5), wh=1_000)  # at no location of ours
    response = roaming.emsp.get(f"{CPO}/sessions?limit=3")
    assert len(response.json()["data"]) == 3
    assert response["X-Total-Count"] == "3" and "Link" not in response


def test_cdrs_are_issued_once_priced_by_the_version_of_the_sessions_start_and_listed_to_its_emsp_only(roaming):
    assert Tariff.objects.get().elements == NEW_PRICE  # the price changed after the first session started
    first = cdr_issue(roaming.before)  # issued now, under the new price
    second = cdr_issue(roaming.after)
    theirs = cdr_issue(roaming.other_session)
    assert cdr_issue(roaming.before).pk == first.pk and Cdr.objects.count() == 3
    with pytest.raises(NothingToSend):
        cdr_issue(roaming.running)

    response = roaming.emsp.get(f"{CPO}/cdrs")
    assert response.status_code == 200 and response["X-Total-Count"] == "2"
    cdrs = {cdr["id"]: valid(CdrSerializer, cdr) for cdr in response.json()["data"]}
    assert set(cdrs) == {first.ocpi_id, second.ocpi_id} == {f"ACM{roaming.before.pk}", f"ACM{roaming.after.pk}"}
    old, new = cdrs[first.ocpi_id], cdrs[second.ocpi_id]
    assert old == first.data and old["session_id"] == str(roaming.before.pk)
    assert old["total_cost"] == old["total_energy_cost"] == {"excl_vat": 3.0, "incl_vat": 3.57}
    assert old["tariffs"][0]["elements"] == PRICE and old["total_energy"] == 10.0
    assert new["total_cost"] == {"excl_vat": 5.0, "incl_vat": 5.95} and new["tariffs"][0]["elements"] == NEW_PRICE
    assert old["cdr_token"]["uid"] == "012345678" and old["cdr_location"]["id"] == "GARAGE"
    assert old["cdr_location"]["evse_uid"] == str(roaming.connectors[0].pk)
    assert (old["start_date_time"], old["end_date_time"], old["total_time"]) == (
        ocpi_time(roaming.before.started_at), ocpi_time(roaming.before.stopped_at), 0.5,
    )  # fmt: skip

    (other,) = roaming.other.get(f"{CPO}/cdrs").json()["data"]
    assert other == theirs.data and other["total_cost"] == {"excl_vat": 1.2, "incl_vat": 1.428}


def test_our_tariffs_are_listed_valid_as_they_are_now(roaming, other_account):
    rival = OcpiIdentityFactory(account=other_account, country_code="NL", party_id="RIV")
    tariff_save(tariff=Tariff(identity=rival, ocpi_id="RIVAL", currency="EUR", elements=PRICE))
    response = roaming.emsp.get(f"{CPO}/tariffs")
    assert response.status_code == 200 and response["X-Total-Count"] == "1"
    (tariff,) = response.json()["data"]
    valid(TariffSerializer, tariff)
    assert (tariff["country_code"], tariff["party_id"], tariff["id"]) == ("DE", "ACM", "STD")
    assert tariff["elements"] == NEW_PRICE and tariff["last_updated"] == ocpi_time(BASE + timedelta(hours=2))
    assert TariffVersion.objects.filter(tariff__ocpi_id="STD").count() == 2


@pytest.mark.parametrize(
    ("elements", "field"),
    [
        ([], "elements"),
        ([{"price_components": []}], "elements"),
        ([{"price_components": [{"type": "KWH", "price": 0.3, "step_size": 1}]}], "elements"),
        ([{"price_components": [{"type": "ENERGY", "price": 0.3}]}], "elements"),
        ([{"price_components": [{"type": "ENERGY", "price": "cheap", "step_size": 1}]}], "elements"),
        ([{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}],
           "restrictions": {"start_time": "24:00"}}], "elements"),
    ],
    ids=["empty", "no-components", "bad-type", "no-step-size", "price-not-a-number", "bad-start-time"],
)  # fmt: skip
def test_tariff_save_refuses_elements_that_break_the_field_rules(account, elements, field):
    identity = OcpiIdentityFactory(account=account, country_code="DE", party_id="ACM")
    with pytest.raises(ValidationError) as refused:
        tariff_save(tariff=Tariff(identity=identity, ocpi_id="BAD", currency="EUR", elements=elements))
    assert field in refused.value.message_dict
    assert not Tariff.objects.exists() and not TariffVersion.objects.exists()


def test_a_refused_change_leaves_the_tariff_and_its_versions_as_they_were(account):
    identity = OcpiIdentityFactory(account=account, country_code="DE", party_id="ACM")
    receiving = PartyFactory(account=account, endpoints=[
        {"identifier": "tariffs", "role": "RECEIVER", "url": "https://emsp.example/ocpi/emsp/2.2.1/tariffs"}
    ])  # fmt: skip
    PartyRoleFactory(partner=receiving, role=OcpiRole.EMSP)
    tariff = tariff_save(tariff=Tariff(identity=identity, ocpi_id="STD", currency="EUR", elements=PRICE))
    (queued,) = OutboxMessage.objects.all()
    assert queued.url == "https://emsp.example/ocpi/emsp/2.2.1/tariffs/DE/ACM/STD" and queued.body["elements"] == PRICE

    tariff.elements = [{"price_components": [{"type": "ENERGY", "price": 0.5, "step_size": -1}]}]
    with pytest.raises(ValidationError) as refused:
        tariff_save(tariff=tariff)
    assert "elements[0].price_components[0].step_size" in refused.value.message_dict["elements"][0]
    tariff.type = "CHEAP"
    tariff.elements = NEW_PRICE
    with pytest.raises(ValidationError) as refused:
        tariff_save(tariff=tariff)
    assert "type" in str(refused.value)
    assert Tariff.objects.get().elements == PRICE
    assert TariffVersion.objects.count() == 1 and OutboxMessage.objects.count() == 1


# Hub client info: a hub tells us which of its parties are connected.


def test_a_hub_reports_client_info_and_others_may_not(account):
    hub = PartyFactory(account=account, name="Hub", role=None)
    PartyRoleFactory(partner=hub, role=OcpiRole.HUB, country_code="NL", party_id="HUB")
    info = {"party_id": "XYZ", "country_code": "FR", "role": "CPO", "status": "OFFLINE"}
    info["last_updated"] = "2026-01-01T00:00:00Z"
    as_hub = client_of(hub)
    assert as_hub.put("/ocpi/2.2.1/hubclientinfo/FR/XYZ", info, format="json").status_code == 200
    assert as_hub.get("/ocpi/2.2.1/hubclientinfo/FR/XYZ").json()["data"] == info
    older = {**info, "status": "CONNECTED", "last_updated": "2025-01-01T00:00:00Z"}
    as_hub.put("/ocpi/2.2.1/hubclientinfo/FR/XYZ", older, format="json")
    assert as_hub.get("/ocpi/2.2.1/hubclientinfo/FR/XYZ").json()["data"]["status"] == "OFFLINE"
    bad = as_hub.put("/ocpi/2.2.1/hubclientinfo/FR/XYZ", {**info, "status": "ASLEEP"}, format="json")
    assert bad.status_code == 400 and bad.json()["status_message"].startswith("Invalid ClientInfo: status")
    not_a_hub = client_of(PartyFactory(account=account, name="CPO"))
    assert not_a_hub.put("/ocpi/2.2.1/hubclientinfo/FR/XYZ", info, format="json").status_code == 403
    assert as_hub.get("/ocpi/2.2.1/hubclientinfo/DE/NOP").status_code == 404


def test_a_session_after_a_real_time_authorization_says_so_with_the_emsps_reference(roaming):
    token = PartnerToken.objects.get(uid="012345678")
    asked_at = roaming.after.started_at - timedelta(seconds=40)  # the charger's Authorize, just before the start
    token.last_authorization = {"charge_box": roaming.box.pk, "at": asked_at.isoformat(), "reference": "REF-42"}
    token.save()
    sessions = {s["id"]: s for s in roaming.emsp.get(f"{CPO}/sessions").json()["data"]}
    after, before = sessions[str(roaming.after.pk)], sessions[str(roaming.before.pk)]
    assert (after["auth_method"], after["authorization_reference"]) == ("AUTH_REQUEST", "REF-42")
    assert before["auth_method"] == "WHITELIST" and "authorization_reference" not in before  # two hours earlier
