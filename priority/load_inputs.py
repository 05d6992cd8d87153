"""Selectors of load management: a site's tree of limits and its connectors' state, read from the database and
turned into the allocator's inputs (priority.allocator). A bounded number of queries per site, whatever its size.

How the state becomes a demand (ConnectorDemand):
- A connector wants power while its session runs (a transaction without stop) and its status is not one of the
  ends (Finishing, Available, Faulted, Unavailable). A vehicle in SuspendedEV paused itself: it keeps its minimum,
  nothing more, until it draws again.
- Phases: the charger's (1 or 3), no more than the narrowest node above it, narrowed to the phases the vehicle was
  seen to draw from (learned from per-phase Current.Import readings), mapped to grid phases by the phase rotation.
- What it does not draw is handed on: a vehicle that draws clearly less than it was given (LOAD_HEADROOM_AMPS)
  gets a ceiling of what it draws plus that headroom; one that draws about all it was given may have more.
- A charger that is offline, not accepted, or refuses profiles is not steered: it counts with what it was last
  measured to draw, or its maximum when nothing recent was measured (an idle connector of a connected one: 0).
- Energy needs: `energy_needed_wh` (set through the priority API or the admin) is what the vehicle wants in this
  session; what the session delivered so far is subtracted. With `departure_at` it makes the connector urgent.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone
from ocpp.v16.enums import ChargePointStatus, RegistrationStatus

from ocpp_core.models import ChargeBox, Connector, MeterValue, Transaction
from ocpp_core.selectors import with_latest_meter
from sites.models import Node

from .allocator import ConnectorDemand, NodeLimit
from .charging_profiles import ChargerCapabilities
from .choices import PriceLevel, ProfileApplyStatus
from .models import TimeOfUseWindow

CURRENT_IMPORT = "Current.Import"
GRID_PHASE_OF_LETTER = {"R": 1, "S": 2, "T": 3}
NOT_WANTING = frozenset(
    {ChargePointStatus.finishing, ChargePointStatus.available, ChargePointStatus.faulted, ChargePointStatus.unavailable}
)
REFUSED = frozenset({ProfileApplyStatus.REJECTED, ProfileApplyStatus.NOT_SUPPORTED})
# A node with any of these limits makes its site managed.
LIMITED = Q(max_current_a__isnull=False) | Q(max_power_kw__isnull=False) | Q(phase_asymmetry_limit_a__isnull=False)
LEARN_PHASE_AMPS = 1.0  # a phase carrying more than this is in use
NOMINAL_VOLTS = 230.0  # phase to neutral: turns a limit in W into A


@dataclass
class ConnectorState:
    """One connector of the site: the allocator's demand and what the service needs to apply and record it."""

    demand: ConnectorDemand
    connector: Connector | None  # None: a charger that never reported its connectors (counted, never steered)
    charge_box: ChargeBox
    connector_id: int
    transaction_id: int | None
    charger_phases: int  # how many phases the profile names (numberPhases)
    measured_grid: dict[int, float]  # grid phase -> amps, from recent readings
    learned_phases: str  # charger phases seen in use ("1", "123"), "" if not known
    all_grid_phases: tuple[int, ...]  # what a vehicle could use here: the grid phases of all available phases


@dataclass
class SiteState:
    root: Node
    nodes: list[NodeLimit]
    connectors: list[ConnectorState]
    capabilities: dict[int, ChargerCapabilities]  # charge box pk ->
    windows: list[TimeOfUseWindow]
    node_phases: dict[int, int] = field(default_factory=dict)

    def window_now(self, now: datetime) -> TimeOfUseWindow | None:
        """The time-of-use window in force (the most restrictive when several overlap)."""
        local = timezone.localtime(now)
        current = [w for w in self.windows if _window_covers(w, local)]
        if not current:
            return None
        return min(
            current, key=lambda w: (w.price_level != PriceLevel.EXPENSIVE, w.peak_cap_kw is None, w.peak_cap_kw or 0)
        )


def site_root_ids(*, charge_box_pks) -> list[int]:
    """The roots of the sites these charge boxes are assigned to."""
    tree_ids = set(ChargeBox.objects.filter(pk__in=list(charge_box_pks)).values_list("node__tree_id", flat=True))
    tree_ids.discard(None)
    return list(Node.objects.filter(tree_id__in=tree_ids, parent=None).values_list("pk", flat=True))


def managed_charge_boxes(*, charge_box_pks: Iterable[int] | None = None) -> dict[int, int]:
    """The charge boxes of managed sites (as managed_site_root_ids has them), each mapped to its site's root: all of
    them, or those of `charge_box_pks`. One query; each box's tree is looked at through the tree's index."""
    boxes = ChargeBox.objects.filter(node__isnull=False)
    if charge_box_pks is not None:
        boxes = boxes.filter(pk__in=list(charge_box_pks))
    same_tree = Node.objects.filter(tree_id=OuterRef("node__tree_id"))
    limited = Exists(same_tree.filter(LIMITED))
    window = Exists(TimeOfUseWindow.objects.filter(peak_cap_kw__isnull=False, node__tree_id=OuterRef("node__tree_id")))
    root = Subquery(same_tree.filter(parent=None).values("pk")[:1])
    return dict(boxes.filter(limited | window).annotate(root_id=root).values_list("pk", "root_id"))


