"""priority.services.priorities and the connector lookup of priority.selectors."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from ocpp_core.models import ChargeBox, Connector
from priority import selectors
from priority.choices import PriorityChangeSource
from priority.models import AllocationRun, ConnectorLoad, PriorityChange
from priority.services.priorities import account_priorities_reset, connector_priority_set
from sites.models import Node

from ..factories import ChargeBoxFactory, ConnectorFactory, ConnectorLoadFactory

pytestmark = pytest.mark.django_db

API = PriorityChangeSource.API


@pytest.fixture
def connector(account):
    return ConnectorFactory(charge_box=ChargeBoxFactory(account=account, charge_box_id="CB-1"), connector_id=1)


def managed_site(account, name, *charge_boxes):
    """A site with a limit (so load management recomputes it) holding these charge boxes."""
    root = Node.objects.create(account=account, name=name, max_current_a=32)
    ChargeBox.objects.filter(pk__in=[box.pk for box in charge_boxes]).update(node=root)
    return root


@pytest.fixture
def rebalances(settings):
    """The reasons of the recomputes load management ran (its AllocationRun records), per site root. Recomputes
    run here, in the test's process, as without a worker (with one, tests/e2e/test_load_management.py)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True

    def runs(root):
        return list(AllocationRun.objects.filter(root=root).order_by("pk").values_list("reason", flat=True))

    return runs


