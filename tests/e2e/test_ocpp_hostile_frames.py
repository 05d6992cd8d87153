"""Frames a hostile or broken charger sends, against a live Daphne process of its own (its log is read for
tracebacks, its memory measured): deep nesting, integers the schema allows but storage cannot hold, answers to
calls Powerfill never made."""

import asyncio
import json

import pytest
from django.db import connections

from ocpp_core.choices import MessageDirection
from ocpp_core.models import ChargeBox, ChargerEvent, Connector, ConnectorStatus, MeterValue, OcppMessage, Transaction
from ocpp_core.ocpp_j import MAX_NESTING_DEPTH
from ocpp_core.services.message_log import FLUSH_INTERVAL
from powerfill.accounts.services import api_token_create

from ..factories import ChargeBoxFactory, NodeFactory, OcppTagFactory, OcppTagPermissionFactory
from ..live import asgi_server_process
from .conftest import eventually, operation_answered_by
from .ocpp_client import raw_charger, run

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]

NOW = "2026-03-01T10:00:00Z"
UNMATCHED_ANSWER_LOG = "answers to calls it was not sent"  # what the server logs, once per socket


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    """A Daphne process for this module alone (the default frame limit, 256 KiB), so its log and memory are these
    tests' own."""
    with (
        django_db_blocker.unblock(),
        asgi_server_process(env={"OCPP_CALL_TIMEOUT": "3", "MALLOC_MMAP_THRESHOLD_": "131072"}) as live,
    ):
        yield live


@pytest.fixture(autouse=True)
def server_settled():
    """After each test, wait until the server has written what the test's sockets left it (their disconnection,
    the message log it flushes every half second): the database is emptied after the test, and a write racing
    with that would end in a deadlock and a traceback in the server's log that the next test reads."""
    yield
    eventually(lambda: not ChargeBox.objects.filter(is_connected=True).exists(), 10)
    logged = [-1]

    def log_settled() -> bool:
        count, logged[0] = logged[0], OcppMessage.objects.count()
        return count == logged[0]

    eventually(log_settled, 10, interval=FLUSH_INTERVAL + 0.2)


@pytest.fixture
def station(account):
    node = NodeFactory(account=account, name="Yard")
    box = ChargeBoxFactory(account=account, charge_box_id="HOSTILE-1", node=node)
    OcppTagPermissionFactory(ocpp_tag=OcppTagFactory(account=account, id_tag="OK"), node=node)
    return box


async def orm(function, *args):
    """Run an ORM function from the test's event loop, in a thread whose database connection closes after (one left
    open would keep the test database from being dropped)."""

    def call():
        try:
            return function(*args)
        finally:
            connections.close_all()

    return await asyncio.to_thread(call)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_deep_nesting_is_a_formation_violation_at_any_depth(server, station):
    depths = [MAX_NESTING_DEPTH - 2, MAX_NESTING_DEPTH, 900, 1000, 5000, 100_000]
    frames = [f'[2,"n{depth}","Heartbeat",{{"x":{nested(depth)}}}]' for depth in depths]
    frames.append(f'[3,"r1",{{"x":{nested(1000)}}}]')  # an answer nested as deep: no RecursionError either
    frames.append(f"[2,{nested(1000)}]")  # no id to answer to

    async def scenario():
        async with raw_charger(server.url, "HOSTILE-1") as charger:
            answers = [await charger.send_raw(frame) for frame in frames]
            still = await charger.call("Heartbeat", {})
            return answers, still

    answers, still = run(scenario())
    for depth, answer in zip(depths, answers, strict=False):
        # Within the bound the payload's unexpected field is what is wrong; beyond it, the nesting.
        assert answer[:3] == [4, f"n{depth}", "FormationViolation"], (depth, answer[:4])
        assert ("nest" in answer[3]) is (depth + 2 > MAX_NESTING_DEPTH), (depth, answer[3])
    assert answers[-2][:3] == [4, "r1", "FormationViolation"]
    assert answers[-1][:3] == [4, "-1", "FormationViolation"]
    assert still[0] == 3
    assert "Traceback" not in server.log_path.read_text()