def managed_site_root_ids(*, tree_id: int | None = None) -> list[int]:
    """Roots of the sites with at least one limit somewhere (a node's, or a window's peak cap) and at least one
    charge box: the ones to manage. `tree_id`: that site only."""
    nodes = Node.objects.all() if tree_id is None else Node.objects.filter(tree_id=tree_id)
    return list(_managed_roots(nodes).values_list("pk", flat=True))


def _managed_roots(nodes):
    """The roots among `nodes` (a queryset of whole trees) of trees with a limit and a charge box."""
    limited = nodes.filter(LIMITED).values("tree_id")
    with_boxes = ChargeBox.objects.filter(node__in=nodes).values("node__tree_id")
    windows = TimeOfUseWindow.objects.filter(peak_cap_kw__isnull=False, node__in=nodes).values("node__tree_id")
    return nodes.filter(parent=None, tree_id__in=with_boxes).filter(Q(tree_id__in=limited) | Q(tree_id__in=windows))


def site_state(*, root: Node, now: datetime | None = None) -> SiteState:
    now = now or timezone.now()
    nodes = list(Node.objects.filter(tree_id=root.tree_id).order_by("lft"))
    limits = [
        NodeLimit(
            node.pk,
            node.parent_id,
            amps_per_phase=node.max_current_a,
            max_kw=node.max_power_kw,
            max_asymmetry_amps=node.phase_asymmetry_limit_a,
        )
        for node in nodes
    ]
    parents = {node.pk: node.parent_id for node in nodes}
    own_phases = {node.pk: node.phases for node in nodes}
    node_phases = {}
    for node in nodes:  # in tree order, so a parent is done before its children
        parent = parents[node.pk]
        node_phases[node.pk] = min(own_phases[node.pk], node_phases[parent] if parent else 3)

    boxes = list(ChargeBox.objects.filter(node__tree_id=root.tree_id))
    box_by_pk = {box.pk: box for box in boxes}
    connectors = list(
        Connector.objects.filter(charge_box__in=boxes, connector_id__gte=1).select_related("load").order_by("pk")
    )
    running = {
        (tx.charge_box_id, tx.connector_id): tx
        for tx in with_latest_meter(Transaction.objects.filter(charge_box__in=boxes, stopped_at=None))
    }
    measured = _recent_currents(transaction_ids=[tx.pk for tx in running.values()], now=now)
    capabilities = {box.pk: ChargerCapabilities.from_configuration(box.configuration or {}) for box in boxes}

    states = []
    reported = {connector.charge_box_id for connector in connectors}
    for connector in connectors:
        box = box_by_pk[connector.charge_box_id]
        tx = running.get((box.pk, connector.connector_id))
        load = getattr(connector, "load", None)
        states.append(
            _connector_state(
                box=box,
                connector=connector,
                connector_id=connector.connector_id,
                load=load,
                transaction=tx,
                readings=measured.get(tx.pk, {}) if tx else {},
                capabilities=capabilities[box.pk],
                max_phases=node_phases[box.node_id],
                now=now,
            )
        )
    for box in boxes:
        if box.pk not in reported:
            # A charger that never reported its connectors: one outlet at its maximum unless it is connected.
            states.append(
                _connector_state(
                    box=box,
                    connector=None,
                    connector_id=1,
                    load=None,
                    transaction=None,
                    readings={},
                    capabilities=capabilities[box.pk],
                    max_phases=node_phases[box.node_id],
                    now=now,
                )
            )
    windows = list(TimeOfUseWindow.objects.filter(node=root))
    return SiteState(root, limits, states, capabilities, windows, node_phases)


