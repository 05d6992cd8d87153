"""OCPI 2.1.1 end to end: the peer speaks only 2.1.1 (OCPI_VERSIONS=2.1.1), so the two platforms agree on it. We
are the CPO, the peer the eMSP (a 2.1.1 connection has one role, which each operator chose for the other). The
credentials handshake in 2.1.1's shape with plain tokens; our locations reach the peer pushed and pulled, its
tokens reach us and authorize at our charger, each side converting at its edge (roaming.ocpi211)."""

import asyncio

import pytest

from ocpp_core.models import ChargeBox, Connector
from permissions.services import permission_grant
from roaming.models import Cdr, Location, PartnerToken, Party
from roaming.services.credentials import party_register_with
from roaming.services.locations import location_save
from roaming.services.outbox import outbox_due, outbox_send
from roaming.services.pull import partner_tokens_pull, pulled_modules
from sites.models import Node

from .ocpi_peer import peer_platform
from .ocpp_client import raw_charger
from .test_ocpi_roaming_session import PEER_RESULT, commanded, drain, now

pytestmark = pytest.mark.django_db(transaction=True)

PEER_EMSP_211 = """
import json
from ocpp_core.models import OcppTag
from powerfill.accounts.models import Account
from roaming.models import OcpiIdentity
from roaming.services.credentials import party_invite
account = Account.objects.create(name="Old Mobility")
OcpiIdentity.objects.create(account=account, country_code="NL", party_id="OLD", name="Old Mobility")
OcppTag.objects.create(account=account, id_tag="OLDCARD1")
party = party_invite(account=account, name="Acme")
party.ocpi211_role = "CPO"
party.save()
print(json.dumps(party.incoming_token))
"""

PEER_OBJECTS = """
import json
from roaming.models import PartnerObject
print(json.dumps({f"{o.module}:{o.ocpi_id}": o.data for o in PartnerObject.objects.all()}))
"""

PEER_STATE = """
import json
from roaming.models import Party, PartnerLocation
from roaming.services.pull import partner_locations_pull
party = Party.objects.get(name="Acme")
pulled = partner_locations_pull(party=party) if {pull} else 0
print(json.dumps({{
    "version": party.version, "state": party.state,
    "roles": [[r.role, r.country_code, r.party_id] for r in party.roles.all()],
    "endpoints": party.endpoints, "pulled": pulled,
    "locations": {{row.ocpi_id: row.data for row in PartnerLocation.objects.all()}},
}}))
"""


@pytest.fixture
def peer_211(tmp_path):
    with peer_platform(tmp_path, OCPI_VERSIONS="2.1.1") as platform:
        yield platform


