"""The baseline for bench_ocpp.py: a bare OCPP 1.6J server with the `websockets` library and the `ocpp` library's
defaults (schema validation on), answering the session workload with canned answers and no database."""

import asyncio
import contextlib
import itertools
import sys
from datetime import UTC, datetime

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, RegistrationStatus

transaction_ids = itertools.count(1)


def now() -> str:
    return datetime.now(UTC).isoformat()


class BareCentralSystem(ChargePoint):
    @on(Action.boot_notification)
    def on_boot(self, **payload):
        return call_result.BootNotification(current_time=now(), interval=300, status=RegistrationStatus.accepted)

    @on(Action.heartbeat)
    def on_heartbeat(self):
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    def on_status(self, **payload):
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag):
        return call_result.Authorize(id_tag_info={"status": "Accepted"})

    @on(Action.start_transaction)
    def on_start(self, **payload):
        return call_result.StartTransaction(transaction_id=next(transaction_ids), id_tag_info={"status": "Accepted"})

    @on(Action.stop_transaction)
    def on_stop(self, **payload):
        return call_result.StopTransaction(id_tag_info={"status": "Accepted"})

    @on(Action.meter_values)
    def on_meter_values(self, **payload):
        return call_result.MeterValues()


async def serve(websocket):
    point = BareCentralSystem(websocket.request.path.rsplit("/", 1)[-1], websocket)
    with contextlib.suppress(websockets.ConnectionClosed):
        await point.start()


async def main(port: int):
    async with websockets.serve(serve, "127.0.0.1", port, subprotocols=["ocpp1.6"], max_size=2**20):
        await asyncio.Future()


if __name__ == "__main__":
    import logging

    logging.getLogger("ocpp").setLevel(logging.WARNING)
    asyncio.run(main(int(sys.argv[1])))