STATUS = {"errorCode": "NoError", "status": "Charging"}
METER = {"meterValue": [{"timestamp": NOW, "sampledValue": [{"value": "100"}]}]}
START = {"idTag": "OK", "meterStart": 0, "timestamp": NOW}


@pytest.mark.parametrize("connector_id", [32768, 65535, 2147483647, -1, -32768])
def test_connector_ids_outside_what_is_stored_are_refused_on_every_message(server, station, connector_id):
    calls = [
        ("StatusNotification", {"connectorId": connector_id, **STATUS}),
        ("MeterValues", {"connectorId": connector_id, **METER}),
        ("StartTransaction", {"connectorId": connector_id, **START}),
    ]

    async def scenario():
        async with raw_charger(server.url, "HOSTILE-1") as charger:
            answers = [await charger.call(action, payload) for action, payload in calls]
            still = await charger.call("Heartbeat", {})
            return answers, still

    answers, still = run(scenario())
    for (action, _), answer in zip(calls, answers, strict=True):
        assert answer[0] == 4 and answer[2] == "PropertyConstraintViolation", (action, answer)
        assert answer[4]["field"] == "connectorId", answer
    assert still[0] == 3
    for model in (ConnectorStatus, Connector, MeterValue, Transaction):
        assert not model.objects.filter(charge_box=station).exists(), model
    assert "Traceback" not in server.log_path.read_text()


def test_the_stored_range_and_every_other_integer_are_accepted_at_their_bounds(server, station):
    calls = [
        ("StatusNotification", {"connectorId": 0, **STATUS}),
        ("StatusNotification", {"connectorId": 32767, **STATUS}),
        ("MeterValues", {"connectorId": 32767, "transactionId": 2147483647, **METER}),
        ("MeterValues", {"connectorId": 1, "transactionId": -2147483648, **METER}),
        (
            "StartTransaction",
            {"connectorId": 32767, "idTag": "OK", "meterStart": -2147483648, "timestamp": NOW, "reservationId": -1},
        ),
        (
            "StartTransaction",
            {"connectorId": 1, "idTag": "OK", "meterStart": 2147483647, "timestamp": NOW, "reservationId": 2147483647},
        ),
        ("StopTransaction", {"transactionId": 2147483647, "meterStop": -2147483648, "timestamp": NOW}),
        ("StopTransaction", {"transactionId": -2147483648, "meterStop": 2147483647, "timestamp": NOW}),
    ]

    async def scenario():
        async with raw_charger(server.url, "HOSTILE-1") as charger:
            return [await charger.call(action, payload) for action, payload in calls]

    answers = run(scenario())
    for (action, _), answer in zip(calls, answers, strict=True):
        assert answer[0] == 3, (action, answer)
    assert set(Connector.objects.filter(charge_box=station).values_list("connector_id", flat=True)) == {0, 32767}
    assert MeterValue.objects.filter(charge_box=station, transaction=None).count() == 2
    starts = Transaction.objects.filter(charge_box=station).values_list("connector_id", "meter_start")
    assert set(starts) == {(32767, -2147483648), (1, 2147483647)}
    assert ChargerEvent.objects.filter(charge_box=station, kind="UnknownStopTransaction").count() == 2


