"""Registering with a partner as an operator or a script does it, between two live platforms: the admin's action over
HTTP (the partner calls us back while we wait for its answer, so no transaction may be open meanwhile), the
scripted set-up of API.md §0 (`manage.py ocpi_token_a`, `manage.py ocpi_register`) on fresh databases, and the
initial sync that registration starts by itself, either way round."""

import asyncio
import os
import re
import subprocess
import sys
from contextlib import nullcontext

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from ocpp_core.models import ChargeBox, Connector
from permissions.services import permission_grant
from powerfill.accounts.models import Account
from roaming.choices import RegistrationState
from roaming.models import Cdr, Location, ModuleSync, OcpiIdentity, OutboxMessage, PartnerLocation, Party
from roaming.services.credentials import party_register_with
from roaming.services.locations import location_save
from roaming.services.pull import partner_tokens_pull
from sites.models import Node

from ..live import PROJECT_DIR, celery_worker, database_url_for_children
from .conftest import eventually
from .ocpi_peer import now
from .ocpp_client import raw_charger, run
from .test_ocpi_roaming_session import PEER_EMSP

pytestmark = pytest.mark.django_db(transaction=True)

PEER_STATE = """
import json
from roaming.models import Party, PartnerLocation
party = Party.objects.filter(name="{name}").first()
print(json.dumps({{
    "state": party and party.state,
    "roles": sorted(f"{{r.country_code}}*{{r.party_id}} {{r.role}}" for r in party.roles.all()) if party else [],
    "locations": sorted(PartnerLocation.objects.values_list("ocpi_id", flat=True)),
}}))
"""

# The peer as CPO with a published location, and a token A for us.
PEER_WITH_A_LOCATION = """
import json
from django.utils import timezone
from ocpp_core.models import ChargeBox, Connector
from powerfill.accounts.models import Account
from roaming.models import Location, OcpiIdentity
from roaming.services.credentials import party_invite
from sites.models import Node
account = Account.objects.create(name="Peer Charging")
identity = OcpiIdentity.objects.create(account=account, country_code="NL", party_id="PEE", name="Peer Charging")
node = Node.objects.create(account=account, name="Peer lot")
box = ChargeBox.objects.create(account=account, charge_box_id="PEER-1", node=node, max_current_a=32)
Connector.objects.create(charge_box=box, connector_id=1, status="Available", status_updated_at=timezone.now())
Location.objects.create(
    identity=identity, node=node, ocpi_id="PEER-LOT", address="Damrak 1", city="Amsterdam", country="NLD",
    latitude="52.37", longitude="4.89", time_zone="Europe/Amsterdam",
)
print(json.dumps(party_invite(account=account, name="Acme").incoming_token if {invite} else ""))
"""


def our_location(account: Account) -> Location:
    """A published location of ours (DE*ACM GARAGE) with one EVSE."""
    node = Node.objects.create(account=account, name="Garage")
    box = ChargeBox.objects.create(account=account, charge_box_id="ACME-1", node=node, max_current_a=32)
    Connector.objects.create(charge_box=box, connector_id=1, status="Available", status_updated_at=timezone.now())
    return Location.objects.create(
        identity=account.ocpi_identities.get(), node=node, ocpi_id="GARAGE", address="Hauptstrasse 1", city="Berlin",
        country="DEU", latitude="52.520008", longitude="13.404954", time_zone="Europe/Berlin",
    )  # fmt: skip


def workers():
    """Where tasks leave the server process (a broker: the PostgreSQL/Redis pass), a worker runs them; with eager
    Celery the server runs them itself."""
    return celery_worker() if os.environ.get("REDIS_URL") else nullcontext()


