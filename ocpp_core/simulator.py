"""Simulated OCPP 1.6J chargers, for the demo, manual testing and load: each boots, reports its connectors, runs
charging sessions (Authorize, StartTransaction, MeterValues, StopTransaction), sends heartbeats, answers what the
central system asks (remote start and stop, configuration, reset, ...) and reconnects now and then.

They speak through the ocpp library's charge point role over the `websockets` client, so the frames they send
are schema-checked before they leave.
"""

import asyncio
import base64
import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    AvailabilityStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    ClearCacheStatus,
    ConfigurationStatus,
    RegistrationStatus,
    RemoteStartStopStatus,
    ResetStatus,
)

logger = logging.getLogger(__name__)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class SimulationSettings:
    url: str  # ws://host:port/ocpp/  (the charger's id is appended)
    id_tags: list[str]
    sessions: int = 1  # per charger; 0: until the run ends
    connectors: int = 1
    meter_interval: float = 10.0
    session_seconds: float = 60.0
    pause_seconds: float = 5.0
    power_w: float = 11_000.0
    reconnect_probability: float = 0.1  # after each session
    password: str | None = None


@dataclass
class SimulationReport:
    boots: int = 0
    sessions: int = 0
    refused_tags: int = 0
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)


class SimulatedChargePoint(ChargePoint):
    """The charger side of the conversation; `owner` runs sessions when the central system asks for one."""

    def __init__(self, charge_box_id, connection, owner: "SimulatedCharger"):
        super().__init__(charge_box_id, connection, response_timeout=30)
        self.owner = owner

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag, connector_id=None, charging_profile=None):
        self.owner.remote_starts.put_nowait((id_tag, connector_id or 1))
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id):
        accepted = transaction_id in self.owner.running.values()
        if accepted:
            self.owner.stop_requests.add(transaction_id)
        return call_result.RemoteStopTransaction(
            status=RemoteStartStopStatus.accepted if accepted else RemoteStartStopStatus.rejected
        )

    @on(Action.get_configuration)
    async def on_get_configuration(self, key=None):
        known = self.owner.configuration
        wanted = key or list(known)
        return call_result.GetConfiguration(
            configuration_key=[{"key": k, "readonly": False, "value": known[k]} for k in wanted if k in known],
            unknown_key=[k for k in wanted if k not in known] or None,
        )

    @on(Action.change_configuration)
    async def on_change_configuration(self, key, value):
        self.owner.configuration[key] = value
        return call_result.ChangeConfiguration(status=ConfigurationStatus.accepted)

    @on(Action.reset)
    async def on_reset(self, type):
        self.owner.reset_requested = True
        return call_result.Reset(status=ResetStatus.accepted)

    @on(Action.change_availability)
    async def on_change_availability(self, connector_id, type):
        return call_result.ChangeAvailability(status=AvailabilityStatus.accepted)

    @on(Action.clear_cache)
    async def on_clear_cache(self):
        return call_result.ClearCache(status=ClearCacheStatus.accepted)

    @on(Action.get_local_list_version)
    async def on_get_local_list_version(self):
        return call_result.GetLocalListVersion(list_version=self.owner.local_list_version)

    @on(Action.send_local_list)
    async def on_send_local_list(self, list_version, update_type, local_authorization_list=None):
        self.owner.local_list_version = list_version
        return call_result.SendLocalList(status="Accepted")

    @on(Action.trigger_message)
    async def on_trigger_message(self, requested_message, connector_id=None):
        if requested_message == "Heartbeat":
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self.call(call.Heartbeat())))
        return call_result.TriggerMessage(status="Accepted")

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, connector_id, cs_charging_profiles):
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(self, **kwargs):
        return call_result.ClearChargingProfile(status="Accepted")

    @on(Action.unlock_connector)
    async def on_unlock_connector(self, connector_id):
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id, message_id=None, data=None):
        return call_result.DataTransfer(status="UnknownVendorId")