def _connector_state(
    *, box, connector, connector_id, load, transaction, readings, capabilities, max_phases, now
) -> ConnectorState:
    rotation = [GRID_PHASE_OF_LETTER[letter] for letter in box.phase_rotation or "RST"]
    available = list(range(1, min(box.phases, max_phases) + 1))
    by_charger_phase = {phase: amps for phase, amps in readings.items() if phase in (1, 2, 3)}
    learned = "".join(str(p) for p in available if by_charger_phase.get(p, 0) > LEARN_PHASE_AMPS)
    if not learned and load is not None:
        learned = "".join(p for p in load.phases_in_use if int(p) in available)
    used = [int(p) for p in learned] or available
    grid_phases = tuple(sorted(rotation[p - 1] for p in used))
    measured_max = None
    if readings:
        measured_max = max(readings.values())
    measured_grid = {rotation[p - 1]: amps for p, amps in by_charger_phase.items() if p in used}
    if readings and not by_charger_phase:  # a reading without phases: the same current on every phase in use
        measured_grid = {phase: measured_max for phase in grid_phases}

    key = connector.pk if connector is not None else f"box-{box.pk}"
    status = connector.status if connector is not None else ""
    wants = transaction is not None and status not in NOT_WANTING
    refused_recently = (
        load is not None
        and load.apply_status in REFUSED
        and load.applied_at is not None
        and now - load.applied_at < timedelta(seconds=settings.LOAD_RETRY_REFUSED_SECONDS)
    )
    controllable = (
        connector is not None
        and box.is_connected
        and box.registration_status == RegistrationStatus.accepted
        and capabilities.smart_charging is not False
        and not refused_recently
    )
    fixed = 0.0
    if not controllable:
        if measured_max is not None:
            fixed = measured_max
        elif transaction is not None or not box.is_connected:
            fixed = box.max_current_a
    usable = None
    if status == ChargePointStatus.suspended_ev:
        usable = box.min_current_a
    elif (
        measured_max is not None
        and load is not None
        and load.applied_amps
        and measured_max < load.applied_amps - settings.LOAD_HEADROOM_AMPS / 2
    ):
        usable = measured_max + settings.LOAD_HEADROOM_AMPS
    energy_needed = seconds_left = None
    if load is not None and load.energy_needed_wh is not None and load.departure_at is not None and transaction:
        delivered = max(0.0, (transaction.latest_meter or transaction.meter_start) - transaction.meter_start)
        energy_needed = max(0.0, load.energy_needed_wh - delivered)
        seconds_left = (load.departure_at - now).total_seconds()
    max_amps = box.max_current_a
    cap = session_limit_amps(load, transaction, phases=len(used), now=now) if load is not None else None
    if cap is not None:
        max_amps = min(max_amps, cap)
        if cap < box.min_current_a:  # below the charger's minimum a vehicle cannot charge at all: paused
            max_amps, wants = 0.0, False
    demand = ConnectorDemand(
        key,
        box.node_id,
        max_amps=max_amps,
        min_amps=box.min_current_a,
        phases=grid_phases,
        wants_power=wants,
        controllable=controllable,
        fixed_amps=fixed,
        priority=connector.priority if connector is not None else 0,
        usable_amps=usable,
        energy_needed_wh=energy_needed,
        seconds_left=seconds_left,
    )
    return ConnectorState(
        demand=demand,
        connector=connector,
        charge_box=box,
        connector_id=connector_id,
        transaction_id=transaction.pk if transaction else None,
        charger_phases=len(used),
        measured_grid=measured_grid,
        learned_phases=learned,
        all_grid_phases=tuple(sorted(rotation[p - 1] for p in available)),
    )


def session_limit_amps(load, transaction, *, phases: int, now: datetime) -> float | None:
    """The cap in force now on the connector's session (ConnectorLoad.session_limit), in A per phase; None when
    there is none, it belongs to another session, or it has not begun or has run out. Watts become amps at the
    nominal 230 V over the phases the vehicle draws from."""
    limit = load.session_limit
    if not limit or transaction is None or limit.get("transaction_id") != transaction.pk:
        return None
    start = datetime.fromisoformat(limit["start"])
    elapsed = (now - start).total_seconds()
    if elapsed < 0 or (limit.get("duration") is not None and elapsed >= limit["duration"]):
        return None
    in_force = [p for p in limit["periods"] if p["start_period"] <= elapsed]
    if not in_force:
        return None
    value = max(in_force, key=lambda p: p["start_period"])["limit"]
    return value if limit.get("unit", "A") == "A" else value / (NOMINAL_VOLTS * max(1, phases))


def _recent_currents(*, transaction_ids: list[int], now: datetime) -> dict[int, dict]:
    """{transaction id: {charger phase (1-3, or 0 when the reading named none): amps}} from the newest
    Current.Import readings of the last LOAD_MEASUREMENT_MAX_AGE_SECONDS."""
    if not transaction_ids:
        return {}
    since = now - timedelta(seconds=settings.LOAD_MEASUREMENT_MAX_AGE_SECONDS)
    rows = (
        MeterValue.objects.filter(
            transaction_id__in=transaction_ids,
            measurand=CURRENT_IMPORT,
            received_at__gte=since,
            numeric_value__isnull=False,
        )
        .order_by("transaction_id", "-timestamp", "-pk")
        .values_list("transaction_id", "phase", "numeric_value", "unit")
    )
    newest: dict[int, dict] = defaultdict(dict)
    for transaction_id, phase, value, unit in rows:
        amps = value / 1000 if unit == "mA" else value
        charger_phase = _charger_phase(phase)
        newest[transaction_id].setdefault(charger_phase, amps)
    return newest


def _charger_phase(phase: str) -> int:
    """ "L2", "L2-N" -> 2; no phase -> 0. Phase-to-phase readings (L1-L2) name the first."""
    if phase and phase[0] == "L" and phase[1:2] in ("1", "2", "3"):
        return int(phase[1])
    return 0


def _window_covers(window: TimeOfUseWindow, local: datetime) -> bool:
    day, moment = str(local.isoweekday()), local.time()
    if window.starts_at <= window.ends_at:
        return day in window.weekdays and window.starts_at <= moment < window.ends_at
    # Past midnight: the evening belongs to today's window, the early morning to yesterday's.
    yesterday = str((local - timedelta(days=1)).isoweekday())
    return (day in window.weekdays and moment >= window.starts_at) or (
        yesterday in window.weekdays and moment < window.ends_at
    )
