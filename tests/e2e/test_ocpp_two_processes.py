"""Two Daphne processes on one Redis channel layer: a call reaches the charger whichever process holds its socket."""

import asyncio

import pytest

from ocpp_core.models import ChargeBox
from powerfill.accounts.services import api_token_create

from ..factories import ChargeBoxFactory
from ..live import asgi_server
from .conftest import OCPP_SERVER_ENV, api_call, eventually, operation_answered_by
from .ocpp_client import raw_charger, run

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_servers(redis_url, django_db_blocker):
    env = {**OCPP_SERVER_ENV, "REDIS_URL": redis_url}
    with asgi_server(env=env) as first, asgi_server(env=env) as second:
        yield first, second


def test_the_rest_call_on_one_process_reaches_the_charger_on_the_other(two_servers, account):
    first, second = two_servers
    ChargeBoxFactory(account=account, charge_box_id="SPLIT-1")
    _, token = api_token_create(account=account)

    async def scenario():
        async with raw_charger(first, "SPLIT-1") as charger:
            await charger.boot()
            loop = asyncio.get_running_loop()
            request = loop.run_in_executor(
                None,
                api_call,
                second,
                "POST",
                "/api/v1/operations/GetLocalListVersion",
                token,
                {"chargeBoxIdList": ["SPLIT-1"]},
            )
            call = await charger.next_call()
            await charger.reply(call, {"listVersion": 17})
            return call, await request

    call, (status, body) = run(scenario())
    assert call[2] == "GetLocalListVersion"
    assert status == 200
    assert body["successResponses"] == [{"chargeBoxId": "SPLIT-1", "response": 17}]


def test_a_reconnect_to_the_other_process_replaces_the_socket(two_servers, account):
    first, second = two_servers
    box = ChargeBoxFactory(account=account, charge_box_id="SPLIT-2")
    _, token = api_token_create(account=account)

    def connection() -> tuple[bool, str]:
        return ChargeBox.objects.values_list("is_connected", "connection_id").get(pk=box.pk)

    async def scenario():
        async with raw_charger(first, "SPLIT-2") as old:
            await old.call("Heartbeat", {})  # answered once the socket's connect() recorded it
            _, old_connection_id = await asyncio.to_thread(connection)
            async with raw_charger(second, "SPLIT-2") as new:
                await asyncio.wait_for(old.socket.wait_closed(), 5)
                answer = await new.call("Heartbeat", {})

                def held_by_the_new_socket() -> bool:
                    connected, connection_id = connection()
                    return connected and connection_id not in ("", old_connection_id)

                taken_over = await asyncio.to_thread(eventually, held_by_the_new_socket)
                # Sent through the process that held the old socket, the operation reaches the new one, only.
                call, status, body = await operation_answered_by(
                    new, first, token, "GetLocalListVersion", {"chargeBoxIdList": ["SPLIT-2"]}, {"listVersion": 23}
                )
                # The old socket's cleanup shows no sign when it rightly leaves the record alone; an API round trip
                # after the old socket closed, the new socket still holds the charger.
                still_held = await asyncio.to_thread(held_by_the_new_socket)
                return old.socket.close_code, answer, taken_over, call, (status, body), old.calls.qsize(), still_held

    close_code, answer, taken_over, call, (status, body), calls_to_old, still_held = run(scenario())
    assert close_code == 4000 and answer[0] == 3
    assert taken_over
    assert status == 200, body
    assert call is not None and call[2] == "GetLocalListVersion"
    assert body["successResponses"] == [{"chargeBoxId": "SPLIT-2", "response": 23}]
    assert (body["errorResponses"], body["exceptions"]) == ([], [])
    assert calls_to_old == 0
    assert still_held  # the stale socket's cleanup did not mark the charger offline
