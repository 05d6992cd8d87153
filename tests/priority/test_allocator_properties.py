"""Properties of the load allocator on random site trees and demands (hypothesis): no limit exceeded; every
connector paused or between its minimum and its ceiling; higher priority served first; no power left unused while
someone wants it. The checks recompute every load from the answer, independently of the allocator's bookkeeping,
and judge "could it have had more?" by raising one connector with all others fixed."""

from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from priority.allocator import GRID_PHASES, ConnectorDemand, NodeLimit, allocate

TOLERANCE = 1e-6
NUDGE = 1e-3  # amps: "could have had more" means this much more breaks no limit
PHASE_SETS = [(1, 2, 3), (1,), (2,), (3,), (1, 2)]


@st.composite
def sites(draw, queues=False):
    """A random tree and demands; with queues, few nodes and phase sets and every need known, so that connectors
    with a known need under the same limits (the allocator's queues) are common."""
    count = draw(st.integers(1, 3 if queues else 8))
    nodes = []
    for index in range(count):
        parent = None if index == 0 else f"n{draw(st.integers(0, index - 1))}"
        nodes.append(
            NodeLimit(
                f"n{index}",
                parent,
                amps_per_phase=draw(st.one_of(st.none(), st.integers(6, 100).map(float))),
                max_kw=draw(st.one_of(st.none(), st.integers(4, 80).map(float))),
                max_asymmetry_amps=draw(st.one_of(st.none(), st.sampled_from([0.0, 10.0, 20.0]))),
            )
        )
    known = st.integers(0, 40_000).map(float)
    connectors = []
    for index in range(draw(st.integers(0, 14))):
        controllable = draw(st.booleans()) or draw(st.booleans())
        connectors.append(
            ConnectorDemand(
                f"c{index}",
                f"n{draw(st.integers(0, count - 1))}",
                max_amps=float(draw(st.sampled_from([16, 32, 63]))),
                min_amps=float(draw(st.sampled_from([6, 6, 8]))),
                phases=draw(st.sampled_from(PHASE_SETS[:2] if queues else PHASE_SETS)),
                wants_power=draw(st.booleans()) or draw(st.booleans()),
                controllable=controllable,
                fixed_amps=0.0 if controllable else float(draw(st.integers(0, 10))),
                priority=draw(st.integers(0, 1) if queues else st.integers(-2, 2)),
                usable_amps=draw(st.one_of(st.none(), st.integers(1, 40).map(float))),
                energy_needed_wh=draw(known if queues else st.one_of(st.none(), known)),
                seconds_left=draw(
                    st.integers(-600, 36_000).map(float)
                    if queues
                    else st.one_of(st.none(), st.integers(-600, 36_000).map(float))
                ),
            )
        )
    return nodes, connectors


any_site = st.one_of(sites(), sites(queues=True))


class Site:
    """Loads and limits recomputed from an answer."""

    def __init__(self, nodes, connectors, answer):
        self.nodes = {node.id: node for node in nodes}
        self.connectors = connectors
        self.answer = answer
        self.load = defaultdict(float)
        self.fixed_load = defaultdict(float)
        for connector in connectors:
            amps = connector.fixed_amps if not connector.controllable else answer[connector.key]
            for node_id in self.path(connector.node_id):
                for phase in connector.phases:
                    self.load[(node_id, phase)] += amps
                    if not connector.controllable:
                        self.fixed_load[(node_id, phase)] += amps

    def path(self, node_id):
        while node_id is not None:
            yield node_id
            node_id = self.nodes[node_id].parent_id

    def could_have_more(self, connector) -> bool:
        """Whether the connector could get more (its minimum if paused, a nudge if running) with every other
        connector as allocated, under every limit on its path, as the allocator's rules define them (an asymmetry
        or a fuse already broken by unsteered loads must not get worse)."""
        amps = self.answer[connector.key]
        if amps >= connector.ceiling() - TOLERANCE:
            return False
        extra = connector.min_amps if amps == 0 else NUDGE
        for node_id in self.path(connector.node_id):
            node = self.nodes[node_id]
            loads = {p: self.load[(node_id, p)] for p in GRID_PHASES}
            after = {p: loads[p] + (extra if p in connector.phases else 0.0) for p in GRID_PHASES}
            if node.amps_per_phase is not None and any(
                after[p] > node.amps_per_phase + TOLERANCE for p in connector.phases
            ):
                return False
            if node.max_kw is not None and sum(after.values()) > node.max_kw * 1000 / 230 + TOLERANCE:
                return False
            if node.max_asymmetry_amps is not None:
                for p in GRID_PHASES:
                    for q in GRID_PHASES:
                        if after[p] - after[q] > max(node.max_asymmetry_amps, loads[p] - loads[q]) + TOLERANCE:
                            return False
        return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_site)
