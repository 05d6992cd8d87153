"""A second Powerfill platform for roaming tests: its own server process and its own SQLite database (and no Redis:
eager Celery, in-memory layer), set up and inspected through manage.py in that database."""

import asyncio
import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from django.utils import timezone

from roaming.models import OutboxMessage, ReceivedCommand
from roaming.services.commands import command_run
from roaming.services.outbox import outbox_due, outbox_send

from ..live import PROJECT_DIR, asgi_server, reserved_port


class PeerPlatform:
    def __init__(self, database: Path, port: int):
        # Pages of 50, so that pulls of a few hundred objects follow Link headers. The initial sync the peer starts
        # when we register with it (a few seconds later) is left out, so that what a scenario does is all that
        # reaches us: test_ocpi_partner_flows.py is about that sync.
        self.env = {
            "DATABASE_URL": f"sqlite:///{database}",
            "REDIS_URL": "",
            "OCPI_PUBLIC_URL": "",
            "OCPI_PAGE_LIMIT": "50",
            "OCPI_SYNC_AFTER_REGISTRATION_SECONDS": "86400",
        }
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._server = ExitStack()

    def start(self) -> None:
        """Serve at self.url (again, after stop(): the URL its partners keep in their endpoints)."""
        self._server.enter_context(asgi_server(env=self.env, port=self.port))

    def stop(self) -> None:
        """Stop the server; until start(), a connection to self.url is refused."""
        self._server.close()

    def manage(self, *args: str) -> str:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "powerfill.settings.test", **self.env}
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args[:1])} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def python(self, code: str):
        """Run code in the peer's Django (manage.py shell); it prints one JSON value, which is returned."""
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])


@contextmanager
def peer_platform(directory: Path, **settings: str):
    """A peer serving at a reserved port; `settings` are environment settings of its own (e.g. OCPI_VERSIONS)."""
    with reserved_port() as port:
        peer = PeerPlatform(directory / "peer.sqlite3", port)
        peer.env.update(settings)
        peer.manage("migrate", "--verbosity", "0")
        peer.start()
        try:
            yield peer
        finally:
            peer.stop()


# Roaming scenarios: what a worker does, and the peer sending us commands.


def drain() -> None:
    """What the Celery beat's drain does, and then wait for what a server process is sending meanwhile (it drains
    by itself once the chargers' SQL queued something: roaming.services.outbox.outbox_drain_soon)."""
    deadline = time.monotonic() + 60
    while True:
        for message_pk in outbox_due():
            outbox_send(message_pk)
        in_flight = OutboxMessage.objects.filter(sent_at=None, gave_up_at=None, claimed_until__gt=timezone.now())
        if not in_flight.exists():
            return
        assert time.monotonic() < deadline, "a message stayed claimed"
        time.sleep(0.05)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


PEER_SENDS = """
import json
from ocpp_core.models import OcppTag
from roaming.models import Party
from roaming.selectors import primary_identity
from roaming.services.commands import command_send
from roaming.tokens import token_object
party = Party.objects.get(name="Acme")
token = token_object(OcppTag.objects.get(id_tag="{id_tag}"), primary_identity(party.account_id))
body = {body}
if "token" in body:
    body["token"] = token
sent = command_send(party=party, command="{command}", body=body, base_url="{base_url}")
print(json.dumps({{"pk": sent.pk, "response": sent.response}}))
"""


PEER_RESULT = """
import json
from roaming.models import SentCommand
print(json.dumps(SentCommand.objects.get(pk={pk}).result))
"""


def peer_command(peer, command: str, body: dict, id_tag: str = "PEERCARD1") -> dict:
    return peer.python(PEER_SENDS.format(command=command, body=repr(body), base_url=peer.url, id_tag=id_tag))


async def commanded(charger, peer, command: str, body: dict, answer: dict, id_tag: str = "PEERCARD1"):
    """The peer sends a command and our charger answers the OCPP call it becomes. With eager Celery (the quick
    start) our server carries the command out while answering the peer; with a broker, a worker would: here the
    test does the worker's part."""
    sending = asyncio.create_task(asyncio.to_thread(peer_command, peer, command, body, id_tag))
    try:
        call = await charger.next_call(timeout=6)
    except TimeoutError:
        await sending
        received = await asyncio.to_thread(lambda: ReceivedCommand.objects.latest("pk").pk)
        running = asyncio.create_task(asyncio.to_thread(command_run, received))
        call = await charger.next_call(timeout=10)
        await charger.reply(call, answer)
        await running
    else:
        await charger.reply(call, answer)
    sent = await sending
    return call, sent
