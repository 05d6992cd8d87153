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
import itertools
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
_PHASE_MASKS = {phases: sum(1 << phase for phase in phases) for phases in _OTHER_PHASES}


class _Route:
    """What a connector loads: the limited nodes from its own up to the root and its phases (indices 0-2); and,
    worked out once for the hot loops, the load slots (node number * 3 + phase index), those under a fuse, the
    power limits and the asymmetric nodes on the way with their slots, the phase gaps it can widen, the
    phases as a bit mask.

    A route extends the route of the same phases below the parent's path by the path's first node, so a site's
    routes cost a few tuples each, however deep the tree. There is one route per path and phases: connectors with
    the same route are under exactly the same limits (a queue, when their needs are known)."""

    __slots__ = (
        "path",
        "phases",
        "phase_mask",
        "slots",
        "fused_slots",
        "power_limits",
        "asymmetric_nodes",
        "asymmetric_slots",
        "asymmetry_gaps",
    )

    def __init__(self, allocation: "_Allocation", path: tuple[int, ...], phases: tuple[int, ...], above):
        """The route of these phases through the path; `above` is the route of the same phases through the path
        without its first node (None for the empty path)."""
        self.path = path
        self.phases = phases
        self.phase_mask = _PHASE_MASKS[phases]
        if above is None:
            self.slots = self.fused_slots = self.power_limits = self.asymmetric_nodes = self.asymmetric_slots = ()
            self.asymmetry_gaps = ()
            return
        node = path[0]
        base = 3 * node
        # The node's slots of these phases, written out: a comprehension would cost more than all the rest here.
        if len(phases) == 3:
            own_slots = (base, base + 1, base + 2)
        elif len(phases) == 1:
            own_slots = (base + phases[0],)
        else:
            own_slots = (base + phases[0], base + phases[1])
        self.slots = own_slots + above.slots
        # A slot without a fuse refuses nothing: only the fused slots are checked.
        fused = allocation.phase_caps[node] is not None
        if not fused:
            self.fused_slots = above.fused_slots
        elif above.fused_slots is above.slots:  # all fused, as is usual: the same tuple
            self.fused_slots = self.slots
        else:
            self.fused_slots = own_slots + above.fused_slots
        power_cap = allocation.power_caps[node]
        # (the node's first load slot, its cap with the tolerance added once)
        self.power_limits = (
            above.power_limits if power_cap is None else ((base, power_cap + EPSILON), *above.power_limits)
        )
        asymmetry = allocation.asymmetry_caps[node]
        if asymmetry is None:
            self.asymmetric_nodes = above.asymmetric_nodes
            self.asymmetric_slots = above.asymmetric_slots
            self.asymmetry_gaps = above.asymmetry_gaps
        else:
            self.asymmetric_nodes = (node, *above.asymmetric_nodes)
            self.asymmetric_slots = own_slots + above.asymmetric_slots
            # Only a gap from a phase it loads to one it does not can widen (none for a three-phase connector):
            # (high slot, low slot, the limit with the tolerance added once).
            if len(phases) < 3:
                limit = asymmetry + EPSILON
                gaps = [(base + phase, base + other, limit) for phase in phases for other in _OTHER_PHASES[phases]]
                self.asymmetry_gaps = tuple(gaps) + above.asymmetry_gaps
            else:
                self.asymmetry_gaps = above.asymmetry_gaps