class TestConnectorPrioritySet:
    def test_it_sets_the_priority_and_records_the_change(self, connector):
        returned = connector_priority_set(connector=connector, priority=7, source=API, changed_by="integrator")
        assert returned.priority == 7 and connector.priority == 7
        assert Connector.objects.get(pk=connector.pk).priority == 7
        change = PriorityChange.objects.get()
        assert (change.connector, change.previous_priority, change.priority) == (connector, 0, 7)
        assert (change.source, change.changed_by) == ("api", "integrator")
        assert abs(change.changed_at - timezone.now()) < timedelta(seconds=5)

    def test_the_previous_value_is_the_stored_one_not_the_callers(self, connector):
        Connector.objects.filter(pk=connector.pk).update(priority=3)  # e.g. set meanwhile by another request
        connector_priority_set(connector=connector, priority=-1, source=PriorityChangeSource.ADMIN)
        assert PriorityChange.objects.get().previous_priority == 3

    def test_the_same_value_again_writes_nothing(self, connector):
        connector_priority_set(connector=connector, priority=0, source=API)
        connector_priority_set(connector=connector, priority=2, source=API)
        connector_priority_set(connector=connector, priority=2, source=API)
        assert PriorityChange.objects.count() == 1

    @pytest.mark.parametrize("priority", [10, -10, 100])
    def test_a_priority_out_of_range_is_refused(self, connector, priority):
        with pytest.raises(ValidationError) as refused:
            connector_priority_set(connector=connector, priority=priority, source=API)
        assert "priority" in refused.value.message_dict
        assert not PriorityChange.objects.exists()

    def test_connector_0_has_no_priority(self, connector):
        station = ConnectorFactory(charge_box=connector.charge_box, connector_id=0)
        with pytest.raises(ValidationError):
            connector_priority_set(connector=station, priority=1, source=API)
        connector_priority_set(connector=station, priority=0, source=API)  # already so: fine
        assert not PriorityChange.objects.exists()

    def test_a_long_changed_by_is_cut_to_fit(self, connector):
        connector_priority_set(connector=connector, priority=1, source=API, changed_by="x" * 400)
        assert len(PriorityChange.objects.get().changed_by) == 150

    def test_it_sets_keeps_and_clears_the_needs(self, connector):
        departure = timezone.now() + timedelta(hours=3)
        connector_priority_set(
            connector=connector, priority=1, source=API, departure_at=departure, energy_needed_wh=12_000
        )
        load = ConnectorLoad.objects.get(connector=connector)
        assert (load.departure_at, load.energy_needed_wh) == (departure, 12_000)

        connector_priority_set(connector=connector, priority=2, source=API)  # needs not given: unchanged
        load.refresh_from_db()
        assert (load.departure_at, load.energy_needed_wh) == (departure, 12_000)

        connector_priority_set(connector=connector, priority=2, source=API, departure_at=None)
        load.refresh_from_db()
        assert (load.departure_at, load.energy_needed_wh) == (None, 12_000)

    def test_negative_energy_is_refused(self, connector):
        with pytest.raises(ValidationError):
            connector_priority_set(connector=connector, priority=1, source=API, energy_needed_wh=-1)
        assert Connector.objects.get(pk=connector.pk).priority == 0

    def test_the_needs_leave_the_load_managers_columns_alone(self, connector):
        ConnectorLoadFactory(connector=connector, allocated_amps=20, applied_amps=16, apply_status="Accepted")
        connector_priority_set(connector=connector, priority=1, source=API, energy_needed_wh=1)
        load = ConnectorLoad.objects.get()
        assert (load.allocated_amps, load.applied_amps, load.apply_status) == (20, 16, "Accepted")

    def test_a_change_has_its_site_recomputed_once_committed(
        self, account, connector, rebalances, django_capture_on_commit_callbacks
    ):
        site = managed_site(account, "Garage", connector.charge_box)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            connector_priority_set(connector=connector, priority=4, source=API)
        assert rebalances(site) == []  # not before the commit
        for callback in callbacks:
            callback()
        assert rebalances(site) == ["priority api"]

    def test_a_needs_change_has_its_site_recomputed_too(
        self, account, connector, rebalances, django_capture_on_commit_callbacks
    ):
        site = managed_site(account, "Garage", connector.charge_box)
        with django_capture_on_commit_callbacks(execute=True):
            connector_priority_set(connector=connector, priority=0, source=API, energy_needed_wh=500)
        assert rebalances(site) == ["priority api"]

    def test_nothing_changed_asks_for_nothing(self, connector, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            connector_priority_set(connector=connector, priority=0, source=API, energy_needed_wh=None)
        assert callbacks == []


class TestAccountPrioritiesReset:
    def test_it_resets_the_accounts_raised_priorities_and_records_each(self, account, other_account, connector):
        second = ConnectorFactory(charge_box=connector.charge_box, connector_id=2)
        untouched = ConnectorFactory(charge_box=connector.charge_box, connector_id=3)
        theirs = ConnectorFactory(charge_box=ChargeBoxFactory(account=other_account))
        for target, priority in ((connector, 5), (second, -4), (theirs, 9)):
            connector_priority_set(connector=target, priority=priority, source=API)

        assert account_priorities_reset(account=account, changed_by="ops") == 2
        assert {c.pk: c.priority for c in Connector.objects.all()} == {
            connector.pk: 0,
            second.pk: 0,
            untouched.pk: 0,
            theirs.pk: 9,
        }
        resets = PriorityChange.objects.filter(source=PriorityChangeSource.RESET)
        assert sorted(resets.values_list("connector_id", "previous_priority", "priority", "changed_by")) == [
            (connector.pk, 5, 0, "ops"),
            (second.pk, -4, 0, "ops"),
        ]

    def test_it_clears_the_needs_but_not_the_learned_phases(self, account, other_account, connector):
        ConnectorLoadFactory(
            connector=connector, departure_at=timezone.now(), energy_needed_wh=100, phases_in_use="1", applied_amps=8
        )
        theirs = ConnectorLoadFactory(connector__charge_box__account=other_account, energy_needed_wh=100)
        account_priorities_reset(account=account)
        load = ConnectorLoad.objects.get(connector=connector)
        assert (load.departure_at, load.energy_needed_wh, load.phases_in_use, load.applied_amps) == (None, None, "1", 8)
        theirs.refresh_from_db()
        assert theirs.energy_needed_wh == 100

    def test_it_recomputes_once_the_sites_of_the_changed_stations_only(
        self, account, connector, rebalances, django_capture_on_commit_callbacks
    ):
        quiet = ConnectorFactory(charge_box=ChargeBoxFactory(account=account))
        site = managed_site(account, "Garage", connector.charge_box)
        quiet_site = managed_site(account, "Elsewhere", quiet.charge_box)
        connector_priority_set(connector=connector, priority=5, source=API)
        ConnectorLoadFactory(connector=ConnectorFactory(charge_box=connector.charge_box, connector_id=2))
        with django_capture_on_commit_callbacks(execute=True):
            account_priorities_reset(account=account)
        assert rebalances(site) == ["priorities reset"]
        assert rebalances(quiet_site) == []

    def test_nothing_to_reset_asks_for_nothing(
        self, account, connector, rebalances, django_capture_on_commit_callbacks
    ):
        site = managed_site(account, "Garage", connector.charge_box)
        with django_capture_on_commit_callbacks(execute=True):
            assert account_priorities_reset(account=account) == 0
        assert rebalances(site) == [] and not PriorityChange.objects.exists()


class TestConnectorByIdentifier:
    @pytest.fixture
    def station(self, account):
        box = ChargeBoxFactory(
            account=account, charge_box_id="ALFEN", charge_point_serial_number="ACE1", charge_box_serial_number="DE1"
        )
        return {
            n: ConnectorFactory(charge_box=box, connector_id=n, evse_id=f"DE*X*E1*{n}" if n else "") for n in (0, 1)
        }

    def test_each_identifier_finds_the_connector(self, account, station):
        expected = station[1].pk
        for lookup in (
            {"by_serial_number": {"serial_number": "ACE1", "connector_id": 1}},
            {"by_serial_number": {"serial_number": "DE1", "connector_id": 1}},
            {"by_evse_id": "DE*X*E1*1"},
            {"by_charge_box_id": {"charge_box_id": "ALFEN", "connector_id": 1}},
        ):
            found = selectors.connector_by_identifier(account=account, **lookup)
            assert found is not None and found.pk == expected, lookup
            assert found.priority_updated_at is None

    def test_connector_0_and_empty_values_find_nothing(self, account, station):
        ChargeBoxFactory(account=account, charge_box_id="NO-SERIAL")  # empty serial numbers
        ConnectorFactory(charge_box__account=account, connector_id=1)  # empty EVSE ID
        assert selectors.connector_by_identifier(account=account, by_evse_id="") is None
        for lookup in (
            {"by_serial_number": {"serial_number": "", "connector_id": 1}},
            {"by_serial_number": {"serial_number": "ACE1", "connector_id": 0}},
            {"by_charge_box_id": {"charge_box_id": "ALFEN", "connector_id": 0}},
        ):
            assert selectors.connector_by_identifier(account=account, **lookup) is None, lookup

    def test_a_serial_number_of_several_stations_is_refused(self, account, station):
        ChargeBoxFactory(account=account, charge_box_id="ALFEN-OLD", charge_box_serial_number="ACE1")
        with pytest.raises(ValidationError) as refused:
            selectors.connector_by_identifier(
                account=account, by_serial_number={"serial_number": "ACE1", "connector_id": 1}
            )
        assert "ALFEN, ALFEN-OLD" in str(refused.value.message_dict["by_serial_number"])

    def test_exactly_one_identifier_is_required(self, account):
        with pytest.raises(ValueError):
            selectors.connector_by_identifier(account=account)
        with pytest.raises(ValueError):
            selectors.connector_by_identifier(
                account=account, by_evse_id="x", by_charge_box_id={"charge_box_id": "x", "connector_id": 1}
            )
