"""A charger for tests: literal OCPP-J frames over the `websockets` client (not the ocpp library we serve with)."""

import asyncio
import base64
import json
from contextlib import asynccontextmanager
from itertools import count

import websockets


class RawCharger:
    def __init__(self, socket):
        self.socket = socket
        self.responses: asyncio.Queue = asyncio.Queue()  # CALLRESULT / CALLERROR frames
        self.calls: asyncio.Queue = asyncio.Queue()  # CALLs from the central system
        self._ids = count(1)
        self._reader = asyncio.create_task(self._read())

    async def _read(self):
        try:
            async for text in self.socket:
                frame = json.loads(text)
                (self.calls if frame[0] == 2 else self.responses).put_nowait(frame)
        except websockets.ConnectionClosed:
            pass

    async def call(self, action: str, payload: dict, unique_id: str | None = None, timeout: float = 10) -> list:
        unique_id = unique_id or f"t{next(self._ids)}"
        await self.socket.send(json.dumps([2, unique_id, action, payload]))
        return await self.response(timeout)

    async def send_raw(self, text: str, timeout: float = 10) -> list:
        await self.socket.send(text)
        return await self.response(timeout)

    async def response(self, timeout: float = 10) -> list:
        return await asyncio.wait_for(self.responses.get(), timeout)

    async def next_call(self, timeout: float = 10) -> list:
        """The next CALL the central system sent: [2, id, action, payload]."""
        return await asyncio.wait_for(self.calls.get(), timeout)

    async def reply(self, call_frame: list, payload: dict) -> None:
        await self.socket.send(json.dumps([3, call_frame[1], payload]))

    async def reply_error(self, call_frame: list, code: str, description: str = "") -> None:
        await self.socket.send(json.dumps([4, call_frame[1], code, description, {}]))

    async def boot(self) -> list:
        return await self.call("BootNotification", {"chargePointVendor": "TestVendor", "chargePointModel": "T1"})


def ws_url(base_url: str, charge_box_id: str) -> str:
    return base_url.replace("http://", "ws://") + f"/ocpp/{charge_box_id}"


@asynccontextmanager
async def raw_charger(
    base_url: str,
    charge_box_id: str,
    *,
    password: str | None = None,
    subprotocols=("ocpp1.6",),
    username: str | None = None,
):
    headers = {}
    if password is not None:
        token = base64.b64encode(f"{username or charge_box_id}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    async with websockets.connect(
        ws_url(base_url, charge_box_id), subprotocols=list(subprotocols), additional_headers=headers, open_timeout=10
    ) as socket:
        charger = RawCharger(socket)
        try:
            yield charger
        finally:
            charger._reader.cancel()


async def handshake_status(base_url: str, charge_box_id: str, **kwargs):
    """The HTTP status a refused handshake got, or "open"."""
    try:
        async with raw_charger(base_url, charge_box_id, **kwargs):
            return "open"
    except websockets.InvalidStatus as refusal:
        return refusal.response.status_code


def run(coroutine):
    return asyncio.run(coroutine)