class _Allocation:
    """The working state of one allocate() call. Nodes and connectors are numbered, and the loads live in a flat
    list indexed by node number * 3 + phase index: on a large site the filling touches them hundreds of thousands
    of times, and indexing a list is several times cheaper than a dictionary keyed by tuples. Only nodes that carry
    a limit are on a connector's path (the others constrain nothing). What the loops ask of a connector again and
    again (its minimum, its ceiling, its urgency target) is looked up once, in lists by connector number."""

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
        self.route_of_path: dict[tuple, _Route] = {}  # (the path's first node, phase indices) -> its route
        routes: dict = {}  # node id -> {grid phases -> its route}, shared by connectors alike
        phase_indices: dict[tuple, tuple] = {}  # grid phases -> phase indices, each distinct rotation checked once
        self.routes, self.ceilings, self.min_amps, self.controllable, self.wanting = [], [], [], [], []
        self.unsteered: list[int] = []  # the connectors we cannot steer (the others are controllable)
        add_route, add_ceiling, add_minimum = self.routes.append, self.ceilings.append, self.min_amps.append
        for index, connector in enumerate(connectors):
            node_routes = routes.get(connector.node_id)
            if node_routes is None:
                node_routes = routes[connector.node_id] = {}
            route = node_routes.get(connector.phases)
            if route is None:
                phases = phase_indices.get(connector.phases)
                if phases is None:
                    if not connector.phases or not set(connector.phases) <= set(GRID_PHASES):
                        raise ValueError(f"Connector {connector.key!r}: phases must be among {GRID_PHASES}")
                    phases = phase_indices[connector.phases] = tuple(sorted({p - 1 for p in connector.phases}))
                route = node_routes[connector.phases] = self._route(self._path(connector.node_id), phases)
            add_route(route)
            # connector.ceiling(), written out: min() and max() would cost more than all the rest of this loop.
            minimum, ceiling, usable = connector.min_amps, connector.max_amps, connector.usable_amps
            if usable is not None and usable < ceiling:
                ceiling = usable
            add_ceiling(ceiling if ceiling > minimum else minimum)
            add_minimum(minimum)
            if not connector.controllable:
                self.unsteered.append(index)
            else:
                self.controllable.append(index)
                if connector.wants_power:
                    self.wanting.append(index)
        # The node above every connector (the root, or the peak cap), if there is one: once its three phases are
        # full, nobody can grow any more.
        roots = {
            route.path[-1] if route.path else None for by_phases in routes.values() for route in by_phases.values()
        }
        root = roots.pop() if len(roots) == 1 else None
        self.common_slots = () if root is None else (3 * root, 3 * root + 1, 3 * root + 2)
        self.load = [0.0] * (3 * len(nodes))  # node number * 3 + phase index -> amps
        self.running = bytearray(len(connectors))  # whether it got its minimum, and so takes part in the filling
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

    def _route(self, path: tuple[int, ...], phases: tuple[int, ...]) -> _Route:
        """The route of these phases through the path, built on those through its tail (a path is known by its
        first node: the limited nodes above it follow)."""
        route_of_path = self.route_of_path
        route = route_of_path.get((path[0] if path else None, phases))
        if route is None:
            unbuilt = []  # the path and its tails that have no route yet, the longest first
            while route is None:
                unbuilt.append(path)
                if not path:
                    break
                path = path[1:]
                route = route_of_path.get((path[0] if path else None, phases))
            for tail in reversed(unbuilt):
                route = route_of_path[(tail[0] if tail else None, phases)] = _Route(self, tail, phases, route)
        return route

    def run(self) -> dict[Hashable, float]:
        connectors, voltage, allocation, ceilings = self.connectors, self.voltage, self.allocation, self.ceilings
        for index in self.unsteered:
            self._add(index, connectors[index].fixed_amps)
        self.fixed_load = list(self.load)
        tiers = self._tiers()
        need_given = self.need_given
        wanting = [index for tier in tiers.values() for index in tier]
        urgent: list[float | None] = [None] * len(connectors)  # each running connector's urgency current
        running = self.running
        # Rounds until nothing grows. One is enough without asymmetry limits; with them, a connector stopped because
        # its phase ran ahead may grow again once connectors on the other phases caught up, and the next round
        # gives that room to the highest priority first. Only such connectors, and those that just got their
        # minimum, can grow in a later round: a fuse, a power cap or a target that stopped one stays where it is,
        # as loads only grow. For the same reason a later round offers a minimum only to the connectors an
        # asymmetry limit held back.
        self.paused = wanting  # the connectors a round offers their minimum, most deserving first
        may_grow = None  # the first round: every running connector
        for _round in range(MAX_ROUNDS):
            self.blocked_by_asymmetry = set()
            grown, placed = self._place_minimums()
            for index in placed:
                if need_given[index]:
                    # connector.urgent_amps(voltage), written out with the ceiling already known
                    connector = connectors[index]
                    energy, seconds = connector.energy_needed_wh, connector.seconds_left
                    if energy <= 0:
                        urgent[index] = 0.0
                    elif seconds <= 0:
                        urgent[index] = ceilings[index]
                    else:
                        urgent[index] = energy * 3600 / seconds / (voltage * len(connector.phases))
            if may_grow is not None:
                may_grow.update(placed)
            for priority in sorted(tiers, reverse=True):
                if self._nobody_can_grow():
                    break  # the fillings of this round would find nobody to raise
                if may_grow is None:
                    tier = [i for i in tiers[priority] if running[i]]
                else:
                    tier = [i for i in tiers[priority] if running[i] and i in may_grow]
                targets = {}
                for index in tier:
                    need = urgent[index]
                    if need is not None and need > allocation[index] + EPSILON:
                        ceiling = ceilings[index]
                        targets[index] = need if need < ceiling else ceiling  # min(ceiling, need)
                grown += self._fill(list(targets), targets)
                if not self.expensive:
                    grown += self._fill(tier, ceilings)
            if grown <= GROWTH_EPSILON:
                break
            may_grow = self.blocked_by_asymmetry
        if not self.expensive:
            self._requeue(tiers)
        keys = [connectors[index].key for index in self.controllable]
        if not self.resolution:
            return dict(zip(keys, [allocation[index] for index in self.controllable], strict=True))
        answer = self._rounded(self.resolution)
        return dict(zip(keys, [answer[index] for index in self.controllable], strict=True))

    def _tiers(self) -> dict[int, list[int]]:
        """The connectors that want power, most deserving first: one tier per priority, the highest first, each
        in order of laxity (the least first, then in the order given). Also notes whose need is known (a finite
        laxity: they may be in a queue)."""
        connectors, voltage, ceilings = self.connectors, self.voltage, self.ceilings
        laxities = [math.inf] * len(connectors)
        self.need_given = need_given = bytearray(len(connectors))  # energy and departure both given
        self.need_known = need_known = bytearray(len(connectors))  # and a finite laxity: it may be in a queue
        by_priority: dict[int, list[int]] = {}
        comparable = True
        for index in self.wanting:
            connector = connectors[index]
            energy, seconds = connector.energy_needed_wh, connector.seconds_left
            if energy is not None and seconds is not None:
                need_given[index] = True
                # connector.laxity(voltage), written out with the ceiling already known
                laxity = seconds - energy * 3600 / (ceilings[index] * voltage * len(connector.phases))
                laxities[index] = laxity
                need_known[index] = laxity < math.inf
                comparable = comparable and laxity == laxity
            # else: an infinite laxity, as laxity() says
            tier = by_priority.get(connector.priority)
            if tier is None:
                tier = by_priority[connector.priority] = []
            tier.append(index)
        if comparable:
            # The order of sorting (-priority, laxity, index) tuples, at a fraction of the cost: a stable sort by
            # laxity within each priority keeps the order given among equals.
            return {
                priority: sorted(by_priority[priority], key=laxities.__getitem__)
                for priority in sorted(by_priority, reverse=True)
            }
        # A laxity that is not a number (NaN) compares unlike any other: the tuples themselves are sorted.
        order = sorted((-connectors[index].priority, laxities[index], index) for index in self.wanting)
        tiers: dict[int, list[int]] = {}
        for _priority, _laxity, index in order:
            tiers.setdefault(connectors[index].priority, []).append(index)
        return tiers

    def _rounded(self, step: float) -> list[float]:
        """The allocation rounded down to what a charging profile carries, as clean multiples of the step.
        Rounding down keeps every fuse and power cap, but it may widen a phase asymmetry (the low phase lost more
        to rounding than the high one): then connectors on the high phase and not the low one give up one step
        each, lowest priority first, until the limit holds again (one below its minimum is paused). Lowering only
        ever lowers loads, so it ends."""
        floor = math.floor
        steps = [floor(amps / step + EPSILON) for amps in self.allocation]
        inverse = 1 / step
        # Steps counted in binary floating point: give back clean multiples of the step, round(amps / step) /
        # (1 / step). For amps = k * step that is k / (1 / step): the quotient is within a few ulps of k, so it
        # rounds to k itself, as long as k is well below 2 ** 52.
        if max(steps, default=0) >= 2**50:
            return [round(k * step / step) / inverse for k in steps]
        answer = [k / inverse for k in steps]
        asymmetric = [node for node, cap in enumerate(self.asymmetry_caps) if cap is not None]
        if asymmetric:
            rounded = [k * step for k in steps]
            for index in self._repair_asymmetry(rounded, asymmetric, step):
                answer[index] = round(rounded[index] / step) / inverse
        return answer

    def _repair_asymmetry(self, rounded: list[float], asymmetric: list[int], step: float) -> set[int]:
        """Lower the rounded currents where rounding widened an asymmetry; returns the connectors lowered."""
        lowered_ones: set[int] = set()
        routes = self.routes
        load = list(self.fixed_load)  # only the asymmetric nodes' slots are kept up to date
        charging = [index for index in self.controllable if rounded[index] > 0]
        for index in charging:
            amps = rounded[index]
            for slot in routes[index].asymmetric_slots:
                load[slot] += amps
        members = None  # asymmetric node -> the connectors charging under it; only once a limit is found broken
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
                    if members is None:
                        members = defaultdict(list)
                        for index in charging:
                            for path_node in routes[index].asymmetric_nodes:
                                members[path_node].append(index)
                    candidates = [
                        index
                        for index in members[node]
                        if rounded[index] > 0 and high in routes[index].phases and low not in routes[index].phases
                    ]
                    if not candidates:
                        break
                    index = min(candidates, key=lambda i: (self.connectors[i].priority, -rounded[i]))
                    lowered = rounded[index] - step
                    if lowered < self.min_amps[index] - EPSILON:
                        lowered = 0.0
                    for slot in routes[index].asymmetric_slots:
                        load[slot] -= rounded[index] - lowered
                    rounded[index] = lowered
                    lowered_ones.add(index)
                    repaired = False
        return lowered_ones

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
        routes, need_known = self.routes, self.need_known
        groups: dict[_Route, list[int]] = {}
        for index in indices:
            if need_known[index]:
                route = routes[index]  # a route is built once for its path and phases
                group = groups.get(route)
                if group is None:
                    groups[route] = [index]
                else:
                    group.append(index)
        return list(groups.values())

    def _queue_shares(self, members: list[int], total: float) -> dict | None:
        """The queue's total handed out in the members' order, each up to its ceiling, a member starting only with
        its minimum; None where that cannot place it all (then the shares stay as the filling left them)."""
        min_amps, ceilings = self.min_amps, self.ceilings
        shares = dict.fromkeys(members, 0.0)
        served: list[int] = []
        rest = total
        for index in members:
            if rest <= EPSILON:
                break
            minimum = min_amps[index]
            if rest >= minimum - EPSILON:
                shares[index] = min(ceilings[index], rest)
            else:
                # Its minimum does not fit in what is left: those served before it give up the difference, the
                # last served first, down to their own minimums, if they can.
                needed = minimum - rest
                if sum(shares[i] - min_amps[i] for i in served) < needed - EPSILON:
                    return None
                for earlier in reversed(served):
                    given = min(needed, shares[earlier] - min_amps[earlier])
                    shares[earlier] -= given
                    needed -= given
                    if needed <= EPSILON:
                        break
                shares[index] = minimum
            rest -= shares[index]
            served.append(index)
        return shares if rest <= EPSILON else None

    def _place_minimums(self) -> tuple[float, list[int]]:
        """Each paused connector, most deserving first, gets its minimum if that fits under every limit. Returns
        how much was placed (at least a little for a minimum of 0 A) and who got a minimum; keeps, as the paused
        connectors of the next round, those an asymmetry limit held back (the others cannot fit later)."""
        placed_amps, placed, held_back = 0.0, [], []
        load, slot_limits, routes, min_amps = self.load, self.slot_limits, self.routes, self.min_amps
        allocation, running, least_growth = self.allocation, self.running, GROWTH_EPSILON * 2
        for index in self.paused:
            minimum = min_amps[index]
            route = routes[index]
            # Whether the minimum fits under every limit on the way, checked here and not in a method of the
            # route: this runs for every connector. A fuse or a power cap that refuses it refuses it for good.
            fits = True
            for slot in route.fused_slots:
                if load[slot] + minimum > slot_limits[slot]:
                    fits = False
                    break
            if fits and route.power_limits:
                added = minimum * len(route.phases)
                for base, limit in route.power_limits:
                    if load[base] + load[base + 1] + load[base + 2] + added > limit:
                        fits = False
                        break
            if not fits:
                continue
            # A gap may widen up to the limit, or not at all where it is already wider (loads we do not steer):
            # the raised gap must stay within max(limit, gap) + EPSILON, tested against each of the two.
            for high, low, limit in route.asymmetry_gaps:
                gap = load[high] - load[low]
                raised = gap + minimum
                if raised > limit and raised > gap + EPSILON:
                    fits = False
                    break
            if not fits:
                held_back.append(index)  # the gap may close as the other phases grow
                continue
            for slot in route.slots:
                load[slot] += minimum
            allocation[index] = minimum
            running[index] = True  # a minimum of 0 A counts as started too
            placed.append(index)
            placed_amps += least_growth if least_growth > minimum else minimum  # max(minimum, least_growth)
        self.paused = held_back
        return placed_amps, placed

    # Loads and limits

    def _add(self, index: int, amps: float) -> None:
        load = self.load
        for slot in self.routes[index].slots:
            load[slot] += amps

    # Progressive filling

    def _fill(self, tier: list[int], targets) -> float:
        """Raise the tier's connectors together towards their targets (by connector number) until each is stopped
        by its target or a tight limit: a water level rises from the lowest current, and a participant joins when
        it reaches its own current (max-min fairness); one connector, or one queue (from its lowest member)."""
        if self._nobody_can_grow():
            return 0.0
        allocation, saturated, routes = self.allocation, self.saturated, self.routes
        before = sum([allocation[index] for index in tier])
        # One under a fuse or power cap that is already full cannot grow: it would join and stop at once. Many
        # connectors share a route, which is looked at once.
        growing = []
        clear: dict[_Route, bool] = {}  # route -> whether none of its slots is full
        for index in tier:
            if targets[index] - allocation[index] > EPSILON:
                route = routes[index]
                route_clear = clear.get(route)
                if route_clear is None:
                    route_clear = clear[route] = saturated.isdisjoint(route.slots)
                if route_clear:
                    growing.append(index)
        if not growing:
            return 0.0
        queues = self._queues(growing)
        targets = {index: targets[index] for index in growing}  # and the queues' virtual connectors
        levels = {index: allocation[index] for index in growing}
        for virtual, members in queues:
            for index in members:
                del levels[index]
            targets[virtual] = sum(targets[index] - allocation[index] for index in members)
            levels[virtual] = min(allocation[index] for index in members)
        lowest = min(levels.values())
        joins = {index: level - lowest for index, level in levels.items()}
        _Filling(self, targets, joins).run()
        if queues:
            self._split(queues, targets)
        return sum([allocation[index] for index in tier]) - before

    def _nobody_can_grow(self) -> bool:
        """Whether the three phases of the node above every connector are full (then every route has a full slot)."""
        return bool(self.common_slots) and self.saturated.issuperset(self.common_slots)

    def _queues(self, growing: list[int]) -> list[tuple[int, list[int]]]:
        """The growing connectors' queues of two or more, each with a virtual connector for the filling: an index
        past the real ones, with its members' route and an allocation of 0."""
        queues = []
        for members in self._by_route(growing):
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