def test_answers_to_calls_never_made_are_dropped_and_memory_stays_bounded(server, station, account):
    """The charger answers calls Powerfill never sent, in four floods of 100 CALLRESULTs and 100 CALLERRORs of
    250 KB each. They are reported once for the socket, not kept: after the first flood has brought the server's
    buffers to their size, the next three (150 MB) grow its memory by less than a quarter of that (its buffers
    vary by some 30 MB from one moment to the next; kept, the answers took more than all of it). (The server's
    memory is measured once the frames are in the message log, which buffers them for a moment; glibc is told to
    give back large blocks at once, MALLOC_MMAP_THRESHOLD_, so memory freed is not counted as held.) A real
    operation's answer still reaches its caller."""
    _, token = api_token_create(account=account, name="tests")
    blob = "x" * 250_000

    def flood(round: int) -> list[str]:
        results = [json.dumps([3, f"never-{round}-{n}", {"data": blob}]) for n in range(100)]
        return results + [
            json.dumps([4, f"never-{round}-e{n}", "GenericError", "", {"data": blob}]) for n in range(100)
        ]

    def logged_answers() -> int:
        received = OcppMessage.objects.filter(charge_box=station, direction=MessageDirection.RECEIVED)
        return received.filter(message_type__in=[3, 4]).count()

    async def send_and_measure(charger, frames: list[str]) -> int:
        logged = await orm(logged_answers)
        for frame in frames:
            await charger.socket.send(frame)
        # Frames are served in order: once this is answered, every answer above was handled.
        assert (await charger.call("Heartbeat", {}))[0] == 3
        assert await orm(eventually, lambda: logged_answers() == logged + len(frames), 30)
        return server.rss_bytes("RssAnon")

    floods = [flood(round) for round in range(4)]

    async def scenario():
        async with raw_charger(server.url, "HOSTILE-1") as charger:
            before = await send_and_measure(charger, floods[0])
            for frames in floods[1:]:
                after = await send_and_measure(charger, frames)
            operation = await operation_answered_by(
                charger,
                server.url,
                token,
                "GetLocalListVersion",
                {"chargeBoxIdList": ["HOSTILE-1"]},
                {"listVersion": 7},
            )
            unanswered = charger.responses.qsize()
            return before, after, operation, unanswered

    before, after, (call, status, body), unanswered = run(scenario())
    sent = sum(len(frame) for frames in floods[1:] for frame in frames)
    grown = after - before
    print(
        f"RSS before {before / 2**20:.1f} MiB, after {after / 2**20:.1f} MiB: grew {grown / 2**20:.1f} MiB "
        f"for {sent / 2**20:.1f} MiB of unmatched answers"
    )
    assert grown < sent / 4, (before, after)
    assert unanswered == 0  # answers are not answered
    assert call is not None and status == 200, body
    assert body["successResponses"] == [{"chargeBoxId": "HOSTILE-1", "response": 7}]
    log = server.log_path.read_text()
    assert log.count(UNMATCHED_ANSWER_LOG) == 1, log[-3000:]
    assert "Traceback" not in log


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "x\udfff"])
def test_text_no_database_stores_is_refused_and_writes_nothing(server, station, text):
    calls = [
        ("StatusNotification", {"connectorId": 1, **STATUS, "info": text}),
        ("DataTransfer", {"vendorId": "acme", "data": text}),
        ("Authorize", {"idTag": text}),
        ("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": NOW, "sampledValue": [{"value": text}]}]}),
    ]

    async def scenario():
        async with raw_charger(server.url, "HOSTILE-1") as charger:
            answers = [await charger.call(action, payload) for action, payload in calls]
            bad_id = await charger.send_raw(json.dumps([2, text, "Heartbeat", {}]))
            still = await charger.call("Heartbeat", {})
            return answers, bad_id, still

    answers, bad_id, still = run(scenario())
    for (action, _), answer in zip(calls, answers, strict=True):
        assert answer[0] == 4 and answer[2] == "PropertyConstraintViolation", (action, answer)
    assert bad_id[:3] == [4, "-1", "PropertyConstraintViolation"]
    assert still[0] == 3
    for model in (ConnectorStatus, Connector, MeterValue, ChargerEvent):
        assert not model.objects.filter(charge_box=station).exists(), model
    assert "Traceback" not in server.log_path.read_text()
