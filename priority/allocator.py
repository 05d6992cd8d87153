"""The load allocator: a pure function from a site's electrical limits and its connectors' state to a current
limit per connector. No database, no I/O, no clock: the caller passes everything in (priority/services.py builds
the inputs from the site tree and the live connector state, and sends the result as charging profiles).

What is shared, and under which limits
    Each node of the site tree may carry a fuse (amps per grid phase), a power cap (kW over all phases) and an
    asymmetry limit (the largest difference between the currents of two phases, as VDE-AR-N 4100 asks). A
    connector draws the same current on each grid phase it uses (1, 2 or 3, after the charger's phase rotation),
    and that current counts against every node on its way to the root. The answer is one current per connector
    (amps per phase): 0 pauses it, otherwise it lies between its minimum (6 A for IEC 61851) and what it can draw.

The algorithm
    1. Loads we cannot steer (a charger that is offline or refuses profiles) count with their measured draw, or
       their maximum when nothing was measured; they are subtracted from every limit first.
    2. Minimums, most deserving first: connectors that want power are taken in order of priority (higher first),
       then urgency (least laxity first: the least time to spare if charged at full speed), and each gets its
       minimum if that fits under every limit above it; one that does not fit is paused. A running session is
       never given less than its minimum, because below it the vehicle stops anyway.
    3. Then each priority level in turn, the highest first, raises its connectors above their minimum by
       progressive filling ("water filling"): all of them grow together until a connector reaches its target or
       a limit above it becomes tight, which stops the connectors under that limit that would break it (for an
       asymmetry limit, those that load the high phase and not the low one); the others go on. First to their
       urgency target (the current that delivers the energy still needed by the departure time), growing in
       proportion to what each still lacks; then, with what is left, equally up to what each can draw. In an
       expensive time-of-use window the second part is skipped: only minimums and what departures need.
    4. Steps 2 and 3 repeat until nothing grows. Without asymmetry limits one round is final: every connector
       ended at its ceiling or under a tight limit, and loads only grow. An asymmetry limit is different: a
       connector stopped because its phase ran ahead may grow again once connectors on the other phases caught
       up, and the next round offers that room to the highest priority first.
    5. What a connector does not draw is handed on: its ceiling is what it was seen to draw (usable_amps, from
       the caller's measurements), not the charger's nameplate, so the rest goes to the others.
    6. Rounding down to 0.1 A (what a profile carries) keeps fuses and caps; where it widened an asymmetry, the
       connectors on the high phase give up a step each, lowest priority first.

A peak cap (a peak signal, or the time-of-use window's cap) is one more node above every root.

The filling is event-driven: every limit knows how fast its load grows (the number of growing connectors under
it, each weighted), so the next event is found with a heap instead of small steps, and each connector is
stopped once per round. 10,000 connectors under a five-level tree: tests/benchmarks/bench_allocator.py.

Guarantees, each a property test on random trees (tests/priority/test_allocator_properties.py): no node's fuse,
power cap or asymmetry limit is exceeded by what it allocates (it cannot undo loads it does not steer, but never
makes them worse); every connector is paused or between its minimum and its ceiling; a connector gets more than
its minimum only if no connector of higher priority could have had more; and power is left unused only where
every connector that wants more is at its ceiling or under a tight limit (the last two before rounding).
"""

import heapq
import math
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

GRID_PHASES = (1, 2, 3)
DEFAULT_VOLTAGE = 230.0  # phase to neutral
EPSILON = 1e-9
GROWTH_EPSILON = 1e-6  # amps: a round that grew less than this changed nothing
MAX_ROUNDS = 20
DEFAULT_RESOLUTION = 0.1  # amps: what a charging profile carries (one decimal, OCPP 1.6)


@dataclass(frozen=True)
class NodeLimit:
    """One node of the site tree and its limits (None: no such limit at this node)."""

    id: Hashable
    parent_id: Hashable | None = None
    amps_per_phase: float | None = None
    max_kw: float | None = None
    max_asymmetry_amps: float | None = None


