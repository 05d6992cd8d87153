"""Unplug resets a connector's user priority to 0 (API.md §1 Priorities): a StatusNotification Available, or the
StopTransaction of its session. On the chargers' own path (ocpp_core.services.charger_messages, raw SQL through
ocpp_core.db), then end to end over a real WebSocket against a live Daphne."""

import asyncio

import pytest
from django.utils import timezone

from ocpp_core.models import Connector, Transaction
from ocpp_core.services.charger_messages import connector_status_report, transaction_stop
from powerfill.accounts.services import api_token_create
from priority.choices import PriorityChangeSource
from priority.models import ConnectorLoad, PriorityChange
from priority.services.priorities import connector_priority_set

from ..e2e.conftest import OCPP_SERVER_ENV, api_call
from ..e2e.ocpp_client import raw_charger, run
from ..factories import ChargeBoxFactory, ConnectorFactory, ConnectorLoadFactory, TransactionFactory
from ..live import asgi_server
from ..ocpp_core.scenarios import run as on_the_charger_path

NOW = "2026-03-01T10:00:00Z"


def report(charge_box, connector_id: int, status: str):
    return on_the_charger_path(
        lambda db: connector_status_report(
            db=db, charge_box=charge_box, connector_id=connector_id, status=status, error_code="NoError"
        )
    )


def stop(charge_box, transaction_id: int):
    async def scenario(db):
        async with db.session() as statements:
            return await transaction_stop(
                db=statements, charge_box=charge_box, transaction_id=transaction_id, meter_stop=2000, timestamp=NOW
            )

    return on_the_charger_path(scenario)


def priority_of(connector) -> int:
    return Connector.objects.get(pk=connector.pk).priority


@pytest.fixture
def station(account):
    box = ChargeBoxFactory(account=account, charge_box_id="CB-UNPLUG")
    connectors = {n: ConnectorFactory(charge_box=box, connector_id=n, status="Charging") for n in (0, 1, 2)}
    for n in (1, 2):
        connector_priority_set(connector=connectors[n], priority=6, source=PriorityChangeSource.API)
    return box, connectors


def unplugs():
    return list(
        PriorityChange.objects.filter(source=PriorityChangeSource.UNPLUG).values_list(
            "connector__connector_id", "previous_priority", "priority"
        )
    )


@pytest.mark.django_db(transaction=True)
class TestStatusNotification:
    def test_available_resets_that_connector_and_records_an_unplug(self, station):
        box, connectors = station
        report(box, 1, "Available")
        assert (priority_of(connectors[1]), priority_of(connectors[2])) == (0, 6)
        assert unplugs() == [(1, 6, 0)]
        change = PriorityChange.objects.get(source=PriorityChangeSource.UNPLUG)
        assert change.changed_by == "" and abs(change.changed_at - timezone.now()).total_seconds() < 10
        assert Connector.objects.get(pk=connectors[1].pk).status == "Available"

    def test_available_clears_the_vehicles_needs_and_phases_but_not_the_applied_limit(self, station):
        box, connectors = station
        ConnectorLoadFactory(
            connector=connectors[1],
            departure_at=timezone.now(),
            energy_needed_wh=9000,
            phases_in_use="123",
            allocated_amps=16,
            applied_amps=16,
        )
        other = ConnectorLoadFactory(connector=connectors[2], energy_needed_wh=5000, phases_in_use="1")
        report(box, 1, "Available")
        load = ConnectorLoad.objects.get(pk=connectors[1].pk)
        assert (load.departure_at, load.energy_needed_wh, load.phases_in_use) == (None, None, "")
        assert (load.allocated_amps, load.applied_amps) == (16, 16)  # the load manager's to change
        other.refresh_from_db()
        assert (other.energy_needed_wh, other.phases_in_use) == (5000, "1")

    def test_needs_alone_are_cleared_too(self, account):
        connector = ConnectorFactory(charge_box=ChargeBoxFactory(account=account), connector_id=1)
        ConnectorLoadFactory(connector=connector, energy_needed_wh=1000)
        report(connector.charge_box, 1, "Available")
        assert ConnectorLoad.objects.get(pk=connector.pk).energy_needed_wh is None
        assert not PriorityChange.objects.exists()

    @pytest.mark.parametrize("status", ["Preparing", "Charging", "SuspendedEV", "Finishing", "Unavailable", "Faulted"])
    def test_other_statuses_keep_the_priority(self, station, status):
        box, connectors = station
        report(box, 1, status)
        assert priority_of(connectors[1]) == 6 and unplugs() == []

    def test_available_again_writes_no_second_history_row(self, station):
        box, connectors = station
        report(box, 1, "Available")
        report(box, 1, "Available")
        assert unplugs() == [(1, 6, 0)]

    def test_the_station_as_a_whole_becoming_available_resets_no_outlet(self, station):
        box, connectors = station
        report(box, 0, "Available")
        assert (priority_of(connectors[1]), priority_of(connectors[2])) == (6, 6)
        assert unplugs() == []

    def test_the_first_status_of_a_new_connector_is_fine(self, station):
        box, _ = station
        report(box, 3, "Available")
        assert Connector.objects.get(charge_box=box, connector_id=3).priority == 0
        assert unplugs() == []

    def test_an_unplug_in_a_batch_with_other_chargers_writes(self, account, station):
        box, connectors = station
        others = ChargeBoxFactory.create_batch(5, account=account)

        async def scenario(db):
            await asyncio.gather(
                connector_status_report(
                    db=db, charge_box=box, connector_id=1, status="Available", error_code="NoError"
                ),
                *(
                    connector_status_report(
                        db=db, charge_box=other, connector_id=1, status="Available", error_code="NoError"
                    )
                    for other in others
                ),
            )

        on_the_charger_path(scenario)
        assert priority_of(connectors[1]) == 0 and unplugs() == [(1, 6, 0)]


