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
       progressive filling ("water filling"): a level rises from the lowest current, and every connector it
       reaches grows with it until it reaches its target or a limit above it becomes tight, which stops the
       connectors under that limit that would break it (for an asymmetry limit, those that load the high phase
       and not the low one); the others go on. First to their urgency target (the current that delivers the energy
       still needed by the departure time); then, with what is left, up to what each can draw. In an expensive
       time-of-use window the second part is skipped: only minimums and what departures need.
       Queues: connectors of the level whose need is known (energy and departure) and that are under exactly the
       same limits (the same limited nodes above them, the same phases) take part in both fillings as one
       participant, which grows as one connector does and hands what it gets to its members least laxity first,
       each up to its target before the next gets anything. Power goes to the vehicles that leave soonest and the
       others' energy is kept for later, when the site may be idle: concentrating it finishes more sessions
       before their departure than spreading it (the ACN replay, tests/benchmarks/bench_acn.py). One participant
       per queue also keeps the phases balanced where queues on different phase pairs share a three-phase fuse.
    4. Steps 2 and 3 repeat until nothing grows. Without asymmetry limits one round is final: every connector
       ended at its ceiling or under a tight limit, and loads only grow. An asymmetry limit is different: a
       connector stopped because its phase ran ahead may grow again once connectors on the other phases caught
       up, and the next round offers that room to the highest priority first.
    5. What a connector does not draw is handed on: its ceiling is what it was seen to draw (usable_amps, from
       the caller's measurements), not the charger's nameplate, so the rest goes to the others.
    6. Then (not in an expensive window) each queue's total is handed out again, least laxity first, minimums
       included: its members are under the same limits, so any split of the total keeps every load as it is, and
       the minimums that step 2 gave to vehicles with time to spare go to those leaving sooner. A member starts
       with at least its minimum (those served before it give up the difference, down to their own minimums), so
       a vehicle with time to spare may be paused while one that leaves soon charges at full speed.
    7. Rounding down to 0.1 A (what a profile carries) keeps fuses and caps; where it widened an asymmetry, the
       connectors on the high phase give up a step each, lowest priority first.

A peak cap (a peak signal, or the time-of-use window's cap) is one more node above every root.

The filling is event-driven: every node knows how fast the load of each phase grows (the weights of the growing
connectors under it), so the time its first limit becomes tight is computed instead of found by small steps; a heap
orders those times, events due together are handled as one batch, and a fuse found full is remembered, so later
fillings skip the connectors under it. A later round of step 4 revisits only the connectors an asymmetry limit
stopped (and those that just got their minimum). 10,000 connectors under a five-level tree:
tests/benchmarks/bench_allocator.py.

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


_PHASE_PAIRS = [(high, low) for high in range(3) for low in range(3) if high != low]
_OTHER_PHASES = {
    phases: tuple(phase for phase in range(3) if phase not in phases)
    for phases in [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2)]
}


class _Route:
    """What a connector loads: the limited nodes from its own up to the root, its phases (indices 0-2), and, for
    the hot loops, the load slots (node number * 3 + phase index) and the power and asymmetry limits on the way."""

    __slots__ = ("path", "phases", "other_phases", "slots", "power_limits", "asymmetry_caps", "asymmetric_nodes")

    def __init__(self, above: "_Route", phases: tuple[int, ...]):
        """A route for these phases below the same nodes as `above` (which carries the path and its limits)."""
        self.path = above.path
        self.power_limits = above.power_limits
        self.asymmetry_caps = above.asymmetry_caps
        self.asymmetric_nodes = above.asymmetric_nodes
        self.phases = phases
        self.other_phases = _OTHER_PHASES[phases]
        self.slots = tuple([3 * node + phase for node in self.path for phase in phases])

    @classmethod
    def of_path(cls, allocation: "_Allocation", path: tuple[int, ...]) -> "_Route":
        route = cls.__new__(cls)
        route.path = path
        route.power_limits = tuple(
            (node, allocation.power_caps[node] + EPSILON) for node in path if allocation.power_caps[node] is not None
        )
        route.asymmetry_caps = tuple(
            (node, allocation.asymmetry_caps[node]) for node in path if allocation.asymmetry_caps[node] is not None
        )
        route.asymmetric_nodes = tuple(node for node, _cap in route.asymmetry_caps)
        return route


class _Allocation:
    """The working state of one allocate() call. Nodes and connectors are numbered, and the loads live in a flat
    list indexed by node number * 3 + phase index: on a large site the filling touches them hundreds of thousands
    of times, and indexing a list is several times cheaper than a dictionary keyed by tuples. Only nodes that carry
    a limit are on a connector's path (the others constrain nothing)."""

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
        self.by_id = {node.id: node for node in nodes}
        self.node_index = {node_id: number for number, node_id in enumerate(self.by_id)}
        nodes = list(self.by_id.values())
        # The limits per node number (None: none there); a kW cap in "phase-amps", the unit of the loads.
        self.phase_caps = [node.amps_per_phase for node in nodes]
        self.power_caps = [None if node.max_kw is None else node.max_kw * 1000 / voltage for node in nodes]
        self.asymmetry_caps = [node.max_asymmetry_amps for node in nodes]
        self.limited = [
            node.amps_per_phase is not None or node.max_kw is not None or node.max_asymmetry_amps is not None
            for node in nodes
        ]
        self.paths: dict = {}  # node id -> the numbers of the limited nodes among it and its ancestors
        for node in nodes:
            self._path(node.id)
        self.connectors = connectors
        # The fuse of each load slot, with the tolerance added once (no fuse: infinite).
        self.slot_limits = [
            math.inf if cap is None else cap + EPSILON for cap in self.phase_caps for _phase in GRID_PHASES
        ]
        node_routes: dict = {}  # node id -> the route above it
        routes: dict[tuple, _Route] = {}  # (node id, grid phases) -> its route, shared by connectors alike
        phase_indices: dict[tuple, tuple] = {}  # grid phases -> phase indices, each distinct rotation checked once
        self.routes = []
        for connector in connectors:
            route = routes.get((connector.node_id, connector.phases))
            if route is None:
                phases = phase_indices.get(connector.phases)
                if phases is None:
                    if not connector.phases or not set(connector.phases) <= set(GRID_PHASES):
                        raise ValueError(f"Connector {connector.key!r}: phases must be among {GRID_PHASES}")
                    phases = phase_indices[connector.phases] = tuple(sorted({p - 1 for p in connector.phases}))
                above = node_routes.get(connector.node_id)
                if above is None:
                    above = node_routes[connector.node_id] = _Route.of_path(self, self._path(connector.node_id))
                route = routes[(connector.node_id, connector.phases)] = _Route(above, phases)
            self.routes.append(route)
        self.ceilings = [connector.ceiling() for connector in connectors]
        self.load = [0.0] * (3 * len(nodes))  # node number * 3 + phase index -> amps
        self.running: set[int] = set()  # connectors that got their minimum, and so take part in the filling
        self.saturated: set[int] = set()  # load slots whose fuse or power cap a filling found full
        self.allocation = [0.0] * len(connectors)

    def _path(self, node_id) -> tuple[int, ...]:
        path = self.paths.get(node_id)
        if path is None:
            walk, current = [], node_id
            while current is not None and current not in self.paths:
                if current in walk:
                    raise ValueError(f"The site tree has a cycle through {current!r}")
                node = self.by_id.get(current)
                if node is None:
                    raise ValueError(f"Unknown node {current!r}")
                walk.append(current)
                current = node.parent_id
            path = self.paths[current] if current is not None else ()
            for walked in reversed(walk):
                number = self.node_index[walked]
                path = self.paths[walked] = (number, *path) if self.limited[number] else path
            path = self.paths[node_id]
        return path

    def run(self) -> dict[Hashable, float]:
        connectors = self.connectors
        for index, connector in enumerate(connectors):
            if not connector.controllable:
                self._add(index, connector.fixed_amps)
        self.fixed_load = list(self.load)
        voltage = self.voltage
        # Most deserving first: higher priority, then less laxity.
        order = [
            (-c.priority, c.laxity(voltage), index)
            for index, c in enumerate(connectors)
            if c.controllable and c.wants_power
        ]
        order.sort()
        wanting = [index for _priority, _laxity, index in order]
        self.laxity = {index: laxity for _priority, laxity, index in order}
        tiers: dict[int, list[int]] = {}
        for index in wanting:
            tiers.setdefault(connectors[index].priority, []).append(index)
        # Rounds until nothing grows. One is enough without asymmetry limits; with them, a connector stopped because
        # its phase ran ahead may grow again once connectors on the other phases caught up, and the next round
        # gives that room to the highest priority first. Only such connectors, and those that just got their
        # minimum, can grow in a later round: a fuse, a power cap or a target that stopped one stays where it is,
        # as loads only grow.
        may_grow = None  # the first round: every running connector
        for _round in range(MAX_ROUNDS):
            self.blocked_by_asymmetry = set()
            placed_before = set(self.running)
            grown = self._place_minimums(wanting)
            if may_grow is not None:
                may_grow |= self.running - placed_before
            for priority in sorted(tiers, reverse=True):
                tier = [i for i in tiers[priority] if i in self.running and (may_grow is None or i in may_grow)]
                targets = {}
                for index in tier:
                    urgent = connectors[index].urgent_amps(self.voltage)
                    if urgent is not None and urgent > self.allocation[index] + EPSILON:
                        targets[index] = min(self.ceilings[index], urgent)
                grown += self._fill([index for index in tier if index in targets], targets)
                if not self.expensive:
                    grown += self._fill(tier, {index: self.ceilings[index] for index in tier})
            if grown <= GROWTH_EPSILON:
                break
            may_grow = self.blocked_by_asymmetry
        if not self.expensive:
            self._requeue(tiers)
        answer = self._rounded() if self.resolution else self.allocation
        return {c.key: answer[index] for index, c in enumerate(connectors) if c.controllable}

    def _rounded(self) -> list[float]:
        """The allocation rounded down to what a charging profile carries. Rounding down keeps every fuse and power
        cap, but it may widen a phase asymmetry (the low phase lost more to rounding than the high one): then
        connectors on the high phase and not the low one give up one step each, lowest priority first, until the
        limit holds again (one below its minimum is paused). Lowering only ever lowers loads, so it ends."""
        step = self.resolution
        rounded = [math.floor(amps / step + EPSILON) * step for amps in self.allocation]
        asymmetric = [node for node, cap in enumerate(self.asymmetry_caps) if cap is not None]
        if asymmetric:
            self._repair_asymmetry(rounded, asymmetric, step)
        # Steps counted in binary floating point: give back clean multiples of the step.
        return [round(amps / step) / (1 / step) for amps in rounded]

    def _repair_asymmetry(self, rounded: list[float], asymmetric: list[int], step: float) -> None:
        load = list(self.fixed_load)  # only the asymmetric nodes' slots are kept up to date
        members = defaultdict(list)
        for index, connector in enumerate(self.connectors):
            amps = rounded[index]
            if connector.controllable and amps > 0:
                route = self.routes[index]
                for node in route.asymmetric_nodes:
                    members[node].append(index)
                    for phase in route.phases:
                        load[3 * node + phase] += amps
        repaired = False
        while not repaired:
            repaired = True
            for node in asymmetric:
                fixed = self.fixed_load[3 * node : 3 * node + 3]
                allowed = max(self.asymmetry_caps[node], max(fixed) - min(fixed))
                while True:
                    phase_loads = load[3 * node : 3 * node + 3]
                    high = phase_loads.index(max(phase_loads))
                    low = phase_loads.index(min(phase_loads))
                    if phase_loads[high] - phase_loads[low] <= allowed + EPSILON:
                        break
                    candidates = [
                        index
                        for index in members[node]
                        if rounded[index] > 0
                        and high in self.routes[index].phases
                        and low not in self.routes[index].phases
                    ]
                    if not candidates:
                        break
                    index = min(candidates, key=lambda i: (self.connectors[i].priority, -rounded[i]))
                    lowered = rounded[index] - step
                    if lowered < self.connectors[index].min_amps - EPSILON:
                        lowered = 0.0
                    route = self.routes[index]
                    for path_node in route.asymmetric_nodes:
                        for phase in route.phases:
                            load[3 * path_node + phase] -= rounded[index] - lowered
                    rounded[index] = lowered
                    repaired = False

    def _requeue(self, tiers: dict[int, list[int]]) -> None:
        """Hand each queue's total out again, least laxity first, minimums included (see the module docstring)."""
        allocation = self.allocation
        for tier in tiers.values():
            for members in self._by_route(tier):
                if len(members) > 1:
                    shares = self._queue_shares(members, sum(allocation[index] for index in members))
                    if shares is not None:
                        for index, amps in shares.items():
                            allocation[index] = amps

    def _by_route(self, indices) -> list[list[int]]:
        """The connectors with a known need (a finite laxity) among these, grouped by route (the same limited
        nodes above them, the same phases): a queue each, in the given order."""
        routes, laxity = self.routes, self.laxity
        groups: dict[tuple, list[int]] = {}
        for index in indices:
            if laxity[index] < math.inf:
                groups.setdefault((routes[index].path, routes[index].phases), []).append(index)
        return list(groups.values())

    def _queue_shares(self, members: list[int], total: float) -> dict | None:
        """The queue's total handed out in the members' order, each up to its ceiling, a member starting only with
        its minimum; None where that cannot place it all (then the shares stay as the filling left them)."""
        connectors, ceilings = self.connectors, self.ceilings
        shares = dict.fromkeys(members, 0.0)
        served: list[int] = []
        rest = total
        for index in members:
            if rest <= EPSILON:
                break
            minimum = connectors[index].min_amps
            if rest >= minimum - EPSILON:
                shares[index] = min(ceilings[index], rest)
            else:
                # Its minimum does not fit in what is left: those served before it give up the difference, the
                # last served first, down to their own minimums, if they can.
                needed = minimum - rest
                if sum(shares[i] - connectors[i].min_amps for i in served) < needed - EPSILON:
                    return None
                for earlier in reversed(served):
                    given = min(needed, shares[earlier] - connectors[earlier].min_amps)
                    shares[earlier] -= given
                    needed -= given
                    if needed <= EPSILON:
                        break
                shares[index] = minimum
            rest -= shares[index]
            served.append(index)
        return shares if rest <= EPSILON else None

    def _place_minimums(self, wanting: list[int]) -> float:
        """Each paused connector, most deserving first, gets its minimum if that fits under every limit."""
        placed = 0.0
        running, connectors, load = self.running, self.connectors, self.load
        for index in wanting:
            if index in running:
                continue
            minimum = connectors[index].min_amps
            if self._fits(index, minimum):
                for slot in self.routes[index].slots:  # self._add(index, minimum), inlined: 10,000s of calls
                    load[slot] += minimum
                self.allocation[index] = minimum
                running.add(index)  # a minimum of 0 A counts as started too
                placed += max(minimum, GROWTH_EPSILON * 2)
        return placed

    # Loads and limits

    def _add(self, index: int, amps: float) -> None:
        load = self.load
        for slot in self.routes[index].slots:
            load[slot] += amps

    def _fits(self, index: int, amps: float) -> bool:
        load, route, slot_limits = self.load, self.routes[index], self.slot_limits
        for slot in route.slots:
            if load[slot] + amps > slot_limits[slot]:
                return False
        if route.power_limits:
            added = amps * len(route.phases)
            for node, limit in route.power_limits:
                if load[3 * node] + load[3 * node + 1] + load[3 * node + 2] + added > limit:
                    return False
        if route.asymmetry_caps and len(route.phases) < 3:
            # Only a gap from a phase it loads to one it does not can widen; never beyond the limit, nor beyond
            # what it already is (loads we do not steer).
            for node, asymmetry in route.asymmetry_caps:
                base = 3 * node
                for phase in route.phases:
                    for other in route.other_phases:
                        gap = load[base + phase] - load[base + other]
                        if gap + amps > max(asymmetry, gap) + EPSILON:
                            self.blocked_by_asymmetry.add(index)  # a later round may find room
                            return False
        return True

    # Progressive filling

    def _fill(self, tier: list[int], targets: dict) -> float:
        """Raise the tier's connectors together towards their targets until each is stopped by its target or a
        tight limit: a water level rises from the lowest current, and a participant joins when it reaches its own
        current (max-min fairness); one connector, or one queue (from its lowest member)."""
        allocation = self.allocation
        before = sum(allocation[index] for index in tier)
        weights = {}
        saturated, routes = self.saturated, self.routes
        for index in tier:
            lack = targets[index] - allocation[index]
            # One under a fuse or power cap that is already full cannot grow: it would join and stop at once.
            if lack > EPSILON and saturated.isdisjoint(routes[index].slots):
                weights[index] = 1.0
        if not weights:
            return 0.0
        queues = self._queues(weights)
        levels = {index: allocation[index] for index in weights}
        for virtual, members in queues:
            for index in members:
                del weights[index], levels[index]
            weights[virtual] = 1.0
            targets[virtual] = sum(targets[index] - allocation[index] for index in members)
            levels[virtual] = min(allocation[index] for index in members)
        lowest = min(levels.values())
        joins = {index: level - lowest for index, level in levels.items()}
        _Filling(self, weights, targets, joins).run()
        if queues:
            self._split(queues, targets)
        return sum(allocation[index] for index in tier) - before

    def _queues(self, weights: dict) -> list[tuple[int, list[int]]]:
        """The growing connectors' queues of two or more, each with a virtual connector for the filling: an index
        past the real ones, with its members' route and an allocation of 0."""
        queues = []
        for members in self._by_route(weights):
            if len(members) > 1:
                queues.append((len(self.allocation), members))
                self.allocation.append(0.0)
                self.routes.append(self.routes[members[0]])
        return queues

    def _split(self, queues: list, targets: dict) -> None:
        """Hand what each queue's virtual connector grew to its members, least laxity first, each up to its target,
        and remove the virtual connectors. The members are under the same limits, so the loads stay as they are."""
        allocation, blocked = self.allocation, self.blocked_by_asymmetry
        for virtual, members in reversed(queues):  # the virtual connectors are the last indices
            grown = allocation.pop()
            self.routes.pop()
            del targets[virtual]
            for index in members:
                share = min(grown, targets[index] - allocation[index])
                if share <= 0:
                    break
                allocation[index] += share
                grown -= share
            if virtual in blocked:  # stopped by an asymmetry limit: its members may grow in a later round
                blocked.discard(virtual)
                blocked.update(i for i in members if allocation[i] < targets[i] - EPSILON)
            else:
                blocked.difference_update(members)


_TARGET, _CHECK = 0, 1  # the kinds of filling events: a connector reaches its target; a node's limit may be tight


class _Filling:
    """One progressive filling: time t runs from 0; a connector joins at its join time, and from then on its
    current is its start + weight * (t - join), until it is stopped.

    Every node knows how fast the load of each of its phases grows (the sum of its growing connectors' weights)
    and keeps one event in a heap: the earliest time one of its limits becomes tight at these rates. Events due at
    the same time are handled together and a node is rescheduled once per batch, so 5,000 connectors joining at
    once cost one rescheduling per node, not one per connector and node. When connectors stop, growth only slows,
    so a node's event can only come too early: it stays in the heap, and when it comes the node is checked and
    rescheduled if nothing is tight yet. Asymmetry limits are the exception (a connector stopping on the low phase
    makes the gap grow faster), so those nodes are rescheduled at once."""

    def __init__(self, allocation: _Allocation, weights: dict, targets: dict, joins: dict):
        self.a = allocation
        self.weights = weights  # connector -> growth per unit of time
        self.targets = targets
        self.joins = joins
        self.start = {index: allocation.allocation[index] for index in weights}
        self.growing: set[int] = set()
        self.t = 0.0
        slot_count = len(allocation.load)
        self.rate = [0.0] * slot_count  # load slot -> amps per unit of time
        self.settled_at = [0.0] * slot_count  # when each slot's load was last brought up to date
        self.version = [0] * (slot_count // 3)  # node -> its event in the heap that counts
        self.members = defaultdict(list)  # node -> connectors under it that grow or will
        routes = allocation.routes
        for index in weights:
            for node in routes[index].path:
                self.members[node].append(index)
        self.pending = sorted(weights, key=joins.__getitem__)  # stable: ties keep the most deserving first
        self.joined = 0
        self.events: list = []  # (time, sequence, kind, subject, version)
        self.sequence = 0

    def run(self) -> None:
        events, pending, joins = self.events, self.pending, self.joins
        while self.growing or self.joined < len(pending):
            at = joins[pending[self.joined]] if self.joined < len(pending) else math.inf
            if events and events[0][0] < at:
                at = events[0][0]
            self.t = max(self.t, at)
            dirty: set[int] = set()  # nodes whose growth changed: rescheduled once, after the batch
            while self.joined < len(pending) and joins[pending[self.joined]] <= self.t:
                self._join(pending[self.joined], dirty)
                self.joined += 1
            while events and events[0][0] <= self.t:
                _, _, kind, subject, version = heapq.heappop(events)
                if kind == _TARGET:
                    if subject in self.growing:
                        self._stop(subject, dirty)
                elif version == self.version[subject]:
                    self._check(subject, dirty)
            for node in dirty:
                self._schedule(node)

    def _settle(self, node: int) -> None:
        """Bring the node's loads up to the current time."""
        load, rate, settled_at, t = self.a.load, self.rate, self.settled_at, self.t
        for slot in range(3 * node, 3 * node + 3):
            load[slot] += rate[slot] * (t - settled_at[slot])
            settled_at[slot] = t

    def _join(self, index: int, dirty: set) -> None:
        # The hottest loop of all: each slot's load is brought up to date just before its rate changes.
        weight = self.weights[index]
        self.growing.add(index)
        rate, load, settled_at, t = self.rate, self.a.load, self.settled_at, self.t
        route = self.a.routes[index]
        for slot in route.slots:
            load[slot] += rate[slot] * (t - settled_at[slot])
            settled_at[slot] = t
            rate[slot] += weight
        dirty.update(route.path)
        self._push(t + (self.targets[index] - self.start[index]) / weight, _TARGET, index, 0)

    def _stop(self, index: int, dirty: set, by_asymmetry: bool = False) -> None:
        self.growing.discard(index)
        if by_asymmetry:
            self.a.blocked_by_asymmetry.add(index)
        else:
            self.a.blocked_by_asymmetry.discard(index)
        weight = self.weights[index]
        rate, load, settled_at, t = self.rate, self.a.load, self.settled_at, self.t
        self.a.allocation[index] = min(
            self.targets[index], self.start[index] + weight * max(0.0, t - self.joins[index])
        )
        route = self.a.routes[index]
        for slot in route.slots:
            load[slot] += rate[slot] * (t - settled_at[slot])
            settled_at[slot] = t
            rate[slot] -= weight
        # Slower growth can only delay a fuse or a power cap (their events stay and are checked when they come),
        # but it may hasten an asymmetry: those nodes are rescheduled.
        dirty.update(route.asymmetric_nodes)

    def _check(self, node: int, dirty: set) -> None:
        """The node's event came: stop the growing connectors that would break a limit that is tight now."""
        self._settle(node)
        dirty.add(node)
        a, rate, base = self.a, self.rate, 3 * node
        loads = a.load[base : base + 3]
        cap = a.phase_caps[node]
        if cap is not None:
            for phase in range(3):
                if self._tight(cap - loads[phase], rate[base + phase]):
                    a.saturated.add(base + phase)  # for good: loads only grow
                    self._stop_members(node, dirty, lambda phases, p=phase: p in phases)
        power_cap = a.power_caps[node]
        if power_cap is not None and self._tight(power_cap - sum(loads), rate[base] + rate[base + 1] + rate[base + 2]):
            a.saturated.update((base, base + 1, base + 2))
            self._stop_members(node, dirty, lambda phases: True)
        asymmetry = a.asymmetry_caps[node]
        if asymmetry is not None:
            for high, low in _PHASE_PAIRS:
                room = asymmetry - (loads[high] - loads[low])
                if self._tight(room, rate[base + high] - rate[base + low]):
                    self._stop_members(
                        node, dirty, lambda ps, h=high, lo=low: h in ps and lo not in ps, by_asymmetry=True
                    )

    def _tight(self, room: float, growth: float) -> bool:
        # Tight: it grows and has no room left, or so little that time would not move (floating point).
        return growth > EPSILON and (room <= EPSILON or self.t + room / growth <= self.t)

    def _stop_members(self, node: int, dirty: set, loads_it, by_asymmetry: bool = False) -> None:
        routes, growing = self.a.routes, self.growing
        for index in self.members[node]:
            if index in growing and loads_it(routes[index].phases):
                self._stop(index, dirty, by_asymmetry)

    def _schedule(self, node: int) -> None:
        """(Re)compute when the first limit of the node becomes tight at the current growth rates."""
        a, rate, settled_at, t, base = self.a, self.rate, self.settled_at, self.t, 3 * node
        rates = rate[base : base + 3]
        loads = [a.load[slot] + rate[slot] * (t - settled_at[slot]) for slot in range(base, base + 3)]
        soonest = math.inf
        cap = a.phase_caps[node]
        if cap is not None:
            for phase in range(3):
                if rates[phase] > EPSILON:
                    soonest = min(soonest, max(0.0, cap - loads[phase]) / rates[phase])
        power_cap = a.power_caps[node]
        if power_cap is not None and sum(rates) > EPSILON:
            soonest = min(soonest, max(0.0, power_cap - sum(loads)) / sum(rates))
        asymmetry = a.asymmetry_caps[node]
        if asymmetry is not None:
            for high, low in _PHASE_PAIRS:
                growth = rates[high] - rates[low]
                if growth > EPSILON:
                    soonest = min(soonest, max(0.0, asymmetry - (loads[high] - loads[low])) / growth)
        self.version[node] += 1
        if soonest < math.inf:
            self._push(t + soonest, _CHECK, node, self.version[node])

    def _push(self, at: float, kind: int, subject: int, version: int) -> None:
        # The sequence number orders events of the same time without comparing their subjects.
        self.sequence += 1
        heapq.heappush(self.events, (at, self.sequence, kind, subject, version))
