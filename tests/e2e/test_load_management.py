"""Load management end to end: three chargers (raw OCPP-J frames over `websockets`) behind a 32 A node of a site,
a live Daphne, the REST API, and — when REDIS_URL is set — a real Celery worker doing the recomputes.

Each test charger answers the central system as a smart-charging charger would (GetConfiguration, SetChargingProfile)
and keeps the profiles it accepted. After every TxProfile it accepts, the currents of all running sessions are
summed: at no moment may the site's per-phase sum exceed 32 A."""

import asyncio
import os
import time
from contextlib import AsyncExitStack

import pytest

from ocpp_core.models import Connector
from powerfill.accounts.services import api_token_create
from priority.models import AllocationRun, PriorityChange

from ..factories import ChargeBoxFactory, NodeFactory, OcppTagFactory, OcppTagPermissionFactory
from ..live import celery_worker
from .conftest import OCPP_SERVER_ENV, api_call
from .ocpp_client import raw_charger, run

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]

NODE_LIMIT = 32.0
CHARGERS = ("LM-A", "LM-B", "LM-C")
CAPABILITIES = {
    "SupportedFeatureProfiles": "Core,SmartCharging,RemoteTrigger",
    "ChargeProfileMaxStackLevel": "3",
    "ChargingScheduleAllowedChargingRateUnit": "Current",
    "ChargingScheduleMaxPeriods": "5",
}
WORKER_ENV = {**OCPP_SERVER_ENV, "LOAD_DEBOUNCE_SECONDS": "0.2"}


@pytest.fixture
def recompute_worker(django_db_setup, django_db_blocker):
    """With a broker (REDIS_URL), recomputes run in a Celery worker, as in production; without one, they run in
    the server process (eager), as in the quick start. One worker per test: it stops (finishing the recompute the
    chargers' disconnects started) before the test's database is flushed, which it would otherwise deadlock."""
    if not os.environ.get("REDIS_URL"):
        yield None
        return
    with django_db_blocker.unblock(), celery_worker(env=WORKER_ENV) as worker:
        yield worker


@pytest.fixture
def site(account):
    garage = NodeFactory(account=account, name="Garage", max_current_a=NODE_LIMIT)
    for charge_box_id in CHARGERS:
        ChargeBoxFactory(account=account, charge_box_id=charge_box_id, node=garage, max_current_a=32, min_current_a=6)
    OcppTagPermissionFactory(ocpp_tag=OcppTagFactory(account=account, id_tag="DRIVER"), node=garage)
    _, token = api_token_create(account=account)
    return garage, token


class SmartCharger:
    """A test charger that accepts every charging profile and remembers it, like a real one applying it."""

    def __init__(self, raw, name: str, site_check):
        self.raw, self.name, self.site_check = raw, name, site_check
        self.tx_limits: dict[int, float] = {}  # transaction id -> amps of its TxProfile
        self.defaults: dict[int, dict] = {}  # profile id -> TxDefaultProfile / ChargePointMaxProfile
        self.capabilities_asked = 0
        self.answering = asyncio.create_task(self._answer())

    async def _answer(self):
        while True:
            call = await self.raw.calls.get()
            _, _, action, payload = call
            if action == "GetConfiguration":
                self.capabilities_asked += 1
                keys = payload.get("key") or list(CAPABILITIES)
                entries = [{"key": k, "readonly": True, "value": CAPABILITIES[k]} for k in keys if k in CAPABILITIES]
                await self.raw.reply(call, {"configurationKey": entries})
            elif action == "SetChargingProfile":
                profile = payload["csChargingProfiles"]
                period = profile["chargingSchedule"]["chargingSchedulePeriod"][0]
                assert profile["chargingSchedule"]["chargingRateUnit"] == "A"
                if profile["chargingProfilePurpose"] == "TxProfile":
                    assert "validTo" in profile, "a session's limit is a lease"
                    self.tx_limits[profile["transactionId"]] = period["limit"]
                    self.site_check()
                else:
                    self.defaults[profile["chargingProfileId"]] = profile
                await self.raw.reply(call, {"status": "Accepted"})
            else:
                await self.raw.reply_error(call, "NotImplemented", f"{action} is not part of this test")

    async def status(self, status: str):
        await self.raw.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": status})

    async def start(self) -> int:
        answer = await self.raw.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "DRIVER", "meterStart": 0, "timestamp": "2026-11-21T10:00:00Z"},
        )
        await self.status("Charging")
        return answer[2]["transactionId"]

    async def stop(self, transaction_id: int, *, unplug: bool):
        await self.raw.call(
            "StopTransaction",
            {"transactionId": transaction_id, "meterStop": 5000, "timestamp": "2026-11-21T11:00:00Z"},
        )
        await self.status("Available" if unplug else "Finishing")