@pytest.mark.django_db(transaction=True)
class TestStopTransaction:
    def test_the_stop_resets_its_connector(self, station):
        box, connectors = station
        tx = TransactionFactory(charge_box=box, connector_id=2)
        ConnectorLoadFactory(connector=connectors[2], energy_needed_wh=4000, phases_in_use="12")
        stop(box, tx.pk)
        assert Transaction.objects.get(pk=tx.pk).stopped_at is not None
        assert (priority_of(connectors[1]), priority_of(connectors[2])) == (6, 0)
        assert unplugs() == [(2, 6, 0)]
        load = ConnectorLoad.objects.get(pk=connectors[2].pk)
        assert (load.energy_needed_wh, load.phases_in_use) == (None, "")

    def test_a_repeated_stop_changes_nothing_more(self, station):
        box, connectors = station
        tx = TransactionFactory(charge_box=box, connector_id=2)
        stop(box, tx.pk)
        connector_priority_set(connector=connectors[2], priority=3, source=PriorityChangeSource.API)  # next vehicle
        stop(box, tx.pk)  # the charger sends the old stop again
        assert priority_of(connectors[2]) == 3 and unplugs() == [(2, 6, 0)]

    def test_a_stop_of_an_unknown_transaction_resets_nothing(self, station):
        box, connectors = station
        stop(box, -1)
        assert (priority_of(connectors[1]), priority_of(connectors[2])) == (6, 6) and unplugs() == []


@pytest.fixture(scope="module")
def daphne(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), asgi_server(env=OCPP_SERVER_ENV) as url:
        yield url


@pytest.mark.live_server
@pytest.mark.django_db(transaction=True)
class TestOverAWebSocket:
    """A charger speaking literal OCPP-J to a live Daphne; the integrator setting priorities through its REST API."""

    BY_SERIAL = {"bySerialNumber": {"serialNumber": "ACE9876543", "connectorId": 1}}

    @pytest.fixture
    def token(self, account):
        ChargeBoxFactory(account=account, charge_box_id="CB-LIVE")
        return api_token_create(account=account, name="integrator")[1]

    async def plugged_in_with_priority(self, charger, daphne, token, priority: int) -> tuple[int, dict]:
        boot = {
            "chargePointVendor": "Alfen BV",
            "chargePointModel": "NG920-61101",
            "chargePointSerialNumber": "ACE9876543",
            "chargeBoxSerialNumber": "DE_EDR_E12345678",
        }
        assert (await charger.call("BootNotification", boot))[2]["status"] == "Accepted"
        status = {"connectorId": 1, "status": "Preparing", "errorCode": "NoError", "timestamp": NOW}
        await charger.call("StatusNotification", status)
        body = {"priority": priority, **self.BY_SERIAL, "energyNeededKwh": 20}
        return await asyncio.to_thread(api_call, daphne, "PUT", "/api/v1/priorities", token, body)

    def test_status_available_resets_the_priority_set_through_the_api(self, daphne, token):
        async def scenario():
            async with raw_charger(daphne, "CB-LIVE") as charger:
                set_status, record = await self.plugged_in_with_priority(charger, daphne, token, 8)
                _, listed_before = await asyncio.to_thread(api_call, daphne, "GET", "/api/v1/priorities", token)
                status = {"connectorId": 1, "status": "Available", "errorCode": "NoError", "timestamp": NOW}
                answer = await charger.call("StatusNotification", status)
                _, listed_after = await asyncio.to_thread(api_call, daphne, "GET", "/api/v1/priorities", token)
                return set_status, record, listed_before, answer, listed_after

        set_status, record, before, answer, after = run(scenario())
        assert set_status == 200, record
        assert (record["chargeBoxId"], record["priority"], record["energyNeededKwh"]) == ("CB-LIVE", 8, 20)
        assert before == [record]
        assert answer[0] == 3 and answer[2] == {}
        [reset] = after
        assert (reset["priority"], reset["energyNeededKwh"]) == (0, None)
        assert reset["updatedAt"] >= record["updatedAt"]
        history = PriorityChange.objects.order_by("id").values_list("source", "previous_priority", "priority")
        assert list(history) == [("api", 0, 8), ("unplug", 8, 0)]

    def test_stop_transaction_resets_the_priority(self, daphne, token):
        async def scenario():
            async with raw_charger(daphne, "CB-LIVE") as charger:
                set_status, _ = await self.plugged_in_with_priority(charger, daphne, token, -5)
                start = {"connectorId": 1, "idTag": "ANYONE", "meterStart": 0, "timestamp": NOW}
                transaction_id = (await charger.call("StartTransaction", start))[2]["transactionId"]
                _, during = await asyncio.to_thread(api_call, daphne, "GET", "/api/v1/priorities", token)
                stopped = {
                    "transactionId": transaction_id,
                    "meterStop": 1500,
                    "timestamp": NOW,
                    "reason": "EVDisconnected",
                }
                answer = await charger.call("StopTransaction", stopped)
                return set_status, during, answer

        set_status, during, answer = run(scenario())
        assert set_status == 200 and during[0]["priority"] == -5  # starting keeps the priority
        assert answer[0] == 3
        assert Connector.objects.get(charge_box__charge_box_id="CB-LIVE", connector_id=1).priority == 0
        assert unplugs() == [(1, -5, 0)]
