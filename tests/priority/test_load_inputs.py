"""priority.load_inputs: how the database's state becomes the allocator's demands, and the recompute's records
(priority.services.load_management.site_rebalance_once) for chargers that are not connected (no calls to make)."""

from datetime import time as clock
from datetime import timedelta

import pytest
from django.utils import timezone

from ocpp_core.models import MeterValue
from priority.charging_profiles import ChargerCapabilities
from priority.load_inputs import site_state
from priority.models import AllocationRun, ConnectorLoad
from priority.services.load_management import site_rebalance_once

from ..factories import (
    ChargeBoxFactory,
    ConnectorFactory,
    ConnectorLoadFactory,
    NodeFactory,
    TimeOfUseWindowFactory,
    TransactionFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def garage(account):
    return NodeFactory(account=account, name="Garage", max_current_a=63)


def charging(node, *, connected=True, rotation="RST", status="Charging", **box):
    """A charge box on `node` with connector 1 in a running session."""
    charge_box = ChargeBoxFactory(
        account=node.account,
        node=node,
        is_connected=connected,
        registration_status="Accepted",
        phase_rotation=rotation,
        **box,
    )
    connector = ConnectorFactory(charge_box=charge_box, connector_id=1, status=status)
    transaction = TransactionFactory(charge_box=charge_box, connector_id=1)
    return connector, transaction


def reading(transaction, measurand, value, phase="", unit="A", seconds_ago=10):
    MeterValue.objects.create(
        charge_box=transaction.charge_box,
        connector_id=transaction.connector_id,
        transaction=transaction,
        timestamp=timezone.now() - timedelta(seconds=seconds_ago),
        value=str(value),
        numeric_value=value,
        measurand=measurand,
        phase=phase,
        unit=unit,
    )


def demand_of(node, connector):
    return next(s for s in site_state(root=node).connectors if s.connector == connector)


def test_a_vehicle_seen_on_one_phase_is_counted_on_that_grid_phase_after_rotation(garage):
    connector, transaction = charging(garage, rotation="STR")
    for phase, amps in (("L1", 15.8), ("L2", 0.2), ("L3", 0.0)):
        reading(transaction, "Current.Import", amps, phase)
    state = demand_of(garage, connector)
    assert state.learned_phases == "1"
    assert state.demand.phases == (2,)  # the charger's L1 is the grid's S
    assert state.charger_phases == 1 and state.all_grid_phases == (1, 2, 3)
    assert state.measured_grid == {2: 15.8}


def test_learned_phases_are_kept_for_the_session_once_recorded(garage):
    connector, transaction = charging(garage, connected=False)
    reading(transaction, "Current.Import", 10, "L1")
    site_rebalance_once(root_id=garage.pk, reason="test")
    assert ConnectorLoad.objects.get(pk=connector.pk).phases_in_use == "1"
    MeterValue.objects.all().delete()  # no recent readings now
    assert demand_of(garage, connector).demand.phases == (1,)


def test_an_offline_charger_counts_with_what_it_drew_or_its_maximum(garage):
    measured, transaction = charging(garage, connected=False)
    reading(transaction, "Current.Import", 12.5)
    unmeasured, _ = charging(garage, connected=False, max_current_a=16)
    assert demand_of(garage, measured).demand.controllable is False
    assert demand_of(garage, measured).demand.fixed_amps == 12.5
    assert demand_of(garage, unmeasured).demand.fixed_amps == 16


def test_readings_older_than_the_measurement_age_do_not_count(garage, settings):
    connector, transaction = charging(garage, connected=False)
    reading(transaction, "Current.Import", 12.5)
    # Age is judged by when we received it: a charger's clock may be anywhere.
    old = timezone.now() - timedelta(seconds=settings.LOAD_MEASUREMENT_MAX_AGE_SECONDS + 60)
    MeterValue.objects.update(received_at=old)
    assert demand_of(garage, connector).demand.fixed_amps == 32


def test_a_refusing_charger_is_not_steered_until_it_is_tried_again(garage, settings):
    connector, _ = charging(garage)
    ConnectorLoadFactory(connector=connector, apply_status="Rejected", applied_at=timezone.now())
    assert demand_of(garage, connector).demand.controllable is False
    ConnectorLoad.objects.update(applied_at=timezone.now() - timedelta(seconds=settings.LOAD_RETRY_REFUSED_SECONDS + 1))
    assert demand_of(garage, connector).demand.controllable is True


def test_what_a_vehicle_does_not_draw_is_handed_on_with_headroom(garage, settings):
    connector, transaction = charging(garage)
    ConnectorLoadFactory(connector=connector, applied_amps=32, apply_status="Accepted")
    for phase in ("L1", "L2", "L3"):
        reading(transaction, "Current.Import", 10, phase)
    assert demand_of(garage, connector).demand.usable_amps == 10 + settings.LOAD_HEADROOM_AMPS
    MeterValue.objects.all().delete()
    for phase in ("L1", "L2", "L3"):
        reading(transaction, "Current.Import", 31.5, phase)  # draws all it was given: may have more
    assert demand_of(garage, connector).demand.usable_amps is None


def test_a_vehicle_that_paused_itself_keeps_its_minimum_only(garage):
    connector, _ = charging(garage, status="SuspendedEV", min_current_a=6)
    demand = demand_of(garage, connector).demand
    assert demand.wants_power and demand.ceiling() == 6


def test_a_finished_or_idle_connector_wants_nothing(garage):
    finishing, _ = charging(garage, status="Finishing")
    idle = ConnectorFactory(charge_box=ChargeBoxFactory(account=garage.account, node=garage, is_connected=True))
    assert not demand_of(garage, finishing).demand.wants_power
    assert not demand_of(garage, idle).demand.wants_power


def test_needs_count_what_the_session_delivered_so_far(garage):
    connector, transaction = charging(garage)
    departure = timezone.now() + timedelta(hours=2)
    ConnectorLoadFactory(connector=connector, energy_needed_wh=10_000, departure_at=departure)
    reading(transaction, "Energy.Active.Import.Register", 5_000, unit="Wh")  # meter_start was 1,000
    demand = demand_of(garage, connector).demand
    assert demand.energy_needed_wh == 6_000
    assert 7190 < demand.seconds_left <= 7200


def test_a_single_phase_node_narrows_the_chargers_below_it(garage):
    wing = NodeFactory(account=garage.account, parent=garage, name="Wing", phases=1, max_current_a=32)
    connector, _ = charging(wing)
    assert demand_of(garage, connector).demand.phases == (1,)


def test_the_window_in_force_is_the_most_restrictive_and_may_run_past_midnight(garage):
    now = timezone.localtime()
    TimeOfUseWindowFactory(node=garage, starts_at=clock(0, 0), ends_at=clock(23, 59, 59), price_level="normal")
    TimeOfUseWindowFactory(
        node=garage,
        starts_at=(now - timedelta(hours=1)).time(),
        ends_at=(now - timedelta(hours=2)).time(),  # ends before it starts: past midnight
        price_level="expensive",
        peak_cap_kw=20,
    )
    window = site_state(root=garage).window_now(timezone.now())
    assert window.price_level == "expensive" and window.peak_cap_kw == 20


def test_a_recompute_records_per_node_and_phase_what_is_counted_and_measured(garage):
    floor = NodeFactory(account=garage.account, parent=garage, name="Floor", max_current_a=32)
    connector, transaction = charging(floor, connected=False)
    reading(transaction, "Current.Import", 12.0)
    run = site_rebalance_once(root_id=garage.pk, reason="test")
    assert run.reason == "test" and run.profiles_sent == 0
    assert run.nodes[str(floor.pk)] == {"limit": 32, "allocated": [12.0, 12.0, 12.0], "measured": [12.0, 12.0, 12.0]}
    assert run.nodes[str(garage.pk)]["limit"] == 63
    assert AllocationRun.objects.filter(root=garage).count() == 1


def test_a_site_without_any_limit_is_not_managed(account):
    plain = NodeFactory(account=account, name="Plain")
    charging(plain, connected=False)
    assert site_rebalance_once(root_id=plain.pk, reason="test") is None
    assert not AllocationRun.objects.exists()


def test_a_charger_with_only_stack_level_0_gets_its_profiles_at_level_0_and_no_hold():
    only_zero = ChargerCapabilities.from_configuration({"ChargeProfileMaxStackLevel": {"value": "0"}})
    assert only_zero.stack_level == 0 and not only_zero.has_hold_level
    assert ChargerCapabilities().stack_level == 1
