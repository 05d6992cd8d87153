import asyncio
import http.client
import json
import os
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest
import websockets
from websockets.asyncio.client import connect

from powerfill.accounts.models import Account
from roaming.models import OcpiIdentity

from ..live import asgi_server
from .ocpi_peer import peer_platform

# A short call timeout keeps the "charger does not answer" tests quick; frames over 16 KiB are refused.
OCPP_SERVER_ENV = {"OCPP_CALL_TIMEOUT": "3", "OCPP_MAX_FRAME_BYTES": "16384"}


def http_request(base_url: str, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    """One plain HTTP request, redirects not followed. Returns (status, headers, body)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


class connect_without_redirects(connect):
    """Report a redirect instead of following it, so a test sees the 301 itself."""

    def process_redirect(self, exc):
        return exc


def websocket_handshake(url: str, *, headers: dict | None = None, subprotocols=("ocpp1.6",)):
    """Try a WebSocket handshake; return ("open", None) or (HTTP status, response headers) of the refusal."""

    async def attempt():
        try:
            async with connect_without_redirects(
                url, subprotocols=list(subprotocols), additional_headers=headers or {}, open_timeout=10
            ):
                return "open", None
        except websockets.InvalidStatus as refusal:
            return refusal.response.status_code, refusal.response.headers

    return asyncio.run(attempt())


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs a shared Redis (REDIS_URL); runs in the PostgreSQL/Redis pass of .ci/run")
    return url


@pytest.fixture(scope="session")
def daphne_server(django_db_setup, django_db_blocker):
    """One Daphne process for the session's end-to-end tests (they use transactional_db, so data is committed)."""
    with django_db_blocker.unblock(), asgi_server(env=OCPP_SERVER_ENV) as url:
        yield url


@pytest.fixture(scope="session")
def uvicorn_server(django_db_setup, django_db_blocker):
    """uvicorn sends real HTTP statuses for refused WebSocket handshakes; Daphne can only send 403."""
    with django_db_blocker.unblock(), asgi_server(server="uvicorn", env=OCPP_SERVER_ENV) as url:
        yield url


def api_call(base_url: str, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    """One REST call against a live server: (status, JSON body)."""
    request = urllib.request.Request(
        base_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as error:
        raw = error.read() or b"{}"
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, {"notJson": raw.decode(errors="replace")[:300]}


async def operation_answered_by(charger, base_url: str, token: str, action: str, body: dict, answer: dict):
    """Send `action` through the REST API of `base_url` while `charger` (a RawCharger) answers its CALL with `answer`.

    Returns (the CALL the charger got, or None if the API answered without calling it, HTTP status, JSON body).
    """
    request = asyncio.get_running_loop().run_in_executor(
        None, api_call, base_url, "POST", f"/api/v1/operations/{action}", token, body
    )
    next_call = asyncio.ensure_future(charger.next_call())
    await asyncio.wait([next_call, request], return_when=asyncio.FIRST_COMPLETED)
    call = None
    if next_call.done():
        call = next_call.result()
        await charger.reply(call, answer)
    else:
        next_call.cancel()
    status, response = await request
    return call, status, response


def eventually(check, timeout: float = 5.0, interval: float = 0.1):
    """Poll `check` until it returns something truthy (the message log is written in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def reconnect_and_operate(
    *, old_server: str, new_server: str, operate_through: str, charge_box, token: str, list_version: int
):
    """A charger connected to `old_server` connects again to `new_server`; then an operation goes out through
    `operate_through`. Returns what each side saw, for the reconnect tests of one and of two processes."""
    from ocpp_core.models import ChargeBox

    from .ocpp_client import raw_charger, run

    def connection() -> tuple[bool, str]:
        return ChargeBox.objects.values_list("is_connected", "connection_id").get(pk=charge_box.pk)

    async def scenario():
        async with raw_charger(old_server, charge_box.charge_box_id) as old:
            await old.call("Heartbeat", {})  # answered once the socket's connect() recorded it
            _, old_connection_id = await asyncio.to_thread(connection)
            async with raw_charger(new_server, charge_box.charge_box_id) as new:
                await asyncio.wait_for(old.socket.wait_closed(), 5)
                answer = await new.call("Heartbeat", {})

                def held_by_the_new_socket() -> bool:
                    connected, connection_id = connection()
                    return connected and connection_id not in ("", old_connection_id)

                taken_over = await asyncio.to_thread(eventually, held_by_the_new_socket)
                call, status, body = await operation_answered_by(
                    new,
                    operate_through,
                    token,
                    "GetLocalListVersion",
                    {"chargeBoxIdList": [charge_box.charge_box_id]},
                    {"listVersion": list_version},
                )
                # The old socket's cleanup shows no sign when it rightly leaves the record alone; an API round trip
                # after the old socket closed, the new socket still holds the charger.
                still_held = await asyncio.to_thread(held_by_the_new_socket)
                return {
                    "old_close_code": old.socket.close_code,
                    "heartbeat": answer,
                    "taken_over": taken_over,
                    "call": call,
                    "status": status,
                    "body": body,
                    "calls_to_old": old.calls.qsize(),
                    "still_held": still_held,
                }

    return run(scenario())


def assert_reconnected(seen: dict, charge_box_id: str, list_version: int) -> None:
    assert seen["old_close_code"] == 4000 and seen["heartbeat"][0] == 3
    assert seen["taken_over"]
    assert seen["status"] == 200, seen["body"]
    assert seen["call"] is not None and seen["call"][2] == "GetLocalListVersion"
    # The operation reached the new socket, and only it.
    assert seen["body"]["successResponses"] == [{"chargeBoxId": charge_box_id, "response": list_version}]
    assert (seen["body"]["errorResponses"], seen["body"]["exceptions"]) == ([], [])
    assert seen["calls_to_old"] == 0
    assert seen["still_held"]  # the stale socket's cleanup did not mark the charger offline


@pytest.fixture
def peer(tmp_path):
    """A second Powerfill platform (own server, own database) for roaming tests."""
    with peer_platform(tmp_path) as platform:
        yield platform


@pytest.fixture
def acme():
    """Our account in the OCPI tests, with its identity DE*ACM."""
    account = Account.objects.create(name="Acme Charging")
    OcpiIdentity.objects.create(account=account, country_code="DE", party_id="ACM", name="Acme Charging")
    return account
