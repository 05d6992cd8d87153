"""What one charger message costs the platform, counted rather than timed: new Redis connections and SQL statements
while chargers run mixed sessions against a live Daphne on PostgreSQL and Redis (the second pass of .ci/run).

A per-message cost shows as growth with the number of messages. The same 30 chargers (a third of them at a site
with a limit, so load management is asked for recomputes, the others at a site without one) run one session each,
then ten each: about 400 messages, then about 3,400. Redis is asked how many connections it has received
(INFO stats, total_connections_received) before and after each round; the server's database connections go through
a counting proxy here, which reads the PostgreSQL wire protocol and counts every statement executed (simple
queries and the extended protocol's Execute). The chargers connect anew in each round, so connection set-up is the
same in both: what may differ is what the messages cost.

Counts do not drift with machine speed: the bounds hold on a fast machine and a slow one alike.
"""

import asyncio
import os
import socket
import struct
import threading
from contextlib import AsyncExitStack, contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.db import connection

from ..factories import ChargeBoxFactory, NodeFactory, OcppTagFactory, OcppTagPermissionFactory
from ..live import asgi_server, database_url_for_children
from .conftest import OCPP_SERVER_ENV
from .ocpp_client import raw_charger, run

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]

MANAGED, UNMANAGED = 10, 20
ID_TAG = "COUNTED"
# Statements per message, all included: the answers' SQL, the message log's COPY, transactions' BEGIN and
# COMMIT, and a round's connecting (BootNotification, connect and disconnect). Measured (2026-12): 3.6 in the round
# of one session per charger, where connecting weighs most, 2.7 in the round of ten.
MAX_STATEMENTS_PER_MESSAGE = 4.0