def test_a_211_emsp_registers_receives_our_locations_and_its_token_charges_here(daphne_server, peer_211, acme):
    party = Party.objects.create(
        account=acme, name="Old", versions_url=f"{peer_211.url}/ocpi/versions", ocpi211_role="EMSP"
    )
    party.outgoing_token = peer_211.python(PEER_EMSP_211)
    party_register_with(party=party, base_url=daphne_server)
    party.refresh_from_db()

    assert (party.version, party.state, party.plain_token_header) == ("2.1.1", "registered", True)
    assert [(r.role, r.country_code, r.party_id) for r in party.roles.all()] == [("EMSP", "NL", "OLD")]
    assert all("role" not in endpoint for endpoint in party.endpoints)  # 2.1.1 endpoints say none
    assert pulled_modules(party) == ["tokens"]  # its locations endpoint is its Receiver
    seen_by_peer = peer_211.python(PEER_STATE.format(pull=False))
    assert (seen_by_peer["version"], seen_by_peer["state"]) == ("2.1.1", "registered")
    assert seen_by_peer["roles"] == [["CPO", "DE", "ACM"]]
    identifiers = {e["identifier"] for e in seen_by_peer["endpoints"]}
    assert identifiers == {"credentials", "locations", "tokens", "sessions", "cdrs", "tariffs", "commands"}

    # Its token, pulled in 2.1.1's shape, becomes a token of NL*OLD here.
    assert partner_tokens_pull(party=party) == 1
    token = PartnerToken.objects.get()
    assert (token.country_code, token.party_id, token.uid, token.contract_id) == (
        "NL",
        "OLD",
        "OLDCARD1",
        "NL-OLD-COLDCARD1",
    )

    node = Node.objects.create(account=acme, name="Garage")
    party.refresh_from_db()
    permission_grant(holder=party.token_group, node=node)
    box = ChargeBox.objects.create(account=acme, charge_box_id="ACME-211", node=node, max_current_a=16)
    Connector.objects.create(charge_box=box, connector_id=1, status="Available")
    location_save(
        location=Location(
            identity=acme.ocpi_identities.get(),
            node=node,
            ocpi_id="GARAGE",
            address="Hauptstrasse 1",
            city="Berlin",
            country="DEU",
            latitude="52.520008",
            longitude="13.404954",
            time_zone="Europe/Berlin",
            parking_type="UNDERGROUND_GARAGE",
        )  # fmt: skip
    )
    for message_pk in outbox_due():
        outbox_send(message_pk)

    pushed = peer_211.python(PEER_STATE.format(pull=False))["locations"]["GARAGE"]
    assert (pushed["country_code"], pushed["party_id"], pushed["parking_type"]) == ("DE", "ACM", "UNDERGROUND_GARAGE")
    assert pushed["evses"][0]["connectors"][0]["max_amperage"] == 16
    pulled = peer_211.python(PEER_STATE.format(pull=True))
    assert pulled["pulled"] == 1 and pulled["locations"]["GARAGE"]["address"] == "Hauptstrasse 1"

    async def authorize():
        async with raw_charger(daphne_server, "ACME-211") as charger:
            await charger.boot()
            return (await charger.call("Authorize", {"idTag": "OLDCARD1"}))[2]["idTagInfo"]["status"]

    assert token.whitelist == "ALLOWED"  # asked in real time, over 2.1.1's authorize
    assert asyncio.run(authorize()) == "Accepted"

    # The peer starts a session by a 2.1.1 command; its session and CDR reach it in 2.1.1's shape.
    evse_uid = str(Connector.objects.get(charge_box=box).pk)

    async def remote_session():
        async with raw_charger(daphne_server, "ACME-211") as charger:
            await charger.boot()
            call, sent = await commanded(
                charger, peer_211, "START_SESSION", {"token": None, "location_id": "GARAGE", "evse_uid": evse_uid},
                {"status": "Accepted"}, id_tag="OLDCARD1",
            )  # fmt: skip
            start = {"connectorId": 1, "idTag": call[3]["idTag"], "meterStart": 0, "timestamp": now()}
            transaction_id = (await charger.call("StartTransaction", start))[2]["transactionId"]
            stop = {"transactionId": transaction_id, "meterStop": 7000, "timestamp": now()}
            await charger.call("StopTransaction", stop)
            return sent, transaction_id

    sent, transaction_id = asyncio.run(remote_session())
    assert sent["response"] == {"result": "ACCEPTED"}  # 2.1.1: no timeout
    drain()
    drain()
    assert peer_211.python(PEER_RESULT.format(pk=sent["pk"])) == {"result": "ACCEPTED"}
    held = peer_211.python(PEER_OBJECTS)
    session, cdr = held[f"sessions:{transaction_id}"], held[f"cdrs:{Cdr.objects.get().ocpi_id}"]
    assert (session["status"], session["kwh"], session["location_id"]) == ("COMPLETED", 7.0, "GARAGE")
    assert session["cdr_token"]["contract_id"] == "NL-OLD-COLDCARD1"
    assert cdr["total_energy"] == 7.0 and cdr["cdr_location"]["evse_uid"] == evse_uid
