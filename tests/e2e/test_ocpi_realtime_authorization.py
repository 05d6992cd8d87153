"""Real-time authorization at our charger (we are the CPO) against a live eMSP whose answer is malformed: the answer
decides nothing, it is logged, and the whitelist rule for an eMSP that cannot be asked applies (ALLOWED tokens charge
on what we hold, NEVER tokens do not), as it does when the eMSP is unreachable."""

import asyncio
from pathlib import Path

import pytest

from ocpp_core.models import ChargeBox, Connector
from permissions.services import permission_grant
from roaming.choices import OcpiRole, RegistrationState
from roaming.models import PartnerToken, Party, PartyRole
from roaming.services.partner_tokens import partner_token_put
from sites.models import Node
from tests.live import PROJECT_DIR

from .ocpi_peer import now
from .ocpi_scripted_partner import scripted_partner
from .ocpp_client import raw_charger

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = {"country_code": "NL", "party_id": "SCR", "uid": "SCRIPTED1", "type": "RFID", "contract_id": "NL-SCR-C1"}
ANSWER_TOKEN = {**TOKEN, "issuer": "Scripted", "valid": True, "whitelist": "ALLOWED", "last_updated": now()}
MALFORMED = {
    "data is a string": "ALLOWED",
    "no data": None,
    "an unknown allowed value": {"allowed": "MAYBE", "token": ANSWER_TOKEN},
    "allowed missing": {"token": ANSWER_TOKEN},
    "a list": [{"allowed": "BLOCKED", "token": ANSWER_TOKEN}],
    "allowed not a string": {"allowed": ["BLOCKED"], "token": ANSWER_TOKEN},
    "ALLOWED with a token that is no token": {"allowed": "ALLOWED", "token": {"uid": 7}},
    "ALLOWED without its token": {"allowed": "ALLOWED"},
}
# A clear refusal in an answer flawed elsewhere: the refusal stands (an eMSP's no is never turned into a yes).
FLAWED_REFUSALS = {
    "a token that is no token": {"token": {"uid": 7}},
    "no token": {},
    "an authorization_reference too long": {"token": ANSWER_TOKEN, "authorization_reference": "r" * 37},
}
REFUSALS = {"BLOCKED": "Blocked", "EXPIRED": "Expired", "NO_CREDIT": "Invalid", "NOT_ALLOWED": "Invalid"}


@pytest.fixture
def emsp(acme):
    with scripted_partner() as partner:
        party = Party.objects.create(
            account=acme,
            name="Scripted eMSP",
            state=RegistrationState.REGISTERED,
            versions_url=f"{partner.url}/ocpi/versions",
            version="2.2.1",
            endpoints=[{"identifier": "tokens", "role": "SENDER", "url": f"{partner.url}/ocpi/emsp/2.2.1/tokens"}],
            outgoing_token="token-we-call-it-with",
        )
        PartyRole.objects.create(
            partner=party, role=OcpiRole.EMSP, country_code="NL", party_id="SCR", business_details={"name": "S"}
        )
        body = {**ANSWER_TOKEN, "last_updated": now()}
        assert partner_token_put(party=party, country_code="NL", party_id="SCR", token_uid="SCRIPTED1", data=body)
        party.refresh_from_db()
        node = Node.objects.create(account=acme, name="Garage")
        permission_grant(holder=party.token_group, node=node)
        box = ChargeBox.objects.create(account=acme, charge_box_id="ACME-RT", node=node, max_current_a=32)
        Connector.objects.create(charge_box=box, connector_id=1, status="Available")
        yield partner


def authorize(server: str) -> str:
    async def scenario():
        async with raw_charger(server, "ACME-RT") as charger:
            await charger.boot()
            return (await charger.call("Authorize", {"idTag": "SCRIPTED1"}))[2]["idTagInfo"]["status"]

    return asyncio.run(scenario())


def malformed_answers_logged(server: str, marker: str = "is no AuthorizationInfo") -> list[str]:
    log = Path(PROJECT_DIR / "tmp" / f"daphne-{server.rsplit(':', 1)[1]}.log").read_text()
    return [line for line in log.splitlines() if marker in line]


def test_a_well_formed_answer_decides(daphne_server, emsp):
    emsp.answer = {"status_code": 1000, "timestamp": now(), "data": {"allowed": "BLOCKED", "token": ANSWER_TOKEN}}
    assert authorize(daphne_server) == "Blocked"
    emsp.answer["data"]["allowed"] = "ALLOWED"
    assert authorize(daphne_server) == "Accepted"
    assert [(method, path) for method, path, _ in emsp.requests] == [
        ("POST", "/ocpi/emsp/2.2.1/tokens/SCRIPTED1/authorize?type=RFID")
    ] * 2


@pytest.mark.parametrize("what", list(MALFORMED))
def test_a_malformed_answer_is_logged_and_the_whitelist_rule_decides(daphne_server, emsp, what):
    emsp.answer = {"status_code": 1000, "timestamp": now(), "data": MALFORMED[what]}
    if MALFORMED[what] is None:
        del emsp.answer["data"]
    logged_before = len(malformed_answers_logged(daphne_server))
    assert authorize(daphne_server) == "Accepted"  # an ALLOWED token charges on what we hold
    PartnerToken.objects.filter(uid="SCRIPTED1").update(whitelist="NEVER")
    assert authorize(daphne_server) == "Invalid"  # a NEVER token does not
    assert len(emsp.requests) == 2  # the eMSP was asked each time
    assert PartnerToken.objects.get(uid="SCRIPTED1").last_authorization is None
    logged = malformed_answers_logged(daphne_server)[logged_before:]
    assert len(logged) == 2 and all("Real-time authorization of NL*SCR SCRIPTED1" in line for line in logged)


@pytest.mark.parametrize("flaw", list(FLAWED_REFUSALS))
@pytest.mark.parametrize("allowed", list(REFUSALS))
def test_a_clear_refusal_stands_though_the_rest_of_the_answer_is_flawed(daphne_server, emsp, allowed, flaw):
    emsp.answer = {"status_code": 1000, "timestamp": now(), "data": {"allowed": allowed, **FLAWED_REFUSALS[flaw]}}
    logged_before = len(malformed_answers_logged(daphne_server, "the refusal stands"))
    # The token's whitelist is ALLOWED: were the answer taken for an unreachable eMSP, the token would charge.
    assert authorize(daphne_server) == REFUSALS[allowed]
    assert len(emsp.requests) == 1
    assert PartnerToken.objects.get(uid="SCRIPTED1").last_authorization is None
    logged = malformed_answers_logged(daphne_server, "the refusal stands")[logged_before:]
    assert len(logged) == 1 and f"the eMSP answered {allowed}" in logged[0]