class StatementCountingProxy:
    """A TCP proxy in front of PostgreSQL that counts the statements its clients execute. It reads what clients
    send: the untyped start-up packets (SSL and GSS requests are answered by the server, so clients must use
    sslmode=disable for the stream to stay readable), then typed messages, of which Query ('Q') and Execute ('E')
    each run a statement."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.statements = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._listener.close()

    def count(self) -> int:
        with self._lock:
            return self.statements

    async def _serve(self):
        self._server = await asyncio.start_server(self._client, sock=self._listener)

    async def _client(self, client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        back = asyncio.create_task(self._pipe(server_reader, client_writer))
        try:
            await self._client_to_server(client_reader, server_writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            server_writer.close()
            await back

    async def _client_to_server(self, reader, writer):
        while True:  # start-up: length, then a code (SSLRequest, GSSENCRequest, StartupMessage, CancelRequest)
            length = struct.unpack("!i", await reader.readexactly(4))[0]
            body = await reader.readexactly(length - 4)
            writer.write(struct.pack("!i", length) + body)
            await writer.drain()
            if struct.unpack("!i", body[:4])[0] not in (80877103, 80877104):
                break
        while True:
            kind = await reader.readexactly(1)
            length_bytes = await reader.readexactly(4)
            body = await reader.readexactly(struct.unpack("!i", length_bytes)[0] - 4)
            if kind in (b"Q", b"E"):
                with self._lock:
                    self.statements += 1
            writer.write(kind + length_bytes + body)
            await writer.drain()

    @staticmethod
    async def _pipe(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


@contextmanager
def counting_proxy():
    settings = connection.settings_dict
    proxy = StatementCountingProxy((settings.get("HOST") or "127.0.0.1", int(settings.get("PORT") or 5432)))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def postgres_and_redis():
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("counts PostgreSQL statements and Redis connections: runs in the PostgreSQL/Redis pass of .ci/run")
    return redis.Redis.from_url(os.environ["REDIS_URL"])


@pytest.fixture
def sites(account):
    managed = NodeFactory(account=account, name="With a fuse", max_current_a=63)
    unmanaged = NodeFactory(account=account, name="Without a limit")
    tag = OcppTagFactory(account=account, id_tag=ID_TAG, max_active_transaction_count=-1)
    ids = []
    for node, count, prefix in ((managed, MANAGED, "HOT-M"), (unmanaged, UNMANAGED, "HOT-U")):
        OcppTagPermissionFactory(ocpp_tag=tag, node=node)
        for number in range(count):
            box = ChargeBoxFactory(account=account, charge_box_id=f"{prefix}{number:02d}", node=node, max_current_a=32)
            ids.append(box.charge_box_id)
    return ids


async def _sessions(base_url: str, charge_box_id: str, sessions: int) -> int:
    """Connect, boot, run `sessions` charging sessions; returns how many messages were answered."""
    answered = 0
    async with AsyncExitStack() as stack:
        charger = await stack.enter_async_context(raw_charger(base_url, charge_box_id))

        async def call(action, payload):
            nonlocal answered
            frame = await charger.call(action, payload, timeout=30)
            assert frame[0] == 3, frame
            answered += 1
            return frame[2]

        await call("BootNotification", {"chargePointVendor": "Count", "chargePointModel": "C1"})
        await call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"})
        meter = 0
        for _ in range(sessions):
            await call("Authorize", {"idTag": ID_TAG})
            start = await call(
                "StartTransaction",
                {"connectorId": 1, "idTag": ID_TAG, "meterStart": meter, "timestamp": "2026-12-01T10:00:00Z"},
            )
            for reading in range(5):
                meter += 250
                amps = 16 if reading % 2 else 8  # every other reading deviates from what the site assumes
                sampled = [
                    {"value": str(meter), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": str(amps), "measurand": "Current.Import", "unit": "A"},
                ]
                await call(
                    "MeterValues",
                    {
                        "connectorId": 1,
                        "transactionId": start["transactionId"],
                        "meterValue": [{"timestamp": "2026-12-01T10:01:00Z", "sampledValue": sampled}],
                    },
                )
            await call(
                "StopTransaction",
                {"transactionId": start["transactionId"], "meterStop": meter, "timestamp": "2026-12-01T10:30:00Z"},
            )
            for status in ("Finishing", "Available"):
                await call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": status})
            await call("Heartbeat", {})
    return answered


def _round(base_url, charge_box_ids, sessions, redis_client, proxy) -> dict:
    connections_before = redis_client.info("stats")["total_connections_received"]
    statements_before = proxy.count()

    async def everyone():
        return sum(await asyncio.gather(*(_sessions(base_url, box, sessions) for box in charge_box_ids)))

    messages = run(everyone())
    return {
        "messages": messages,
        "redis_connections": redis_client.info("stats")["total_connections_received"] - connections_before,
        "statements": proxy.count() - statements_before,
    }


def test_redis_connections_and_sql_statements_do_not_grow_with_the_messages(
    postgres_and_redis, sites, django_db_blocker
):
    redis_client = postgres_and_redis
    redis_client.ping()  # the test's own connection, opened before anything is counted
    with counting_proxy() as proxy:
        parts = urlsplit(database_url_for_children())
        through_proxy = urlunsplit(
            parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}", query="sslmode=disable")
        )
        with django_db_blocker.unblock(), asgi_server(env={**OCPP_SERVER_ENV, "DATABASE_URL": through_proxy}) as url:
            _round(url, sites, 1, redis_client, proxy)  # warm-up: pools, prepared statements, the lease
            few = _round(url, sites, 1, redis_client, proxy)
            many = _round(url, sites, 10, redis_client, proxy)

    assert many["messages"] >= 8 * few["messages"], (few, many)
    # Connections come with sockets and concurrency, which both rounds share, never with messages: the pools grow
    # by a few where more calls happen to overlap (seen: 0 to 5 in either round); one per event would be thousands.
    assert many["redis_connections"] <= few["redis_connections"] + 10, (few, many)
    for counted in (few, many):
        assert counted["statements"] / counted["messages"] <= MAX_STATEMENTS_PER_MESSAGE, (few, many)
    # Per message, the long round costs no more than the short one (which carries more connecting per message).
    assert many["statements"] / many["messages"] <= few["statements"] / few["messages"] + 0.05, (few, many)
