"""Roaming end to end between two platforms over real HTTP: we are the CPO, the peer is the eMSP. The peer's card,
pulled as a token, charges at our charger where the operator granted the peer's tag group; the session reaches the
peer as it runs, then its CDR, priced by our tariff; our tariff reaches it too."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from ocpp_core.models import ChargeBox, Connector
from permissions.services import permission_grant
from priority.models import ConnectorLoad
from roaming.models import Cdr, Location, OutboxMessage, PartnerToken, Party, Tariff
from roaming.objects import CdrSerializer, SessionSerializer
from roaming.services.credentials import party_register_with
from roaming.services.locations import location_save
from roaming.services.pull import partner_tokens_pull
from roaming.services.tariffs import tariff_save
from sites.models import Node

from .conftest import eventually
from .ocpi_peer import PEER_RESULT, commanded, drain, now, peer_command
from .ocpp_client import raw_charger

pytestmark = pytest.mark.django_db(transaction=True)

PEER_EMSP = """
import json
from powerfill.accounts.models import Account
from ocpp_core.models import OcppTag
from roaming.models import OcpiIdentity
from roaming.services.credentials import party_invite
account = Account.objects.create(name="Peer Mobility")
OcpiIdentity.objects.create(account=account, country_code="NL", party_id="PEE", name="Peer Mobility")
OcppTag.objects.create(account=account, id_tag="PEERCARD1")
OcppTag.objects.create(account=account, id_tag="PEERBLOCKED", max_active_transaction_count=0)
print(json.dumps(party_invite(account=account, name="Acme").incoming_token))
"""

PEER_HOLDS = """
import json
from roaming.models import PartnerObject
print(json.dumps({f"{o.module}:{o.ocpi_id}": o.data for o in PartnerObject.objects.all()}))
"""

TARIFF_ELEMENTS = [{"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 19.0, "step_size": 1}]}]


def at(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


START = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


@pytest.fixture
def roaming_site(daphne_server, peer, acme):
    """We registered with the peer, pulled its tokens and let its group charge at our published garage."""
    party = Party.objects.create(account=acme, name="Peer", versions_url=f"{peer.url}/ocpi/versions")
    party.outgoing_token = peer.python(PEER_EMSP)
    party_register_with(party=party, base_url=daphne_server)
    party.refresh_from_db()
    assert partner_tokens_pull(party=party) == 2
    party.refresh_from_db()
    node = Node.objects.create(account=acme, name="Garage")
    permission_grant(holder=party.token_group, node=node)
    box = ChargeBox.objects.create(account=acme, charge_box_id="ACME-1", node=node, max_current_a=32)
    Connector.objects.create(charge_box=box, connector_id=1, status="Available")
    identity = acme.ocpi_identities.get()
    tariff = tariff_save(tariff=Tariff(identity=identity, ocpi_id="STD", currency="EUR", elements=TARIFF_ELEMENTS))
    location_save(
        location=Location(
            identity=identity,
            node=node,
            ocpi_id="GARAGE",
            address="Hauptstrasse 1",
            city="Berlin",
            country="DEU",
            latitude="52.520008",
            longitude="13.404954",
            time_zone="Europe/Berlin",
            tariff=tariff,
        )  # fmt: skip
    )
    drain()
    return party


def test_a_foreign_card_charges_and_its_session_then_cdr_reach_the_emsp(daphne_server, peer, roaming_site):
    assert PartnerToken.objects.get(uid="PEERBLOCKED").ocpp_tag.blocked
    assert set(peer.python(PEER_HOLDS)) == {"tariffs:STD"}

    async def charge(steps):
        async with raw_charger(daphne_server, "ACME-1") as charger:
            await charger.boot()
            return await steps(charger)

    async def start(charger):
        refused = await charger.call("Authorize", {"idTag": "PEERBLOCKED"})
        allowed = await charger.call("Authorize", {"idTag": "PEERCARD1"})
        started = await charger.call(
            "StartTransaction", {"connectorId": 1, "idTag": "PEERCARD1", "meterStart": 1000, "timestamp": at(0)}
        )
        reading = {"timestamp": at(15), "sampledValue": [{"value": "2.5", "unit": "kWh"}]}
        await charger.call(
            "MeterValues", {"connectorId": 1, "transactionId": started[2]["transactionId"], "meterValue": [reading]}
        )
        return refused[2], allowed[2], started[2]

    refused, allowed, started = asyncio.run(charge(start))
    assert refused["idTagInfo"]["status"] == "Blocked"
    assert allowed["idTagInfo"]["status"] == "Accepted" and started["idTagInfo"]["status"] == "Accepted"
    transaction_id = started["transactionId"]

    drain()
    session = peer.python(PEER_HOLDS)[f"sessions:{transaction_id}"]
    assert SessionSerializer(data=session).is_valid()
    assert session["status"] == "ACTIVE" and session["kwh"] == 1.5
    assert session["cdr_token"] == {
        "country_code": "NL", "party_id": "PEE", "uid": "PEERCARD1", "type": "RFID", "contract_id": "NL-PEE-CPEERCARD1",
    }  # fmt: skip
    assert (session["location_id"], session["currency"]) == ("GARAGE", "EUR")
    # Sent as the changes came (the server drains after each commit); a change arriving while one waits folds into it.
    assert not OutboxMessage.objects.filter(key=f"sessions:{transaction_id}", sent_at=None).exists()

    async def stop(charger):
        return await charger.call(
            "StopTransaction", {"transactionId": transaction_id, "meterStop": 11000, "timestamp": at(25)}
        )

    asyncio.run(charge(stop))
    drain()
    drain()  # the CDR's POST waits for the session's last PUT
    held = peer.python(PEER_HOLDS)
    assert held[f"sessions:{transaction_id}"]["status"] == "COMPLETED"
    assert held[f"sessions:{transaction_id}"]["end_date_time"] == at(25)
    cdr = Cdr.objects.get()
    assert held[f"cdrs:{cdr.ocpi_id}"] == cdr.data
    serializer = CdrSerializer(data=cdr.data)
    assert serializer.is_valid(), serializer.errors
    assert cdr.data["total_energy"] == 10.0
    assert cdr.data["total_cost"] == {"excl_vat": 3.0, "incl_vat": 3.57}
    assert cdr.data["tariffs"][0]["id"] == "STD" and cdr.data["cdr_location"]["evse_uid"]
    assert not OutboxMessage.objects.filter(sent_at=None).exists()


def test_the_emsps_start_and_stop_commands_drive_our_charger_and_the_results_reach_its_response_url(
    daphne_server, peer, roaming_site
):
    evse_uid = str(Connector.objects.get().pk)

    async def scenario():
        async with raw_charger(daphne_server, "ACME-1") as charger:
            await charger.boot()
            start_call, start = await commanded(
                charger, peer, "START_SESSION", {"token": None, "location_id": "GARAGE", "evse_uid": evse_uid},
                {"status": "Accepted"},
            )  # fmt: skip
            started = await charger.call(
                "StartTransaction",
                {"connectorId": 1, "idTag": start_call[3]["idTag"], "meterStart": 0, "timestamp": now()},
            )
            transaction_id = started[2]["transactionId"]
            stop_call, stop = await commanded(
                charger, peer, "STOP_SESSION", {"session_id": str(transaction_id)}, {"status": "Accepted"}
            )
            await charger.call(
                "StopTransaction", {"transactionId": transaction_id, "meterStop": 4000, "timestamp": now()}
            )
            unknown = await asyncio.to_thread(peer_command, peer, "STOP_SESSION", {"session_id": "999999"})
            return start_call, start, started, stop_call, stop, unknown

    start_call, start, started, stop_call, stop, unknown = asyncio.run(scenario())
    assert start["response"]["result"] == "ACCEPTED" and start["response"]["timeout"] > 0
    assert start_call[2] == "RemoteStartTransaction"
    assert start_call[3] == {"idTag": "PEERCARD1", "connectorId": 1}
    assert started[2]["idTagInfo"]["status"] == "Accepted"
    assert stop_call[2] == "RemoteStopTransaction" and stop_call[3] == {"transactionId": started[2]["transactionId"]}
    assert unknown["response"]["result"] == "UNKNOWN_SESSION"

    drain()  # results (and the session) not yet sent: with a broker, workers would
    drain()
    assert peer.python(PEER_RESULT.format(pk=start["pk"]))["result"] == "ACCEPTED"
    assert peer.python(PEER_RESULT.format(pk=stop["pk"]))["result"] == "ACCEPTED"
    session = peer.python(PEER_HOLDS)[f"sessions:{started[2]['transactionId']}"]
    assert session["status"] == "COMPLETED" and session["kwh"] == 4.0
    assert session["auth_method"] == "COMMAND"


PEER_BLOCKS_QUIETLY = """
import json
from ocpp_core.models import OcppTag
print(json.dumps(OcppTag.objects.filter(id_tag="PEERCARD1").update(max_active_transaction_count=0)))
"""


def test_our_charger_asks_the_emsp_in_real_time_and_the_emsps_answer_decides(daphne_server, peer, roaming_site):
    async def authorize():
        async with raw_charger(daphne_server, "ACME-1") as charger:
            await charger.boot()
            return (await charger.call("Authorize", {"idTag": "PEERCARD1"}))[2]["idTagInfo"]["status"]

    assert PartnerToken.objects.get(uid="PEERCARD1").whitelist == "ALLOWED"  # the eMSP wants to be asked
    assert asyncio.run(authorize()) == "Accepted"
    asked = PartnerToken.objects.get(uid="PEERCARD1").last_authorization  # the session to follow carries it
    assert asked["charge_box"] == ChargeBox.objects.get(charge_box_id="ACME-1").pk and len(asked["reference"]) == 32
    # The eMSP blocks the card without telling us: what we hold still says valid, its real-time answer refuses.
    assert peer.python(PEER_BLOCKS_QUIETLY) == 1
    assert PartnerToken.objects.get(uid="PEERCARD1").valid
    assert asyncio.run(authorize()) == "Blocked"
    # The eMSP cannot be reached: an ALLOWED token charges on what we hold, a NEVER one does not.
    peer.stop()
    assert asyncio.run(authorize()) == "Accepted"
    PartnerToken.objects.filter(uid="PEERCARD1").update(whitelist="NEVER")
    assert asyncio.run(authorize()) == "Invalid"


PEER_EVSE_STATUS = """
import json
from roaming.models import PartnerLocation
print(json.dumps([e["status"] for e in PartnerLocation.objects.get(ocpi_id="GARAGE").data["evses"]]))
"""


def test_a_status_notification_and_the_charger_going_offline_reach_the_emsp(daphne_server, peer, roaming_site):
    assert peer.python(PEER_EVSE_STATUS) == ["UNKNOWN"]  # published while the charger was offline

    async def report(status):
        async with raw_charger(daphne_server, "ACME-1") as charger:
            await charger.boot()
            await charger.call("StatusNotification", {"connectorId": 1, "status": status, "errorCode": "NoError"})
            await asyncio.to_thread(drain)
            return await asyncio.to_thread(peer.python, PEER_EVSE_STATUS)

    assert asyncio.run(report("Charging")) == ["CHARGING"]
    # The charger went offline when its socket closed (the server notices a moment later).
    eventually(lambda: not ChargeBox.objects.get(charge_box_id="ACME-1").is_connected)
    drain()
    assert peer.python(PEER_EVSE_STATUS) == ["UNKNOWN"]
    messages = OutboxMessage.objects.filter(key__startswith="evses:")
    assert messages.count() >= 2 and not messages.filter(sent_at=None, gave_up_at=None).exists()


PEER_SENDS_PROFILE = """
import json
from roaming.models import Party
from roaming.services.charging_profiles import charging_profile_send
party = Party.objects.get(name="Acme")
profile = {{"charging_rate_unit": "A", "charging_profile_period": [{{"start_period": 0, "limit": 10}}]}}
sent = charging_profile_send(party=party, session_id="{session_id}", action="SET", profile=profile, base_url="{url}")
print(json.dumps({{"pk": sent.pk, "response": sent.response}}))
"""

PEER_PROFILE_RESULT = """
import json
from roaming.models import SentChargingProfile
print(json.dumps(SentChargingProfile.objects.get(pk={pk}).result))
"""


def test_the_emsps_charging_profile_caps_its_customers_session_here(daphne_server, peer, roaming_site):
    async def start(charger):
        started = await charger.call(
            "StartTransaction", {"connectorId": 1, "idTag": "PEERCARD1", "meterStart": 0, "timestamp": now()}
        )
        await charger.call("StatusNotification", {"connectorId": 1, "status": "Charging", "errorCode": "NoError"})
        return started[2]["transactionId"]

    async def charge():
        async with raw_charger(daphne_server, "ACME-1") as charger:
            await charger.boot()
            return await start(charger)

    transaction_id = asyncio.run(charge())
    sent = peer.python(PEER_SENDS_PROFILE.format(session_id=transaction_id, url=peer.url))
    assert sent["response"]["result"] == "ACCEPTED"
    load = ConnectorLoad.objects.get(connector__charge_box__charge_box_id="ACME-1")
    assert load.session_limit["transaction_id"] == transaction_id and load.session_limit["periods"][0]["limit"] == 10
    drain()
    assert peer.python(PEER_PROFILE_RESULT.format(pk=sent["pk"])) == {"result": "ACCEPTED"}
