"""What ocpp_core/ocpp_library.py assumes of the `ocpp` library's internals, pinned: a library version that changes
any of it fails here, not at a charger."""

import asyncio
import inspect
import json

import pytest
from ocpp.charge_point import ChargePoint
from ocpp.messages import CallResult
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from ocpp_core.ocpp_library import LibraryChargePoint


class SentFrames:
    def __init__(self):
        self.frames: list[str] = []

    async def send(self, text: str) -> None:
        self.frames.append(text)


class Session(LibraryChargePoint):
    _ocpp_version = "1.6"
    _call_result = call_result

    @on(Action.heartbeat)
    async def on_heartbeat(self):
        return call_result.Heartbeat(current_time=self.id)

    async def _send(self, message):  # the library's call() sends through _send
        await self.send_text(message)


def test_our_init_sets_what_the_librarys_sets_but_the_route_map():
    """ChargePoint.__init__'s assignments, read from its source: ours must set the same, less the route map."""
    assigned = set()
    for line in inspect.getsource(ChargePoint.__init__).splitlines():
        line = line.strip()
        if line.startswith("self.") and "=" in line:
            assigned.add(line.split("=")[0].strip().removeprefix("self."))
    session = Session("CP-1", SentFrames(), response_timeout=1)
    assert assigned - {"route_map"} <= set(vars(session)), assigned - set(vars(session))
    assert "route_map" not in vars(session)  # built once per class instead


def test_handlers_are_found_per_class_and_bound_per_charger():
    first, second = Session("CP-1", SentFrames(), response_timeout=1), Session("CP-2", SentFrames(), response_timeout=1)
    assert first.handles(Action.heartbeat) and not first.handles(Action.authorize)
    assert asyncio.run(first.handler_for(Action.heartbeat)()).current_time == "CP-1"
    assert asyncio.run(second.handler_for(Action.heartbeat)()).current_time == "CP-2"


def test_call_sends_through_send_and_returns_the_answer_given_to_answer_arrived():
    async def scenario():
        connection = SentFrames()
        session = Session("CP-1", connection, response_timeout=5)
        waiting = asyncio.create_task(session.call(call.ClearCache(), suppress=False))
        while not connection.frames:
            await asyncio.sleep(0)
        assert session.awaiting_answer()
        message_type, unique_id, action, payload = json.loads(connection.frames[0])
        assert (message_type, action, payload) == (2, "ClearCache", {})
        session.answer_arrived(CallResult(unique_id=unique_id, payload={"status": "Accepted"}))
        result = await waiting
        assert not session.awaiting_answer()
        return result

    assert asyncio.run(scenario()) == call_result.ClearCache(status="Accepted")


def test_call_times_out_when_no_answer_arrives():
    async def scenario():
        session = Session("CP-1", SentFrames(), response_timeout=0.05)
        with pytest.raises(asyncio.TimeoutError):
            await session.call(call.ClearCache(), suppress=False)
        assert not session.awaiting_answer()

    asyncio.run(scenario())