@dataclass(frozen=True)
class ConnectorDemand:
    """A connector as the allocator sees it.

    `phases` are the grid phases the vehicle draws from (the charger's phase rotation applied). `usable_amps` is
    what it was seen to draw at most (a vehicle limited to 16 A, say); None: the charger's maximum. A connector
    that is not `controllable` (offline, or refusing charging profiles) draws `fixed_amps` whatever we say.
    `seconds_left` and `energy_needed_wh`, when both known, make it urgent or not."""

    key: Hashable
    node_id: Hashable
    max_amps: float
    min_amps: float = 6.0
    phases: tuple[int, ...] = GRID_PHASES
    wants_power: bool = True
    controllable: bool = True
    fixed_amps: float = 0.0
    priority: int = 0
    usable_amps: float | None = None
    energy_needed_wh: float | None = None
    seconds_left: float | None = None

    def ceiling(self) -> float:
        usable = self.max_amps if self.usable_amps is None else min(self.max_amps, self.usable_amps)
        return max(self.min_amps, usable)

    def urgent_amps(self, voltage: float) -> float | None:
        """The current that delivers the energy still needed by the departure (None: not known)."""
        if self.energy_needed_wh is None or self.seconds_left is None:
            return None
        if self.energy_needed_wh <= 0:
            return 0.0
        if self.seconds_left <= 0:
            return self.ceiling()
        return self.energy_needed_wh * 3600 / self.seconds_left / (voltage * len(self.phases))

    def laxity(self, voltage: float) -> float:
        """Seconds to spare if charged at its ceiling from now on (infinite when the need is not known)."""
        if self.energy_needed_wh is None or self.seconds_left is None:
            return math.inf
        seconds_at_full_speed = self.energy_needed_wh * 3600 / (self.ceiling() * voltage * len(self.phases))
        return self.seconds_left - seconds_at_full_speed


def allocate(
    nodes: Iterable[NodeLimit],
    connectors: Iterable[ConnectorDemand],
    *,
    voltage: float = DEFAULT_VOLTAGE,
    resolution: float | None = DEFAULT_RESOLUTION,
    peak_cap_kw: float | None = None,
    expensive: bool = False,
) -> dict[Hashable, float]:
    """Current per phase for every controllable connector (0: paused), rounded down to `resolution` (None: not
    rounded). `peak_cap_kw` caps the total of all nodes (a peak signal); `expensive` says the price is high now,
    so connectors get their minimum and what their departures need, nothing more. See the module docstring."""
    nodes = list(nodes)
    if peak_cap_kw is not None:
        # The cap sits above every root, like one more node: the same filling respects it.
        nodes = [NodeLimit(_PEAK_CAP, None, max_kw=peak_cap_kw)] + [
            node if node.parent_id is not None else NodeLimit(**{**node.__dict__, "parent_id": _PEAK_CAP})
            for node in nodes
        ]
    return _Allocation(nodes, list(connectors), voltage, resolution, expensive).run()


_PEAK_CAP = object()  # the id of the peak cap's node: equal to no caller's id