def test_no_limit_is_exceeded_beyond_what_unsteered_loads_already_take(site):
    nodes, connectors = site
    checked = Site(nodes, connectors, allocate(nodes, connectors))
    for node in nodes:
        loads = {p: checked.load[(node.id, p)] for p in GRID_PHASES}
        fixed = {p: checked.fixed_load[(node.id, p)] for p in GRID_PHASES}
        if node.amps_per_phase is not None:
            for p in GRID_PHASES:
                assert loads[p] <= max(node.amps_per_phase, fixed[p]) + TOLERANCE
        if node.max_kw is not None:
            assert sum(loads.values()) <= max(node.max_kw * 1000 / 230, sum(fixed.values())) + TOLERANCE
        if node.max_asymmetry_amps is not None:
            worst_fixed = max(fixed[p] - fixed[q] for p in GRID_PHASES for q in GRID_PHASES)
            for p in GRID_PHASES:
                for q in GRID_PHASES:
                    assert loads[p] - loads[q] <= max(node.max_asymmetry_amps, worst_fixed) + TOLERANCE


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_site)
def test_each_connector_gets_nothing_or_between_its_minimum_and_its_ceiling(site):
    nodes, connectors = site
    answer = allocate(nodes, connectors)
    assert set(answer) == {c.key for c in connectors if c.controllable}
    for connector in connectors:
        if not connector.controllable:
            continue
        amps = answer[connector.key]
        if not connector.wants_power:
            assert amps == 0
        else:
            assert amps == 0 or connector.min_amps - TOLERANCE <= amps <= connector.ceiling() + TOLERANCE


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_site)
def test_a_connector_gets_more_than_its_minimum_only_if_no_higher_priority_could_have_had_more(site):
    nodes, connectors = site
    checked = Site(nodes, connectors, allocate(nodes, connectors, resolution=None))
    wanting = [c for c in connectors if c.controllable and c.wants_power]
    for lower in wanting:
        if checked.answer[lower.key] <= lower.min_amps + TOLERANCE:
            continue
        for higher in wanting:
            if higher.priority > lower.priority:
                assert not checked.could_have_more(higher), (higher.key, "could have more while", lower.key, "has")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_site)
def test_no_power_is_left_unused_while_a_connector_could_take_it(site):
    nodes, connectors = site
    checked = Site(nodes, connectors, allocate(nodes, connectors, resolution=None))
    for connector in connectors:
        if connector.controllable and connector.wants_power:
            assert not checked.could_have_more(connector), connector.key


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_site, st.integers(4, 60))
def test_a_peak_cap_limits_the_total_of_all_nodes(site, peak_cap_kw):
    nodes, connectors = site
    answer = allocate(nodes, connectors, peak_cap_kw=peak_cap_kw)
    checked = Site(nodes, connectors, answer)
    roots = [node.id for node in nodes if node.parent_id is None]
    total = sum(checked.load[(root, p)] for root in roots for p in GRID_PHASES)
    fixed = sum(checked.fixed_load[(root, p)] for root in roots for p in GRID_PHASES)
    assert total <= max(peak_cap_kw * 1000 / 230, fixed) + TOLERANCE
