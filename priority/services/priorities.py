"""Writes to connectors' user priorities (gridX EVCS user priority) and the needs load management plans with.

Connector.priority holds the current value; every change of it leaves a PriorityChange row (who, when, which way).
A value set again unchanged writes nothing. Unplug resets happen on the chargers' hot path in raw SQL
(`connector_unplug_statements`, used by ocpp_core.services.charger_messages); everything else goes through
`connector_priority_set` and `account_priorities_reset`.
"""

import enum
from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ocpp_core.db import Statement
from ocpp_core.models import Connector
from ocpp_core.models.charge_boxes import PRIORITY_MAX, PRIORITY_MIN
from powerfill.accounts.models import Account

from ..choices import PriorityChangeSource
from ..models import ConnectorLoad, PriorityChange
from .load_management import rebalance_request

CHANGED_BY_MAX_LENGTH = PriorityChange._meta.get_field("changed_by").max_length


class Unchanged(enum.Enum):
    """The default of the needs arguments: leave the stored value alone (None clears it)."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


@transaction.atomic
def connector_priority_set(
    *,
    connector: Connector,
    priority: int,
    source: PriorityChangeSource,
    changed_by: str = "",
    departure_at: datetime | None | Unchanged = UNCHANGED,
    energy_needed_wh: float | None | Unchanged = UNCHANGED,
) -> Connector:
    """Set one connector's priority (-9..9; 0 is the default, higher wins) and, when given, its vehicle's needs:
    departure time and energy still wanted (None clears either). Returns the connector as stored.

    The connector row is locked first, so concurrent changes of one connector are recorded one after the other, each
    with the previous value it really replaced."""
    if isinstance(priority, bool) or not isinstance(priority, int) or not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise ValidationError({"priority": f"A priority is a whole number from {PRIORITY_MIN} to {PRIORITY_MAX}."})
    if energy_needed_wh not in (None, UNCHANGED) and energy_needed_wh < 0:
        raise ValidationError({"energy_needed_wh": "The energy needed cannot be negative."})
    locked = Connector.objects.select_for_update(of=("self",)).get(pk=connector.pk)
    if locked.connector_id == 0 and priority != 0:
        raise ValidationError({"connector_id": "Connector 0 stands for the whole station; it has no priority."})

    changed = False
    if locked.priority != priority:
        PriorityChange.objects.create(
            connector=locked,
            priority=priority,
            previous_priority=locked.priority,
            source=source,
            changed_by=changed_by[:CHANGED_BY_MAX_LENGTH],
        )
        Connector.objects.filter(pk=locked.pk).update(priority=priority)
        locked.priority = priority
        changed = True

    needs = {
        field: value
        for field, value in (("departure_at", departure_at), ("energy_needed_wh", energy_needed_wh))
        if value is not UNCHANGED
    }
    if needs:
        changed |= _connector_needs_set(connector=locked, needs=needs)

    connector.priority = locked.priority
    if changed:
        _rebalance_after_commit([locked.charge_box_id], reason=f"priority {source}")
    return locked


def _connector_needs_set(*, connector: Connector, needs: dict) -> bool:
    """Store departure_at / energy_needed_wh on the connector's load row; True if anything changed. Only these
    columns are written: the load manager owns the rest of the row and may be writing it meanwhile."""
    load = ConnectorLoad.objects.filter(connector=connector).values(*needs).first()
    if load is None:
        if all(value is None for value in needs.values()):
            return False  # nothing stored, nothing to clear
        ConnectorLoad.objects.get_or_create(connector=connector)
        load = dict.fromkeys(needs)
    changed = {field: value for field, value in needs.items() if load[field] != value}
    if changed:
        ConnectorLoad.objects.filter(connector=connector).update(**changed)
    return bool(changed)


@transaction.atomic
def account_priorities_reset(*, account: Account, changed_by: str = "") -> int:
    """DELETE /priorities: every connector of the account back to priority 0 (a history row with source `reset`
    for each one that was not 0) and the needs set for them cleared. Returns how many priorities changed."""
    connectors = Connector.objects.select_for_update(of=("self",)).filter(
        charge_box__account=account, connector_id__gt=0
    )
    raised = list(connectors.exclude(priority=0).values_list("pk", "priority", "charge_box_id"))
    now = timezone.now()
    PriorityChange.objects.bulk_create(
        PriorityChange(
            connector_id=pk,
            priority=0,
            previous_priority=previous,
            source=PriorityChangeSource.RESET,
            changed_by=changed_by[:CHANGED_BY_MAX_LENGTH],
            changed_at=now,
        )
        for pk, previous, _ in raised
    )
    Connector.objects.filter(pk__in=[pk for pk, _, _ in raised]).update(priority=0)

    with_needs = ConnectorLoad.objects.filter(
        connector__charge_box__account=account, connector__connector_id__gt=0
    ).filter(Q(departure_at__isnull=False) | Q(energy_needed_wh__isnull=False))
    cleared = list(with_needs.values_list("connector_id", "connector__charge_box_id"))
    ConnectorLoad.objects.filter(pk__in=[pk for pk, _ in cleared]).update(departure_at=None, energy_needed_wh=None)

    _rebalance_after_commit(
        [charge_box_pk for _, _, charge_box_pk in raised] + [charge_box_pk for _, charge_box_pk in cleared],
        reason="priorities reset",
    )
    return len(raised)


def connector_unplug_statements(
    *, charge_box_pk: int, connector_id: int, at: datetime, lock_row: bool
) -> list[Statement]:
    """The SQL of an unplug (StatusNotification Available, or the connector's transaction stopped): priority back
    to 0 with a history row of source `unplug`, the vehicle's needs and learned phases cleared. For the chargers'
    hot path (ocpp_core.db), to run in the same transaction as the message's own statements, after the connector's
    row exists. Each statement is a no-op when there is nothing to reset, which is the usual case.

    The history INSERT reads the priority before the UPDATE resets it: keep them in this order. Both must see a
    priority nobody is changing: on PostgreSQL (READ COMMITTED) a priority set by a concurrent, later committed
    connector_priority_set would be missed by the INSERT's snapshot yet reset by the UPDATE, leaving no history row.
    So the transaction must hold the connector's row lock first: a StatusNotification's upsert of the row does;
    otherwise pass `lock_row` for a first statement that takes it (a write of the row, so only where needed)."""
    connector_table = Connector._meta.db_table
    key = [charge_box_pk, connector_id]
    lock = (
        f"UPDATE {connector_table} SET priority = priority WHERE charge_box_id = %s AND connector_id = %s",
        key,
    )
    return [
        *([lock] if lock_row else []),
        (
            f"INSERT INTO {PriorityChange._meta.db_table} "
            "(connector_id, priority, previous_priority, source, changed_at) "
            f"SELECT id, 0, priority, %s, %s FROM {connector_table} "
            "WHERE charge_box_id = %s AND connector_id = %s AND priority <> 0",
            [PriorityChangeSource.UNPLUG.value, at, *key],
        ),
        (
            f"UPDATE {connector_table} SET priority = 0 WHERE charge_box_id = %s AND connector_id = %s "
            "AND priority <> 0",
            key,
        ),
        (
            f"UPDATE {ConnectorLoad._meta.db_table} SET departure_at = NULL, energy_needed_wh = NULL, "
            f"phases_in_use = '', session_limit = NULL WHERE connector_id = (SELECT c.id FROM {connector_table} c "
            "WHERE c.charge_box_id = %s AND c.connector_id = %s) "
            "AND (departure_at IS NOT NULL OR energy_needed_wh IS NOT NULL OR phases_in_use <> '' "
            "OR session_limit IS NOT NULL)",
            key,
        ),
    ]


def _rebalance_after_commit(charge_box_pks: Iterable[int], reason: str) -> None:
    """Once the change is committed, have load management recompute the sites of these charge boxes."""
    pks = sorted(set(charge_box_pks))
    if not pks:
        return
    transaction.on_commit(lambda: rebalance_request(charge_box_pks=pks, reason=reason))
