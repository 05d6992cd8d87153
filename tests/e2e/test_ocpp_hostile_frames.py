"""Frames a hostile or broken charger sends, against a live Daphne process of its own (its log is read for
tracebacks, its memory measured): deep nesting, integers the schema allows but storage cannot hold, answers to
calls Powerfill never made."""

import pytest

from ocpp_core.models import ChargerEvent, Connector, ConnectorStatus, MeterValue, Transaction
from ocpp_core.ocpp_j import MAX_NESTING_DEPTH

from ..factories import ChargeBoxFactory, NodeFactory, OcppTagFactory, OcppTagPermissionFactory
from ..live import asgi_server_process
from .ocpp_client import raw_charger, run

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]

NOW = "2026-03-01T10:00:00Z"


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    """A Daphne process for this module alone (the default frame limit, 256 KiB), so its log and memory are these
    tests' own."""
    with (
        django_db_blocker.unblock(),
        asgi_server_process(env={"OCPP_CALL_TIMEOUT": "3", "MALLOC_MMAP_THRESHOLD_": "131072"}) as live,
    ):
        yield live


@pytest.fixture
def station(account):
    node = NodeFactory(account=account, name="Yard")
    box = ChargeBoxFactory(account=account, charge_box_id="HOSTILE-1", node=node)
    OcppTagPermissionFactory(ocpp_tag=OcppTagFactory(account=account, id_tag="OK"), node=node)
    return box


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
