"""Properties of the load allocator on random site trees and demands (hypothesis): no limit exceeded, and every
connector paused or between its minimum and its ceiling. The checks recompute every load from the answer,
independently of the allocator's own bookkeeping."""

from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from priority.allocator import GRID_PHASES, ConnectorDemand, NodeLimit, allocate

TOLERANCE = 1e-6
PHASE_SETS = [(1, 2, 3), (1,), (2,), (3,), (1, 2)]


@st.composite
def sites(draw):
    count = draw(st.integers(1, 8))
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
    connectors = []
    for index in range(draw(st.integers(0, 14))):
        controllable = draw(st.booleans()) or draw(st.booleans())
        connectors.append(
            ConnectorDemand(
                f"c{index}",
                f"n{draw(st.integers(0, count - 1))}",
                max_amps=float(draw(st.sampled_from([16, 32, 63]))),
                min_amps=float(draw(st.sampled_from([6, 6, 8]))),
                phases=draw(st.sampled_from(PHASE_SETS)),
                wants_power=draw(st.booleans()) or draw(st.booleans()),
                controllable=controllable,
                fixed_amps=0.0 if controllable else float(draw(st.integers(0, 10))),
                priority=draw(st.integers(-2, 2)),
                usable_amps=draw(st.one_of(st.none(), st.integers(1, 40).map(float))),
                energy_needed_wh=draw(st.one_of(st.none(), st.integers(0, 40_000).map(float))),
                seconds_left=draw(st.one_of(st.none(), st.integers(-600, 36_000).map(float))),
            )
        )
    return nodes, connectors


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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sites())
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
@given(sites())
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
