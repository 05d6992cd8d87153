"""Two Powerfill platforms register with each other over real HTTP (the OCPI credentials handshake): ours, on the
test database, registers with a peer platform from the versions URL and token A the peer issued."""

import base64

import httpx
import pytest

from roaming.choices import RegistrationState
from roaming.models import Party
from roaming.services.credentials import party_invite, party_register_with

pytestmark = pytest.mark.django_db(transaction=True)

PEER_SETUP = """
import json
from roaming.models import OcpiIdentity
from roaming.services.credentials import party_invite
account = Account.objects.create(name="Peer Charging")
OcpiIdentity.objects.create(account=account, country_code="NL", party_id="PEE", name="Peer Charging")
print(json.dumps(party_invite(account=account, name="Acme").incoming_token))
"""

PEER_STATE = """
import json
from roaming.models import Party
party = Party.objects.get(name="Acme")
print(json.dumps({
    "state": party.state, "incoming": party.incoming_token, "outgoing": party.outgoing_token,
    "roles": sorted(f"{r.country_code}*{r.party_id} {r.role}" for r in party.roles.all()),
    "versions_url": party.versions_url,
}))
"""


def ocpi(method: str, url: str, token: str, *, plain: bool = False, body: dict | None = None) -> httpx.Response:
    value = token if plain else base64.b64encode(token.encode()).decode()
    return httpx.request(method, url, headers={"Authorization": f"Token {value}"}, json=body, timeout=15)


def test_we_register_with_a_peer_and_the_tokens_work_both_ways(daphne_server, peer, acme):
    token_a = peer.python(PEER_SETUP)
    party = Party.objects.create(
        account=acme,
        name="Peer",
        versions_url=f"{peer.url}/ocpi/versions",
        outgoing_token=token_a,
    )

    party_register_with(party=party, base_url=daphne_server)

    party.refresh_from_db()
    assert party.state == RegistrationState.REGISTERED and party.version == "2.2.1"
    assert sorted(str(role) for role in party.roles.all()) == ["NL*PEE CPO", "NL*PEE EMSP"]
    assert party.outgoing_token not in ("", token_a)  # token C, issued by the peer
    seen_by_peer = peer.python(PEER_STATE)
    assert seen_by_peer["state"] == RegistrationState.REGISTERED
    assert seen_by_peer["outgoing"] == party.incoming_token  # token B, which it read our versions with
    assert seen_by_peer["incoming"] == party.outgoing_token
    assert seen_by_peer["roles"] == ["DE*ACM CPO", "DE*ACM EMSP"]
    assert seen_by_peer["versions_url"] == f"{daphne_server}/ocpi/versions"

    # Each side's token opens the other's endpoints (base64 as 2.2.1 asks, or plain); token A opens nothing now.
    credentials = ocpi("GET", f"{peer.url}/ocpi/2.2.1/credentials", party.outgoing_token)
    assert credentials.status_code == 200 and credentials.json()["data"]["token"] == party.outgoing_token
    assert ocpi("GET", f"{peer.url}/ocpi/versions", party.outgoing_token, plain=True).status_code == 200
    assert ocpi("GET", f"{daphne_server}/ocpi/versions", party.incoming_token).status_code == 200
    assert ocpi("GET", f"{peer.url}/ocpi/versions", token_a).status_code == 401

    # A second registration is refused; unregistering voids the token.
    again = ocpi("POST", f"{peer.url}/ocpi/2.2.1/credentials", party.outgoing_token, body=credentials.json()["data"])
    assert again.status_code == 405
    assert ocpi("DELETE", f"{peer.url}/ocpi/2.2.1/credentials", party.outgoing_token).status_code == 200
    assert ocpi("GET", f"{peer.url}/ocpi/versions", party.outgoing_token).status_code == 401
    assert peer.python(PEER_STATE)["state"] == RegistrationState.UNREGISTERED


def test_a_peer_registers_with_us_and_renews_its_credentials(daphne_server, peer, acme):
    invited = party_invite(account=acme, name="Peer")
    # The peer's operator enters our versions URL and our token A, and registers (the same service, there).
    peer.python(
        "import json\n"
        "from powerfill.accounts.models import Account\n"
        "from roaming.models import OcpiIdentity, Party\n"
        "from roaming.services.credentials import party_register_with\n"
        "account = Account.objects.create(name='Peer Charging')\n"
        "OcpiIdentity.objects.create(account=account, country_code='NL', party_id='PEE', name='Peer Charging')\n"
        f"party = Party.objects.create(account=account, name='Acme', versions_url='{daphne_server}/ocpi/versions',"
        f" outgoing_token='{invited.incoming_token}')\n"
        f"party_register_with(party=party, base_url='{peer.url}')\n"
        "print(json.dumps(party.state))"
    )
    invited.refresh_from_db()
    assert invited.state == RegistrationState.REGISTERED
    assert sorted(str(role) for role in invited.roles.all()) == ["NL*PEE CPO", "NL*PEE EMSP"]
    token_c = invited.incoming_token
    assert ocpi("GET", f"{daphne_server}/ocpi/versions", token_c).status_code == 200

    # PUT: the peer sends its credentials again and gets a fresh token C; the old one is void.
    peer_credentials = ocpi("GET", f"{peer.url}/ocpi/2.2.1/credentials", invited.outgoing_token).json()["data"]
    renewed = ocpi("PUT", f"{daphne_server}/ocpi/2.2.1/credentials", token_c, body=peer_credentials)
    assert renewed.status_code == 200, renewed.text
    new_token_c = renewed.json()["data"]["token"]
    assert new_token_c != token_c
    assert ocpi("GET", f"{daphne_server}/ocpi/versions", token_c).status_code == 401
    assert ocpi("GET", f"{daphne_server}/ocpi/versions", new_token_c).status_code == 200
