"""Charging profiles (we are the CPO): a partner caps its customer's running session; the cap becomes the session's
limit in load management, which never gives the connector more (in A, or W at 230 V over its phases), pauses it
below the charger's minimum, follows the profile's periods and ends with its duration. Results go to the
response_url through the outbox."""

from datetime import timedelta

import pytest
from django.utils import timezone

from priority.load_inputs import site_state
from priority.models import ConnectorLoad
from roaming.models import OutboxMessage
from roaming.objects import ActiveChargingProfileSerializer
from roaming.services.partner_tokens import partner_token_put

from ..factories import (
    ChargeBoxFactory,
    ConnectorFactory,
    NodeFactory,
    PartyFactory,
    PartyRoleFactory,
    TransactionFactory,
)
from .clients import client_of

pytestmark = pytest.mark.django_db
RESULTS = "https://emsp.example/ocpi/emsp/2.2.1/chargingprofiles/results"


@pytest.fixture
def session(account):
    """A running session of the partner's customer at a 32 A three-phase charger (minimum 6 A) under a 63 A site."""
    emsp = PartyFactory(account=account, name="eMSP", versions_url="https://emsp.example/ocpi/versions")
    PartyRoleFactory(partner=emsp, role="EMSP", country_code="NL", party_id="EMS")
    token = {
        "country_code": "NL", "party_id": "EMS", "uid": "CARD1", "type": "RFID", "contract_id": "NL-EMS-C1",
        "issuer": "eMSP", "valid": True, "whitelist": "ALWAYS", "last_updated": "2026-01-01T00:00:00Z",
    }  # fmt: skip
    partner_token_put(party=emsp, country_code="NL", party_id="EMS", token_uid="CARD1", data=token)
    site = NodeFactory(account=account, max_current_a=63)
    box = ChargeBoxFactory(account=account, node=site, max_current_a=32, min_current_a=6, is_connected=True)
    ConnectorFactory(charge_box=box, connector_id=1, status="Charging")
    tag = emsp.tokens.get().ocpp_tag
    transaction = TransactionFactory(charge_box=box, ocpp_tag=tag, id_tag=tag.id_tag)
    return {"client": client_of(emsp), "transaction": transaction, "site": site, "box": box, "emsp": emsp}


def max_amps_now(session, at=None) -> float:
    """What load management may give the connector now (0 when it is not to charge at all)."""
    (connector,) = site_state(root=session["site"], now=at).connectors
    return connector.demand.max_amps if connector.demand.wants_power else 0


def put_profile(session, profile: dict):
    url = f"/ocpi/cpo/2.2.1/chargingprofiles/{session['transaction'].pk}"
    return session["client"].put(url, {"charging_profile": profile, "response_url": RESULTS}, format="json")


def test_a_profile_caps_the_session_in_load_management_and_its_result_is_queued(session):
    assert max_amps_now(session) == 32
    answer = put_profile(
        session, {"charging_rate_unit": "A", "charging_profile_period": [{"start_period": 0, "limit": 10}]}
    )
    assert answer.status_code == 200 and answer.json()["data"]["result"] == "ACCEPTED"
    assert max_amps_now(session) == 10
    (result,) = OutboxMessage.objects.filter(key=f"chargingprofiles:{session['transaction'].pk}")
    assert (result.method, result.url, result.body) == ("POST", RESULTS, {"result": "ACCEPTED"})


def test_watts_periods_duration_and_a_cap_below_the_minimum(session):
    start = timezone.now()
    profile = {
        "start_date_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration": 3600,
        "charging_rate_unit": "W",
        "charging_profile_period": [{"start_period": 0, "limit": 11040}, {"start_period": 1800, "limit": 2000}],
    }
    put_profile(session, profile)
    assert max_amps_now(session, start + timedelta(minutes=1)) == pytest.approx(16.0)  # 11040 W / (230 V x 3)
    assert max_amps_now(session, start + timedelta(minutes=31)) == 0  # 2.9 A: below 6 A, so paused
    assert max_amps_now(session, start + timedelta(minutes=61)) == 32  # the profile ran out


def test_clearing_lifts_the_cap_and_get_reports_what_the_connector_has(session):
    put_profile(session, {"charging_rate_unit": "A", "charging_profile_period": [{"start_period": 0, "limit": 10}]})
    ConnectorLoad.objects.update(applied_amps=10)
    url = f"/ocpi/cpo/2.2.1/chargingprofiles/{session['transaction'].pk}"
    got = session["client"].get(url, {"duration": 900, "response_url": RESULTS})
    assert got.json()["data"]["result"] == "ACCEPTED"
    active = OutboxMessage.objects.filter(key__startswith="chargingprofiles:").last().body
    assert active["result"] == "ACCEPTED" and ActiveChargingProfileSerializer(data=active["profile"]).is_valid()
    assert active["profile"]["charging_profile"]["charging_profile_period"] == [{"start_period": 0, "limit": 10.0}]

    cleared = session["client"].delete(f"{url}?response_url={RESULTS}")
    assert cleared.json()["data"]["result"] == "ACCEPTED" and max_amps_now(session) == 32


def test_unknown_or_foreign_sessions_and_bad_profiles(session, account):
    other_emsp = PartyFactory(account=account, name="Other", role=None, versions_url="https://emsp.example/v")
    PartyRoleFactory(partner=other_emsp, role="EMSP", country_code="NL", party_id="OTH")
    other = client_of(other_emsp)
    profile = {"charging_rate_unit": "A", "charging_profile_period": [{"start_period": 0, "limit": 10}]}
    body = {"charging_profile": profile, "response_url": RESULTS}
    url = f"/ocpi/cpo/2.2.1/chargingprofiles/{session['transaction'].pk}"
    assert other.put(url, body, format="json").json()["data"]["result"] == "UNKNOWN_SESSION"
    assert (
        session["client"].put("/ocpi/cpo/2.2.1/chargingprofiles/999999", body, format="json").json()["data"]["result"]
        == "UNKNOWN_SESSION"
    )
    bad = put_profile(session, {"charging_rate_unit": "kW"})
    assert bad.status_code == 400 and "charging_profile.charging_rate_unit" in bad.json()["status_message"]
    assert session["client"].get(url, {"duration": 60}).status_code == 400  # no response_url
    a_cpo = client_of(PartyFactory(account=account, name="A CPO"))
    refused = a_cpo.put(url, body, format="json")
    assert refused.status_code == 403 and "Only an eMSP" in refused.json()["status_message"]
    assert not ConnectorLoad.objects.exclude(session_limit=None).exists()
    assert max_amps_now(session) == 32