def manage_here(*args: str) -> subprocess.CompletedProcess:
    """manage.py in a process of its own, on our (the test) database, as a script would run it."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "powerfill.settings.test",
        "DATABASE_URL": database_url_for_children(),
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def manage_peer(peer, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "powerfill.settings.test", **peer.env}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
    )


class AdminSession:
    """A browser's conversation with the admin of a live server, over HTTP: a login, then forms with their CSRF
    token."""

    def __init__(self, base_url: str, username: str, password: str):
        self.http = httpx.Client(base_url=base_url, timeout=120)
        answer = self.http.post(
            "/admin/login/?next=/admin/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": self.csrf("/admin/login/")},
        )
        assert answer.status_code == 302, answer.text[:500]

    def csrf(self, path: str) -> str:
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.http.get(path).text).group(1)

    def action(self, changelist: str, action: str, pks: list[int]) -> list[str]:
        """Run an action of a changelist on some rows; the messages the page shows afterwards."""
        page = self.http.post(
            changelist,
            data={
                "action": action,
                "_selected_action": [str(pk) for pk in pks],
                "index": "0",
                "csrfmiddlewaretoken": self.csrf(changelist),
            },
            follow_redirects=True,
        )
        assert page.status_code == 200, page.text[:500]
        return [re.sub(r"\s+", " ", m).strip() for m in re.findall(r'<li class="[^"]*">(.*?)</li>', page.text, re.S)]


def test_the_admin_registers_with_a_peer_and_the_initial_sync_runs_by_itself(daphne_server, peer, acme):
    token_a = peer.python(PEER_WITH_A_LOCATION.format(invite=True))
    our_location(acme)
    party = Party.objects.create(account=acme, name="Peer", versions_url=f"{peer.url}/ocpi/versions")
    party.outgoing_token = token_a
    party.save()
    get_user_model().objects.create_superuser("root", "root@example.com", "a password of the admin")

    with workers():
        admin = AdminSession(daphne_server, "root", "a password of the admin")
        shown = admin.action("/admin/roaming/party/", "register_with_partner", [party.pk])

        assert "Peer: registered (OCPI 2.2.1)." in shown, shown
        party.refresh_from_db()
        assert party.state == RegistrationState.REGISTERED and party.last_error == ""
        seen_by_peer = peer.python(PEER_STATE.format(name="Acme"))
        assert seen_by_peer["state"] == RegistrationState.REGISTERED
        assert seen_by_peer["roles"] == ["DE*ACM CPO", "DE*ACM EMSP"]

        # The initial sync, with no operator's Re-sync: the peer got our location, we pulled the peer's.
        assert eventually(lambda: peer.python(PEER_STATE.format(name="Acme"))["locations"], timeout=60) == ["GARAGE"]
        assert eventually(lambda: list(PartnerLocation.objects.values_list("ocpi_id", flat=True)), timeout=60) == [
            "PEER-LOT"
        ]
        assert OutboxMessage.objects.get(key="locations:DE:ACM:GARAGE").sent_at is not None


def test_a_peer_registers_with_us_by_script_and_we_start_the_initial_sync(daphne_server, peer):
    # Our side, scripted on a fresh database: the account and its identity come with the token A.
    issued = manage_here(
        "ocpi_token_a", "Peer", "--account", "Acme Charging", "--country-code", "de", "--party-id", "acm"
    )
    assert issued.returncode == 0, issued.stderr
    token_a = issued.stdout.strip().splitlines()[-1]
    acme = Account.objects.get(name="Acme Charging")
    assert [str(identity) for identity in acme.ocpi_identities.all()] == ["DE*ACM (Acme Charging)"]
    assert Party.objects.get(account=acme, name="Peer").incoming_token == token_a
    our_location(acme)
    peer.python(PEER_WITH_A_LOCATION.format(invite=False))

    with workers():
        registered = manage_peer(
            peer, "ocpi_register", "--versions-url", f"{daphne_server}/ocpi/versions", "--token", token_a,
            "--name", "Acme", "--account", "Peer Charging", "--public-url", peer.url,
        )  # fmt: skip

        assert registered.returncode == 0, registered.stderr
        assert "Registered with 'Acme' (OCPI 2.2.1" in registered.stdout
        party = Party.objects.get(account=acme, name="Peer")
        assert party.state == RegistrationState.REGISTERED
        assert sorted(str(role) for role in party.roles.all()) == ["NL*PEE CPO", "NL*PEE EMSP"]

        # Our side of the initial sync: our location pushed to the peer, the peer's modules pulled.
        def pushed_and_pulled():
            pushed = OutboxMessage.objects.filter(partner=party, key="locations:DE:ACM:GARAGE", sent_at__isnull=False)
            pulled = ModuleSync.objects.filter(partner=party, module="locations", last_pull_at__isnull=False)
            return pushed.exists() and pulled.exists()

        assert eventually(pushed_and_pulled, timeout=60)
        assert list(PartnerLocation.objects.filter(partner=party).values_list("ocpi_id", flat=True)) == ["PEER-LOT"]
        assert peer.python(PEER_STATE.format(name="Acme"))["locations"] == ["GARAGE"]


def test_the_scripted_set_up_works_on_two_fresh_databases_and_fails_loudly(daphne_server, peer):
    # Nothing in either database but the migrations: every default comes from the settings.
    issued = manage_here("ocpi_token_a", "Peer")
    assert issued.returncode == 0, issued.stderr
    token_a = issued.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token_a)
    assert [(i.account.name, i.country_code, i.party_id) for i in OcpiIdentity.objects.all()] == [
        ("Powerfill", "DE", "PWF")
    ]

    # A wrong token, an unreachable partner, a bad URL: exit status 1 with the reason, nothing registered.
    refused = manage_peer(
        peer, "ocpi_register", "--versions-url", f"{daphne_server}/ocpi/versions", "--token", "not-the-token",
        "--public-url", peer.url, "--country-code", "NL", "--party-id", "PEE",
    )  # fmt: skip
    assert refused.returncode == 1 and "401" in refused.stderr, refused.stderr
    unreachable = manage_peer(
        peer, "ocpi_register", "--versions-url", "http://127.0.0.1:9/ocpi/versions", "--token", token_a,
        "--public-url", peer.url,
    )  # fmt: skip
    assert unreachable.returncode == 1 and "ConnectError" in unreachable.stderr, unreachable.stderr
    malformed = manage_peer(peer, "ocpi_register", "--versions-url", "not a url", "--token", token_a)
    assert malformed.returncode == 1 and "valid URL" in malformed.stderr, malformed.stderr
    assert Party.objects.get(name="Peer").state == RegistrationState.INVITED
    assert peer.python(PEER_STATE.format(name=f"127.0.0.1:{daphne_server.rsplit(':', 1)[1]}"))["state"] == "invited"

    registered = manage_peer(
        peer, "ocpi_register", "--versions-url", f"{daphne_server}/ocpi/versions", "--token", token_a,
        "--public-url", peer.url, "--country-code", "NL", "--party-id", "PEE",
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    party = Party.objects.get(name="Peer")
    assert party.state == RegistrationState.REGISTERED
    assert sorted(str(role) for role in party.roles.all()) == ["NL*PEE CPO", "NL*PEE EMSP"]
    seen_by_peer = peer.python(PEER_STATE.format(name=f"127.0.0.1:{daphne_server.rsplit(':', 1)[1]}"))
    assert seen_by_peer["state"] == RegistrationState.REGISTERED and seen_by_peer["roles"] == [
        "DE*PWF CPO",
        "DE*PWF EMSP",
    ]

    # Registered now: a second registration, or a new token A by script, is refused and changes nothing.
    again = manage_peer(
        peer, "ocpi_register", "--versions-url", f"{daphne_server}/ocpi/versions", "--token", token_a,
        "--public-url", peer.url,
    )  # fmt: skip
    assert again.returncode == 1 and "Already registered" in again.stderr
    reissued = manage_here("ocpi_token_a", "Peer")
    assert reissued.returncode == 1 and "registered" in reissued.stderr
    assert Party.objects.get(name="Peer").incoming_token == party.incoming_token


PEER_SEES = """
import json
from roaming.models import PartnerLocation, PartnerObject
location = PartnerLocation.objects.filter(ocpi_id="GARAGE").first()
print(json.dumps({
    "evse_status": location and location.data["evses"][0]["status"],
    "sessions": {o.ocpi_id: o.data["status"] for o in PartnerObject.objects.filter(module="sessions")},
    "cdrs": sorted(PartnerObject.objects.filter(module="cdrs").values_list("ocpi_id", flat=True)),
}))
"""


def test_without_celery_beat_evse_statuses_sessions_and_the_cdr_reach_the_partner(daphne_server, peer, acme):
    """The README's quick start: eager Celery and no beat. What the chargers' SQL queues is sent once committed."""
    with workers():
        party = Party.objects.create(account=acme, name="Peer", versions_url=f"{peer.url}/ocpi/versions")
        party.outgoing_token = peer.python(PEER_EMSP)
        party_register_with(party=party, base_url=daphne_server)
        party.refresh_from_db()
        assert partner_tokens_pull(party=party) == 2
        party.refresh_from_db()
        location = our_location(acme)
        permission_grant(holder=party.token_group, node=location.node)
        location_save(location=location)  # sent once committed, as before
        assert eventually(lambda: peer.python(PEER_SEES)["evse_status"] == "UNKNOWN", timeout=60)  # offline

        def everything_sent():
            return not OutboxMessage.objects.filter(sent_at=None, gave_up_at=None).exists()

        async def session(charger):
            await charger.boot()
            status = {"connectorId": 1, "status": "Preparing", "errorCode": "NoError", "timestamp": now()}
            await charger.call("StatusNotification", status)
            started = await charger.call(
                "StartTransaction", {"connectorId": 1, "idTag": "PEERCARD1", "meterStart": 1000, "timestamp": now()}
            )
            transaction_id = started[2]["transactionId"]
            await charger.call("StatusNotification", {**status, "status": "Charging"})
            charging = await asyncio.to_thread(eventually, everything_sent, 60)
            seen_charging = await asyncio.to_thread(peer.python, PEER_SEES)
            await charger.call(
                "StopTransaction", {"transactionId": transaction_id, "meterStop": 5000, "timestamp": now()}
            )
            await charger.call("StatusNotification", {**status, "status": "Available"})
            stopped = await asyncio.to_thread(eventually, lambda: everything_sent() and Cdr.objects.exists(), 60)
            seen_stopped = await asyncio.to_thread(peer.python, PEER_SEES)
            return transaction_id, charging, seen_charging, stopped, seen_stopped

        async def charge():
            async with raw_charger(daphne_server, "ACME-1") as charger:
                return await session(charger)

        transaction_id, charging, seen_charging, stopped, seen_stopped = run(charge())

        assert charging and stopped
        assert seen_charging["evse_status"] == "CHARGING"
        assert seen_charging["sessions"] == {str(transaction_id): "ACTIVE"}
        assert seen_stopped["evse_status"] == "AVAILABLE"
        assert seen_stopped["sessions"] == {str(transaction_id): "COMPLETED"}
        assert seen_stopped["cdrs"] == [Cdr.objects.get().ocpi_id]
        assert not OutboxMessage.objects.filter(gave_up_at__isnull=False).exists()  # none failed either
