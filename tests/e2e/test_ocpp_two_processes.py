"""Two Daphne processes on one Redis channel layer: a call reaches the charger whichever process holds its socket."""

import asyncio

import pytest

from powerfill.accounts.services import api_token_create

from ..factories import ChargeBoxFactory
from ..live import asgi_server
from .conftest import OCPP_SERVER_ENV, api_call, assert_reconnected, reconnect_and_operate
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
    # Sent through the process that held the old socket, the operation reaches the new one, only.
    seen = reconnect_and_operate(
        old_server=first, new_server=second, operate_through=first, charge_box=box, token=token, list_version=23
    )
    assert_reconnected(seen, "SPLIT-2", 23)