async def until(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def test_three_chargers_behind_a_32_a_node_share_it_and_rebalance(site, daphne_server, recompute_worker):
    garage, token = site
    running: dict[str, int] = {}  # charger -> its transaction id while its session runs
    chargers: dict[str, SmartCharger] = {}
    sums_seen: list[float] = []

    def limits() -> dict[str, float | None]:
        return {name: chargers[name].tx_limits.get(tx) for name, tx in running.items()}

    def site_check():
        # All three are three-phase, so each grid phase carries the sum of the sessions' limits.
        sums_seen.append(sum(limit for limit in limits().values() if limit is not None))

    async def api(method, path, body=None):
        return await asyncio.get_running_loop().run_in_executor(
            None, api_call, daphne_server, method, path, token, body
        )

    async def scenario():
        async with AsyncExitStack() as stack:
            for name in CHARGERS:
                raw = await stack.enter_async_context(raw_charger(daphne_server, name))
                chargers[name] = SmartCharger(raw, name, site_check)
                assert (await raw.boot())[2]["status"] == "Accepted"
                await chargers[name].status("Available")
            for name in CHARGERS:
                running[name] = await chargers[name].start()

            # Equal share: 32 A over three sessions, rounded down to what a profile carries.
            assert await until(lambda: limits() == {"LM-A": 10.6, "LM-B": 10.6, "LM-C": 10.6}), limits()
            for name in CHARGERS:
                assert chargers[name].capabilities_asked >= 1
                safe = chargers[name].defaults[1_900_000_001]  # the fail-safe default: its share if all charge
                assert safe["stackLevel"] == 2 and "validTo" not in safe
                assert safe["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 10.6
                hold = chargers[name].defaults[1_900_000_002]  # new sessions wait for their allocation
                assert hold["stackLevel"] == 3 and hold["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 0

            # An integrator raises LM-A's priority: it gets what the others' minimums leave.
            status, body = await api(
                "PUT", "/api/v1/priorities", {"priority": 5, "byChargeBoxId": {"chargeBoxId": "LM-A", "connectorId": 1}}
            )
            assert status == 200 and body["priority"] == 5, body
            assert await until(lambda: limits() == {"LM-A": 20.0, "LM-B": 6.0, "LM-C": 6.0}), limits()

            # LM-B's session ends: its share goes to the highest priority first.
            await chargers["LM-B"].stop(running.pop("LM-B"), unplug=False)
            assert await until(lambda: limits() == {"LM-A": 26.0, "LM-C": 6.0}), limits()

            # LM-A is unplugged: its priority goes back to 0, and LM-C may take the whole node.
            await chargers["LM-A"].stop(running.pop("LM-A"), unplug=True)
            assert await until(lambda: limits() == {"LM-C": 32.0}), limits()
            status, body = await api("GET", "/api/v1/priorities")
            assert status == 200
            assert {(r["chargeBoxId"], r["connectorId"]): r["priority"] for r in body}[("LM-A", 1)] == 0
            for charger in chargers.values():
                charger.answering.cancel()

    run(scenario())

    assert sums_seen and max(sums_seen) <= NODE_LIMIT + 1e-9, f"over the node's limit at some moment: {sums_seen}"
    assert Connector.objects.get(charge_box__charge_box_id="LM-A", connector_id=1).priority == 0
    assert PriorityChange.objects.filter(connector__charge_box__charge_box_id="LM-A", source="unplug").exists()
    run_of_site = AllocationRun.objects.filter(root=garage).first()
    assert run_of_site is not None and run_of_site.nodes[str(garage.pk)]["limit"] == NODE_LIMIT


class RefusingCharger(SmartCharger):
    """Smart charging on paper, but every profile is Rejected."""

    async def _answer(self):
        while True:
            call = await self.raw.calls.get()
            if call[2] == "SetChargingProfile":
                await self.raw.reply(call, {"status": "Rejected"})
            else:
                await self.raw.reply(call, {"configurationKey": []})

    async def draws(self, transaction_id: int, amps: float):
        samples = [
            {"value": str(amps), "measurand": "Current.Import", "phase": phase, "unit": "A"}
            for phase in ("L1", "L2", "L3")
        ]
        await self.raw.call(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": transaction_id,
                "meterValue": [{"timestamp": "2026-11-21T10:05:00Z", "sampledValue": samples}],
            },
        )


def test_a_charger_that_refuses_profiles_counts_with_its_draw_and_a_watts_only_charger_gets_watts(
    account, daphne_server, recompute_worker
):
    garage = NodeFactory(account=account, name="Yard", max_current_a=NODE_LIMIT)
    for charge_box_id in ("LM-REFUSES", "LM-WATTS"):
        ChargeBoxFactory(account=account, charge_box_id=charge_box_id, node=garage, max_current_a=32)
    OcppTagPermissionFactory(ocpp_tag=OcppTagFactory(account=account, id_tag="DRIVER"), node=garage)
    watts_only = {**CAPABILITIES, "ChargingScheduleAllowedChargingRateUnit": "Power"}

    class WattsCharger(SmartCharger):
        async def _answer(self):
            while True:
                call = await self.raw.calls.get()
                _, _, action, payload = call
                if action == "GetConfiguration":
                    entries = [{"key": k, "readonly": True, "value": v} for k, v in watts_only.items()]
                    await self.raw.reply(call, {"configurationKey": entries})
                    continue
                profile = payload["csChargingProfiles"]
                schedule = profile["chargingSchedule"]
                if schedule["chargingRateUnit"] != "W":
                    await self.raw.reply(call, {"status": "Rejected"})
                    continue
                if profile["chargingProfilePurpose"] == "TxProfile":
                    self.tx_limits[profile["transactionId"]] = schedule["chargingSchedulePeriod"][0]["limit"]
                await self.raw.reply(call, {"status": "Accepted"})

    async def scenario():
        async with (
            raw_charger(daphne_server, "LM-REFUSES") as refusing_raw,
            raw_charger(daphne_server, "LM-WATTS") as watts_raw,
        ):
            refusing = RefusingCharger(refusing_raw, "LM-REFUSES", lambda: None)
            watts = WattsCharger(watts_raw, "LM-WATTS", lambda: None)
            for charger in (refusing, watts):
                await charger.raw.boot()
                await charger.status("Available")
            refused_tx = await refusing.start()
            watts_tx = await watts.start()
            # Refusing and not measured: counted at its 32 A maximum, so the other's minimum does not fit.
            assert await until(lambda: watts.tx_limits.get(watts_tx) == 0.0), watts.tx_limits
            # It reports drawing 10 A: the other may have the remaining 22 A, in watts (3 phases at 230 V).
            await refusing.draws(refused_tx, 10.0)
            assert await until(lambda: watts.tx_limits.get(watts_tx) == 22 * 230 * 3), watts.tx_limits
            for charger in (refusing, watts):
                charger.answering.cancel()

    run(scenario())
    refused = Connector.objects.get(charge_box__charge_box_id="LM-REFUSES", connector_id=1)
    assert refused.load.apply_status == "Rejected" and refused.load.applied_amps is None