class SimulatedCharger:
    def __init__(self, charge_box_id: str, settings: SimulationSettings, report: SimulationReport, rng: random.Random):
        self.charge_box_id = charge_box_id
        self.settings = settings
        self.report = report
        self.rng = rng
        self.meter_wh = rng.randint(0, 5_000_000)
        self.running: dict[int, int] = {}  # connector -> transactionId
        self.stop_requests: set[int] = set()
        self.remote_starts: asyncio.Queue = asyncio.Queue()
        self.configuration = {"HeartbeatInterval": "300", "MeterValueSampleInterval": str(int(settings.meter_interval))}
        self.local_list_version = 0
        self.reset_requested = False

    async def run(self, sessions_left: int) -> None:
        """Connect, boot, then charge until the sessions are done (reconnecting in between, as real chargers do)."""
        while sessions_left != 0:
            headers = {}
            if self.settings.password:
                token = base64.b64encode(f"{self.charge_box_id}:{self.settings.password}".encode()).decode()
                headers["Authorization"] = f"Basic {token}"
            async with websockets.connect(
                self.settings.url.rstrip("/") + "/" + self.charge_box_id,
                subprotocols=["ocpp1.6"],
                additional_headers=headers,
            ) as socket:
                point = SimulatedChargePoint(self.charge_box_id, socket, self)
                listener = asyncio.create_task(point.start())
                try:
                    sessions_left = await self._converse(point, sessions_left)
                finally:
                    listener.cancel()
            self.report.reconnects += 1
            await asyncio.sleep(self.rng.uniform(0.5, 2.0))

    async def _converse(self, point: SimulatedChargePoint, sessions_left: int) -> int:
        boot = await point.call(
            call.BootNotification(
                charge_point_vendor="Powerfill",
                charge_point_model="Simulator",
                charge_point_serial_number=f"SN-{self.charge_box_id}"[:25],
                firmware_version="1.0",
            )
        )
        self.report.boots += 1
        if boot.status != RegistrationStatus.accepted:
            await asyncio.sleep(boot.interval or 10)
            return sessions_left
        self.configuration["HeartbeatInterval"] = str(boot.interval)
        heartbeat = asyncio.create_task(self._heartbeats(point, boot.interval))
        try:
            for connector in range(self.settings.connectors + 1):
                await self._status(point, connector, ChargePointStatus.available)
            while sessions_left != 0 and not self.reset_requested:
                await self._session(point)
                sessions_left -= 1
                if self.rng.random() < self.settings.reconnect_probability:
                    break  # drop the socket, as a charger on a flaky modem does
                await asyncio.sleep(self.settings.pause_seconds)
        finally:
            heartbeat.cancel()
        self.reset_requested = False
        return sessions_left

    async def _heartbeats(self, point, interval: int) -> None:
        while True:
            await asyncio.sleep(interval)
            await point.call(call.Heartbeat())

    async def _status(self, point, connector: int, status: ChargePointStatus) -> None:
        await point.call(
            call.StatusNotification(
                connector_id=connector, error_code=ChargePointErrorCode.no_error, status=status, timestamp=now()
            )
        )

    async def _session_started(self, point) -> tuple[str, int, int] | None:
        """Start a session: the remote start waiting, if any; else drivers come by with the given tags in a random
        order, and one whose tag is refused (at Authorize, or at StartTransaction when the card began charging
        elsewhere meanwhile) leaves for the next one to try. (id tag, connector, transaction id), or None when every
        tag was refused here."""
        try:
            id_tag, connector = self.remote_starts.get_nowait()
            candidates, authorize_first = [id_tag], False
        except asyncio.QueueEmpty:
            connector = self.rng.randint(1, self.settings.connectors)
            candidates = self.rng.sample(self.settings.id_tags, len(self.settings.id_tags))
            authorize_first = True
        for id_tag in candidates:
            if authorize_first:
                authorization = await point.call(call.Authorize(id_tag=id_tag))
                if authorization.id_tag_info["status"] != AuthorizationStatus.accepted:
                    self.report.refused_tags += 1
                    continue
            await self._status(point, connector, ChargePointStatus.preparing)
            start = await point.call(
                call.StartTransaction(connector_id=connector, id_tag=id_tag, meter_start=self.meter_wh, timestamp=now())
            )
            if start.id_tag_info["status"] == AuthorizationStatus.accepted:
                return id_tag, connector, start.transaction_id
            self.report.refused_tags += 1
            await point.call(
                call.StopTransaction(
                    meter_stop=self.meter_wh,
                    timestamp=now(),
                    transaction_id=start.transaction_id,
                    reason="DeAuthorized",
                )
            )
            await self._status(point, connector, ChargePointStatus.available)
        return None

    async def _session(self, point) -> None:
        started = await self._session_started(point)
        if started is None:
            return
        id_tag, connector, transaction_id = started
        self.running[connector] = transaction_id
        await self._status(point, connector, ChargePointStatus.charging)
        elapsed = 0.0
        while elapsed < self.settings.session_seconds and transaction_id not in self.stop_requests:
            step = min(self.settings.meter_interval, self.settings.session_seconds - elapsed)
            await asyncio.sleep(step)
            elapsed += step
            self.meter_wh += round(self.settings.power_w * step / 3600)
            await point.call(
                call.MeterValues(
                    connector_id=connector,
                    transaction_id=transaction_id,
                    meter_value=[
                        {
                            "timestamp": now(),
                            "sampledValue": [
                                {
                                    "value": str(self.meter_wh),
                                    "measurand": "Energy.Active.Import.Register",
                                    "unit": "Wh",
                                    "context": "Sample.Periodic",
                                },
                                {
                                    "value": f"{self.settings.power_w:.0f}",
                                    "measurand": "Power.Active.Import",
                                    "unit": "W",
                                    "context": "Sample.Periodic",
                                },
                            ],
                        }
                    ],
                )
            )
        remote = transaction_id in self.stop_requests
        self.stop_requests.discard(transaction_id)
        await point.call(
            call.StopTransaction(
                meter_stop=self.meter_wh,
                timestamp=now(),
                transaction_id=transaction_id,
                id_tag=id_tag,
                reason="Remote" if remote else "Local",
            )
        )
        del self.running[connector]
        await self._status(point, connector, ChargePointStatus.finishing)
        await self._status(point, connector, ChargePointStatus.available)
        self.report.sessions += 1


async def simulate(*, charge_box_ids: list[str], settings: SimulationSettings, seed: int = 1) -> SimulationReport:
    """Run the chargers side by side until each finished its sessions (or forever with sessions=0)."""
    report = SimulationReport()
    rng = random.Random(seed)

    async def one(charge_box_id: str) -> None:
        await asyncio.sleep(rng.uniform(0, min(2.0, 0.002 * len(charge_box_ids))))  # no thundering herd
        try:
            await SimulatedCharger(charge_box_id, settings, report, random.Random(rng.random())).run(
                settings.sessions if settings.sessions > 0 else -1
            )
        except Exception as error:  # one failing charger must not end the run
            logger.exception("%s failed", charge_box_id)
            report.errors.append(f"{charge_box_id}: {error!r}")

    await asyncio.gather(*(one(charge_box_id) for charge_box_id in charge_box_ids))
    return report