def _tight(t: float, room: float, growth: float) -> bool:
    # Tight: it grows and has no room left, or so little that time would not move (floating point).
    return growth > EPSILON and (room <= EPSILON or t + room / growth <= t)


class _Filling:
    """One progressive filling: time t runs from 0; a participant joins at its join time, and from then on its
    current is its start + (t - join), until it is stopped: all grow at the same speed.

    Every node knows how fast the load of each of its phases grows (the number of growing participants on that
    phase under it) and keeps one event in a heap: the earliest time one of its limits becomes tight at these
    rates. Events due at the same time are handled together and a node is rescheduled once per batch, so 5,000
    connectors joining at once cost one rescheduling per node, not one per connector and node. When connectors
    stop, growth only slows, so a node's event can only come too early: it stays in the heap, and when it comes the
    node is checked and rescheduled if nothing is tight yet. Asymmetry limits are the exception (a connector
    stopping on the low phase makes the gap grow faster), so those nodes are rescheduled at once."""

    def __init__(self, allocation: _Allocation, targets: dict, joins: dict):
        self.a = allocation
        self.targets = targets
        self.joins = joins  # participant -> its join time, in the order of the tier (queues last)
        current = allocation.allocation
        self.start = {index: current[index] for index in joins}
        self.growing: set[int] = set()
        self.t = 0.0
        slot_count = len(allocation.load)
        self.rate = [0] * slot_count  # load slot -> amps per unit of time: its growing participants
        self.settled_at = [0.0] * slot_count  # when each slot's load was last brought up to date
        self.version = [0] * (slot_count // 3)  # node -> its event in the heap that counts
        # node -> participants under it that grow or will, in the tier's order
        self.members = members = [[] for _ in range(slot_count // 3)]
        routes = allocation.routes
        for index in joins:
            for node in routes[index].path:
                members[node].append(index)
        self.pending = sorted(joins, key=joins.__getitem__)  # stable: ties keep the most deserving first
        self.rank: dict | None = None  # participant -> its place in the tier's order, once needed
        self.events: list = []  # (time, sequence, kind, subject, version)
        self.sequence = itertools.count()  # orders events of the same time without comparing their subjects

    def run(self) -> None:
        load, routes, rate, settled_at = self.a.load, self.a.routes, self.rate, self.settled_at
        targets, start, joins, growing = self.targets, self.start, self.joins, self.growing
        events, pending, version, sequence = self.events, self.pending, self.version, self.sequence
        heappush, heappop = heapq.heappush, heapq.heappop
        joined, waiting, t = 0, len(pending), self.t
        while growing or joined < waiting:
            at = joins[pending[joined]] if joined < waiting else math.inf
            if events and events[0][0] < at:
                at = events[0][0]
            if at > t:
                t = self.t = at
            dirty: set[int] = set()  # nodes whose growth changed: rescheduled once, after the batch
            while joined < waiting and joins[pending[joined]] <= t:
                # The hottest loop of all: each slot's load is brought up to date just before its rate changes.
                index = pending[joined]
                joined += 1
                growing.add(index)
                route = routes[index]
                for slot in route.slots:
                    growth = rate[slot]
                    if growth:  # (nothing grew there if nobody did)
                        load[slot] += growth * (t - settled_at[slot])
                    settled_at[slot] = t
                    rate[slot] = growth + 1
                dirty.update(route.path)
                heappush(events, (t + (targets[index] - start[index]), next(sequence), _TARGET, index, 0))
            while events and events[0][0] <= t:
                _, _, kind, subject, event_version = heappop(events)
                if kind == _TARGET:
                    if subject in growing:
                        self._stop(subject, dirty)
                elif event_version == version[subject]:
                    self._check(subject, dirty)
            for node in dirty:
                self._schedule(node)

    def _stop(self, index: int, dirty: set, by_asymmetry: bool = False) -> None:
        a, t = self.a, self.t
        self.growing.discard(index)
        if by_asymmetry:
            a.blocked_by_asymmetry.add(index)
        else:
            a.blocked_by_asymmetry.discard(index)
        # min(target, start + max(0.0, t - join)), written out: this runs for every participant.
        grown = t - self.joins[index]
        amps = self.start[index] + (grown if grown > 0.0 else 0.0)
        target = self.targets[index]
        a.allocation[index] = amps if amps < target else target
        rate, load, settled_at = self.rate, a.load, self.settled_at
        route = a.routes[index]
        for slot in route.slots:
            load[slot] += rate[slot] * (t - settled_at[slot])
            settled_at[slot] = t
            rate[slot] -= 1
        # Slower growth can only delay a fuse or a power cap (their events stay and are checked when they come),
        # but it may hasten an asymmetry: those nodes are rescheduled.
        dirty.update(route.asymmetric_nodes)

    def _check(self, node: int, dirty: set) -> None:
        """The node's event came: stop the growing connectors that would break a limit that is tight now."""
        a, rate, settled_at, t, base = self.a, self.rate, self.settled_at, self.t, 3 * node
        load = a.load
        for slot in range(base, base + 3):  # the node's loads brought up to the current time
            load[slot] += rate[slot] * (t - settled_at[slot])
            settled_at[slot] = t
        dirty.add(node)
        loads = load[base : base + 3]
        cap = a.phase_caps[node]
        if cap is not None:
            for phase in range(3):
                if _tight(t, cap - loads[phase], rate[base + phase]):
                    a.saturated.add(base + phase)  # for good: loads only grow
                    self._stop_members(node, dirty, 1 << phase, 1 << phase)  # those on the phase
        power_cap = a.power_caps[node]
        if power_cap is not None and _tight(t, power_cap - sum(loads), rate[base] + rate[base + 1] + rate[base + 2]):
            a.saturated.update((base, base + 1, base + 2))
            self._stop_members(node, dirty, 0, 0)  # all
        asymmetry = a.asymmetry_caps[node]
        if asymmetry is not None:
            for high, low in _PHASE_PAIRS:
                room = asymmetry - (loads[high] - loads[low])
                if _tight(t, room, rate[base + high] - rate[base + low]):
                    # Those on the high phase and not on the low one.
                    self._stop_members(node, dirty, (1 << high) | (1 << low), 1 << high, by_asymmetry=True)

    def _stop_members(self, node: int, dirty: set, test: int, loads_it: int, by_asymmetry: bool = False) -> None:
        """Stop the growing participants under the node whose phases, as a bit mask, give `loads_it` under `test`,
        in the tier's order."""
        routes, growing, members = self.a.routes, self.growing, self.members[node]
        if 4 * len(growing) < len(members):
            # Few still grow (the node's limit keeps stopping those who join): those are looked at, not them all.
            if self.rank is None:
                self.rank = {index: position for position, index in enumerate(self.joins)}
            candidates = sorted([i for i in growing if node in routes[i].path], key=self.rank.__getitem__)
        else:
            candidates = [i for i in members if i in growing]
        for index in candidates:
            if routes[index].phase_mask & test == loads_it:
                self._stop(index, dirty, by_asymmetry)

    def _schedule(self, node: int) -> None:
        """(Re)compute when the first limit of the node becomes tight at the current growth rates."""
        a, rate, settled_at, t, base = self.a, self.rate, self.settled_at, self.t, 3 * node
        load = a.load
        # Whole numbers: a rate counts the participants growing on the phase.
        r0, r1, r2 = rate[base], rate[base + 1], rate[base + 2]
        self.version[node] += 1  # the node's earlier event no longer counts
        if not (r0 or r1 or r2):
            return  # nothing grows there: no limit can become tight
        l0 = load[base] + r0 * (t - settled_at[base])
        l1 = load[base + 1] + r1 * (t - settled_at[base + 1])
        l2 = load[base + 2] + r2 * (t - settled_at[base + 2])
        # Each wait is max(0.0, room) / growth, the earliest counts; written out, as this runs thousands of times.
        soonest = math.inf
        cap = a.phase_caps[node]
        if cap is not None:
            if r0:
                room = cap - l0
                wait = (room if room > 0.0 else 0.0) / r0
                if wait < soonest:
                    soonest = wait
            if r1:
                room = cap - l1
                wait = (room if room > 0.0 else 0.0) / r1
                if wait < soonest:
                    soonest = wait
            if r2:
                room = cap - l2
                wait = (room if room > 0.0 else 0.0) / r2
                if wait < soonest:
                    soonest = wait
        power_cap = a.power_caps[node]
        if power_cap is not None and (r0 or r1 or r2):
            room = power_cap - sum((l0, l1, l2))
            wait = (room if room > 0.0 else 0.0) / (r0 + r1 + r2)
            if wait < soonest:
                soonest = wait
        asymmetry = a.asymmetry_caps[node]
        if asymmetry is not None and not r0 == r1 == r2:  # (a gap grows only if the phases grow unevenly)
            loads, rates = (l0, l1, l2), (r0, r1, r2)
            for high, low in _PHASE_PAIRS:
                growth = rates[high] - rates[low]
                if growth > 0:
                    room = asymmetry - (loads[high] - loads[low])
                    wait = (room if room > 0.0 else 0.0) / growth
                    if wait < soonest:
                        soonest = wait
        if soonest < math.inf:
            heapq.heappush(self.events, (t + soonest, next(self.sequence), _CHECK, node, self.version[node]))