class _Allocation:
    def __init__(
        self,
        nodes: list[NodeLimit],
        connectors: list[ConnectorDemand],
        voltage: float,
        resolution: float | None,
        expensive: bool,
    ):
        self.voltage = voltage
        self.resolution = resolution
        self.expensive = expensive
        self.nodes = {node.id: node for node in nodes}
        self.connectors = connectors
        self.paths = {}  # node id -> the node and its ancestors
        for node in nodes:
            self._path(node.id)
        # The limits: per (node, phase) in amps, per node in "phase-amps" for the kW cap.
        self.phase_caps = {
            (node.id, phase): node.amps_per_phase
            for node in nodes
            if node.amps_per_phase is not None
            for phase in GRID_PHASES
        }
        self.power_caps = {node.id: node.max_kw * 1000 / voltage for node in nodes if node.max_kw is not None}
        self.asymmetry_caps = {
            node.id: node.max_asymmetry_amps for node in nodes if node.max_asymmetry_amps is not None
        }
        self.phase_load: dict[tuple, float] = defaultdict(float)  # (node, phase) -> amps
        self.running: set = set()  # connectors that got their minimum, and so take part in the filling
        self.allocation: dict[Hashable, float] = {}

    def _path(self, node_id) -> tuple:
        path = self.paths.get(node_id)
        if path is None:
            walk, current = [], node_id
            while current is not None and current not in self.paths:
                if current in walk:
                    raise ValueError(f"The site tree has a cycle through {current!r}")
                node = self.nodes.get(current)
                if node is None:
                    raise ValueError(f"Unknown node {current!r}")
                walk.append(current)
                current = node.parent_id
            path = self.paths[current] if current is not None else ()
            for walked in reversed(walk):
                path = self.paths[walked] = (walked, *path)
            path = self.paths[node_id]
        return path

    def run(self) -> dict[Hashable, float]:
        for connector in self.connectors:
            if not connector.controllable:
                self._add(connector, connector.fixed_amps)
        self.fixed_load = dict(self.phase_load)
        for connector in self.connectors:
            if connector.controllable:
                self.allocation[connector.key] = 0.0
        wanting = [c for c in self.connectors if c.controllable and c.wants_power]
        wanting.sort(key=lambda c: (-c.priority, c.laxity(self.voltage)))
        tiers = sorted({c.priority for c in wanting}, reverse=True)
        # Rounds until nothing grows. One is enough without asymmetry limits; with them, a connector stopped because
        # its phase ran ahead may grow again once connectors on the other phases caught up, and the next round
        # gives that room to the highest priority first.
        for _round in range(MAX_ROUNDS):
            grown = self._place_minimums(wanting)
            for priority in tiers:
                tier = [c for c in wanting if c.priority == priority and c.key in self.running]
                targets = {}
                for connector in tier:
                    urgent = connector.urgent_amps(self.voltage)
                    if urgent is not None and urgent > self.allocation[connector.key] + EPSILON:
                        targets[connector.key] = min(connector.ceiling(), urgent)
                grown += self._fill([c for c in tier if c.key in targets], targets, proportional=True)
                if not self.expensive:
                    grown += self._fill(tier, {c.key: c.ceiling() for c in tier}, proportional=False)
            if grown <= GROWTH_EPSILON:
                break
        if not self.resolution:
            return dict(self.allocation)
        return self._rounded()

    def _rounded(self) -> dict[Hashable, float]:
        """The allocation rounded down to what a charging profile carries. Rounding down keeps every fuse and power
        cap, but it may widen a phase asymmetry (the low phase lost more to rounding than the high one): then
        connectors on the high phase and not the low one give up one step each, lowest priority first, until the
        limit holds again (one below its minimum is paused). Lowering only ever lowers loads, so it ends."""
        step = self.resolution
        rounded = {key: math.floor(amps / step + EPSILON) * step for key, amps in self.allocation.items()}
        if not self.asymmetry_caps:
            return {key: round(amps / step) / (1 / step) for key, amps in rounded.items()}
        load = defaultdict(float, self.fixed_load)
        members = defaultdict(list)
        for connector in self.connectors:
            if connector.controllable and rounded[connector.key] > 0:
                for node_id in self._path(connector.node_id):
                    members[node_id].append(connector)
                    for phase in connector.phases:
                        load[(node_id, phase)] += rounded[connector.key]
        repaired = False
        while not repaired:
            repaired = True
            for node_id, cap in self.asymmetry_caps.items():
                fixed = [self.fixed_load.get((node_id, p), 0.0) for p in GRID_PHASES]
                allowed = max(cap, max(fixed) - min(fixed))
                while True:
                    high = max(GRID_PHASES, key=lambda p: load[(node_id, p)])
                    low = min(GRID_PHASES, key=lambda p: load[(node_id, p)])
                    if load[(node_id, high)] - load[(node_id, low)] <= allowed + EPSILON:
                        break
                    candidates = [
                        c for c in members[node_id] if rounded[c.key] > 0 and high in c.phases and low not in c.phases
                    ]
                    if not candidates:
                        break
                    connector = min(candidates, key=lambda c: (c.priority, -rounded[c.key]))
                    lowered = rounded[connector.key] - step
                    if lowered < connector.min_amps - EPSILON:
                        lowered = 0.0
                    for path_node in self._path(connector.node_id):
                        for phase in connector.phases:
                            load[(path_node, phase)] -= rounded[connector.key] - lowered
                    rounded[connector.key] = lowered
                    repaired = False
        # Steps counted in binary floating point: give back clean multiples of the step.
        return {key: round(amps / step) / (1 / step) for key, amps in rounded.items()}

    def _place_minimums(self, wanting: list[ConnectorDemand]) -> float:
        """Each paused connector, most deserving first, gets its minimum if that fits under every limit."""
        placed = 0.0
        for connector in wanting:
            if connector.key not in self.running and self._fits(connector, connector.min_amps):
                self._add(connector, connector.min_amps)
                self.allocation[connector.key] = connector.min_amps
                self.running.add(connector.key)  # a minimum of 0 A counts as started too
                placed += max(connector.min_amps, GROWTH_EPSILON * 2)
        return placed

    # Loads and limits

    def _add(self, connector: ConnectorDemand, amps: float) -> None:
        for node_id in self._path(connector.node_id):
            for phase in connector.phases:
                self.phase_load[(node_id, phase)] += amps

    def _fits(self, connector: ConnectorDemand, amps: float) -> bool:
        for node_id in self._path(connector.node_id):
            loads = {phase: self.phase_load[(node_id, phase)] for phase in GRID_PHASES}
            after = {phase: load + (amps if phase in connector.phases else 0.0) for phase, load in loads.items()}
            cap = self.phase_caps.get((node_id, GRID_PHASES[0]))
            if cap is not None and any(after[p] > cap + EPSILON for p in connector.phases):
                return False
            power_cap = self.power_caps.get(node_id)
            if power_cap is not None and sum(after.values()) > power_cap + EPSILON:
                return False
            asymmetry = self.asymmetry_caps.get(node_id)
            if asymmetry is not None:
                for p in GRID_PHASES:
                    for q in GRID_PHASES:
                        # Never worse than the limit, nor than it already is (loads we do not steer).
                        if after[p] - after[q] > max(asymmetry, loads[p] - loads[q]) + EPSILON:
                            return False
        return True

    # Progressive filling

    def _fill(self, tier: list[ConnectorDemand], targets: dict, *, proportional: bool) -> float:
        """Raise the tier's connectors together towards their targets until each is stopped by its target or a
        tight limit. Growth per unit of filling time: what it still lacks (proportional) or 1 (equal share)."""
        before = sum(self.allocation[c.key] for c in tier)
        growing = {}
        for connector in tier:
            lack = targets[connector.key] - self.allocation[connector.key]
            if lack > EPSILON:
                growing[connector.key] = (connector, lack if proportional else 1.0)
        if not growing:
            return 0.0
        # Proportional: everyone grows from the start. Equal share: a water level rises from the lowest current;
        # a connector joins when the level reaches its own current (max-min fairness).
        lowest = min(self.allocation[key] for key in growing)
        joins = {key: 0.0 if proportional else self.allocation[key] - lowest for key in growing}
        _Filling(self, growing, targets, joins).run()
        return sum(self.allocation[c.key] for c in tier) - before


class _Filling:
    """One progressive filling: time t runs from 0; a connector joins at its join time, and from then on its
    current is its start + weight * (t - join)."""

    def __init__(self, allocation: _Allocation, candidates: dict, targets: dict, joins: dict):
        self.a = allocation
        self.growing: dict = {}  # key -> (connector, weight), the connectors growing now
        self.targets = targets
        self.joins = joins
        self.start = {key: allocation.allocation[key] for key in candidates}
        self.t = 0.0
        self.events: list = []
        self.sequence = 0
        self.version: dict = defaultdict(int)
        # For each limited (node, phase) and node: how fast its load grows, and since when it was last settled.
        self.phase_rate: dict[tuple, float] = defaultdict(float)
        self.settled_at: dict = defaultdict(float)
        self.members: dict = defaultdict(list)  # node -> connectors under it that grow or will
        self.waiting = candidates  # key -> (connector, weight), until it joins
        for key, (connector, _weight) in candidates.items():
            for node_id in allocation._path(connector.node_id):
                self.members[node_id].append(key)
            self._push_event(joins[key], key, "join", 0)

    def run(self) -> None:
        while self.events and (self.growing or self.waiting):
            at, _, subject, kind, version = heapq.heappop(self.events)
            if version != self.version[(kind, subject)]:
                continue  # superseded
            self.t = max(self.t, at)
            if kind == "join":
                self._join(subject)
            elif kind == "target":
                if subject in self.growing:
                    self._stop([subject])
            elif kind == "phase":
                node_id, phase = subject
                self._stop([k for k in self.members[node_id] if k in self.growing and phase in self._phases(k)])
            elif kind == "power":
                self._stop([k for k in self.members[subject] if k in self.growing])
            elif kind == "asymmetry":
                node_id, high, low = subject
                self._stop(
                    [
                        k
                        for k in self.members[node_id]
                        if k in self.growing and high in self._phases(k) and low not in self._phases(k)
                    ]
                )

    def _join(self, key) -> None:
        connector, weight = self.growing[key] = self.waiting.pop(key)
        path = self.a._path(connector.node_id)
        for node_id in path:
            self._settle(node_id)
            for phase in connector.phases:
                self.phase_rate[(node_id, phase)] += weight
        self._push_event(self.t + (self.targets[key] - self.start[key]) / weight, key, "target", 0)
        for node_id in path:
            self._schedule(node_id)

    def _phases(self, key) -> tuple:
        return self.growing[key][0].phases

    def _load(self, node_id, phase) -> float:
        """The load of (node, phase) at the current time t."""
        key = (node_id, phase)
        return self.a.phase_load[key] + self.phase_rate[key] * (self.t - self.settled_at[key])

    def _settle(self, node_id) -> None:
        for phase in GRID_PHASES:
            key = (node_id, phase)
            self.a.phase_load[key] = self._load(node_id, phase)
            self.settled_at[key] = self.t

    def _stop(self, keys: list) -> None:
        touched = set()
        for key in keys:
            connector, weight = self.growing.pop(key)
            grown = weight * max(0.0, self.t - self.joins[key])
            self.a.allocation[key] = min(self.targets[key], self.start[key] + grown)
            for node_id in self.a._path(connector.node_id):
                if node_id not in touched:
                    self._settle(node_id)
                    touched.add(node_id)
                for phase in connector.phases:
                    self.phase_rate[(node_id, phase)] -= weight
        for node_id in touched:
            self._schedule(node_id)

    def _schedule(self, node_id) -> None:
        """(Re)compute when each limit of the node becomes tight at the current growth rates."""
        self._settle(node_id)
        cap = self.a.phase_caps.get((node_id, GRID_PHASES[0]))
        if cap is not None:
            for phase in GRID_PHASES:
                self._push(
                    "phase", (node_id, phase), cap - self._load(node_id, phase), self.phase_rate[(node_id, phase)]
                )
        power_cap = self.a.power_caps.get(node_id)
        if power_cap is not None:
            total = sum(self._load(node_id, p) for p in GRID_PHASES)
            self._push("power", node_id, power_cap - total, sum(self.phase_rate[(node_id, p)] for p in GRID_PHASES))
        asymmetry = self.a.asymmetry_caps.get(node_id)
        if asymmetry is not None:
            for high in GRID_PHASES:
                for low in GRID_PHASES:
                    if high != low:
                        room = asymmetry - (self._load(node_id, high) - self._load(node_id, low))
                        growth = self.phase_rate[(node_id, high)] - self.phase_rate[(node_id, low)]
                        self._push("asymmetry", (node_id, high, low), room, growth)

    def _push(self, kind: str, subject, room: float, growth: float) -> None:
        self.version[(kind, subject)] += 1
        if growth > EPSILON:
            self._push_event(self.t + max(0.0, room) / growth, subject, kind, self.version[(kind, subject)])

    def _push_event(self, at: float, subject, kind: str, version: int) -> None:
        # The sequence number orders events of the same time without comparing their subjects.
        self.sequence += 1
        heapq.heappush(self.events, (at, self.sequence, subject, kind, version))
