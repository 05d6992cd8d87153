"""Benchmark: priority.allocator.allocate() on a large site, 10,000 connectors under a five-level tree.

    .venv/bin/python tests/benchmarks/bench_allocator.py [--connectors 10000] [--runs 20] [--seed 20261121]

The site (random but reproducible from --seed): a grid connection (per-phase fuse, kW cap, asymmetry limit) feeding
5 buildings, each with 4 floors of 4 wings of 5 parking lots (506 nodes, depth 5). Every node has a per-phase fuse,
sized below what its connectors could draw so that every level binds somewhere (lots 100-400 A, wings 800-1,600 A,
floors 3,000-6,000 A, buildings 10,000-20,000 A, the root 60,000 A and 36 MW); a third of the lots and every building
also carry an asymmetry limit (20 A and 100 A; the root 500 A). Connectors sit on the lots (90 %) or directly on
the wings (10 %): 55 % three-phase, 35 % single-phase and 10 % two-phase with random phase rotations, 16 or 32 A
(a few 63 A), priorities -2..2, 40 % with an energy need and a departure time, 3 % not controllable (counted with a
measured draw), 10 % not wanting power, 25 % with a usable current below their maximum (a vehicle seen to draw 10-20 A).

Measured: the wall time of one allocate() call (inputs built beforehand), after one warm-up call; median, p95 and
max over --runs calls. Checked on the answer, by recomputing every load independently of the allocator: no fuse,
kW cap or asymmetry limit exceeded (beyond what unsteered loads alone already take), and every connector paused or
between its minimum and its ceiling. Target: median below 100 ms.
"""

import argparse
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from priority.allocator import GRID_PHASES, ConnectorDemand, NodeLimit, allocate  # noqa: E402

VOLTAGE = 230.0
TOLERANCE = 1e-6
BUILDINGS, FLOORS, WINGS, LOTS = 5, 4, 4, 5
PHASE_SETS = {
    "three": [(1, 2, 3), (2, 3, 1), (3, 1, 2)],
    "one": [(1,), (2,), (3,)],
    "two": [(1, 2), (2, 3), (3, 1)],
}


def build_site(rng: random.Random, connector_count: int) -> tuple[list[NodeLimit], list[ConnectorDemand]]:
    nodes = [NodeLimit("grid", None, amps_per_phase=60_000.0, max_kw=36_000.0, max_asymmetry_amps=500.0)]
    lots, wings = [], []
    for b in range(BUILDINGS):
        building = f"b{b}"
        nodes.append(NodeLimit(building, "grid", amps_per_phase=rng.uniform(10_000, 20_000), max_asymmetry_amps=100.0))
        for f in range(FLOORS):
            floor = f"{building}.f{f}"
            nodes.append(NodeLimit(floor, building, amps_per_phase=rng.uniform(3_000, 6_000)))
            for w in range(WINGS):
                wing = f"{floor}.w{w}"
                wings.append(wing)
                nodes.append(NodeLimit(wing, floor, amps_per_phase=rng.uniform(800, 1_600)))
                for lot in range(LOTS):
                    lot_id = f"{wing}.l{lot}"
                    lots.append(lot_id)
                    asymmetry = 20.0 if rng.random() < 1 / 3 else None
                    nodes.append(
                        NodeLimit(lot_id, wing, amps_per_phase=rng.uniform(100, 400), max_asymmetry_amps=asymmetry)
                    )

    connectors = []
    for index in range(connector_count):
        kind = rng.choices(["three", "one", "two"], weights=[55, 35, 10])[0]
        max_amps = float(rng.choices([16, 32, 63], weights=[40, 55, 5])[0])
        controllable = rng.random() >= 0.03
        has_need = rng.random() < 0.4
        connectors.append(
            ConnectorDemand(
                key=index,
                node_id=rng.choice(lots) if rng.random() < 0.9 else rng.choice(wings),
                max_amps=max_amps,
                min_amps=6.0,
                phases=rng.choice(PHASE_SETS[kind]),
                wants_power=rng.random() >= 0.1,
                controllable=controllable,
                fixed_amps=0.0 if controllable else round(rng.uniform(0, max_amps), 1),
                priority=rng.choices([-2, -1, 0, 1, 2], weights=[5, 15, 60, 15, 5])[0],
                usable_amps=float(rng.randint(10, 20)) if rng.random() < 0.25 else None,
                energy_needed_wh=rng.uniform(0, 60_000) if has_need else None,
                seconds_left=rng.uniform(-600, 12 * 3600) if has_need else None,
            )
        )
    return nodes, connectors


def check(nodes: list[NodeLimit], connectors: list[ConnectorDemand], answer: dict) -> list[str]:
    """Every limit and bound the answer breaks, recomputed from scratch (empty: none)."""
    problems = []
    by_id = {node.id: node for node in nodes}
    load, fixed = defaultdict(float), defaultdict(float)
    for connector in connectors:
        if connector.controllable:
            amps = answer[connector.key]
            if not connector.wants_power and amps != 0:
                problems.append(f"connector {connector.key} does not want power but gets {amps} A")
            elif amps != 0 and not connector.min_amps - TOLERANCE <= amps <= connector.ceiling() + TOLERANCE:
                problems.append(f"connector {connector.key}: {amps} A outside its minimum and ceiling")
        else:
            amps = connector.fixed_amps
        node_id = connector.node_id
        while node_id is not None:
            for phase in connector.phases:
                load[(node_id, phase)] += amps
                if not connector.controllable:
                    fixed[(node_id, phase)] += amps
            node_id = by_id[node_id].parent_id
    for node in nodes:
        loads = [load[(node.id, p)] for p in GRID_PHASES]
        fixed_loads = [fixed[(node.id, p)] for p in GRID_PHASES]
        if node.amps_per_phase is not None:
            for phase, amps, fixed_amps in zip(GRID_PHASES, loads, fixed_loads, strict=True):
                if amps > max(node.amps_per_phase, fixed_amps) + TOLERANCE:
                    problems.append(f"{node.id} L{phase}: {amps:.1f} A > fuse {node.amps_per_phase:.1f} A")
        if node.max_kw is not None:
            kw = sum(loads) * VOLTAGE / 1000
            if kw > max(node.max_kw, sum(fixed_loads) * VOLTAGE / 1000) + TOLERANCE:
                problems.append(f"{node.id}: {kw:.1f} kW > cap {node.max_kw:.1f} kW")
        if node.max_asymmetry_amps is not None:
            spread, fixed_spread = max(loads) - min(loads), max(fixed_loads) - min(fixed_loads)
            if spread > max(node.max_asymmetry_amps, fixed_spread) + TOLERANCE:
                problems.append(f"{node.id}: phases {spread:.1f} A apart > limit {node.max_asymmetry_amps:.1f} A")
    return problems


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connectors", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20261121)
    args = parser.parse_args()

    nodes, connectors = build_site(random.Random(args.seed), args.connectors)
    answer = allocate(nodes, connectors, voltage=VOLTAGE)  # warm-up
    latencies = []
    for _ in range(args.runs):
        started = time.perf_counter()
        result = allocate(nodes, connectors, voltage=VOLTAGE)
        latencies.append((time.perf_counter() - started) * 1000)
        assert result == answer, "allocate() is not deterministic"

    problems = check(nodes, connectors, answer)
    wanting = [c for c in connectors if c.controllable and c.wants_power]
    running = [c for c in wanting if answer[c.key] > 0]
    at_ceiling = [c for c in running if answer[c.key] >= c.ceiling() - 0.1]
    total_kw = sum(answer[c.key] * len(c.phases) for c in running) * VOLTAGE / 1000
    depth = max(node.id.count(".") for node in nodes) + 2
    print(
        f"Site: {len(nodes):,} nodes, depth {depth}; {len(connectors):,} connectors "
        f"({sum(not c.controllable for c in connectors):,} not controllable, {len(wanting):,} wanting power)"
    )
    print(
        f"Answer: {len(running):,} charging ({len(at_ceiling):,} at their ceiling), "
        f"{len(wanting) - len(running):,} paused, {total_kw:,.0f} kW allocated"
    )
    print(
        f"allocate(), {args.runs} runs after a warm-up: median {statistics.median(latencies):.1f} ms   "
        f"p95 {percentile(latencies, 0.95):.1f} ms   max {max(latencies):.1f} ms   (target: < 100 ms)"
    )
    if problems:
        print(f"LIMITS EXCEEDED ({len(problems)}):")
        for problem in problems[:20]:
            print(f"  {problem}")
        sys.exit(1)
    print("Check: no fuse, kW cap or asymmetry limit exceeded; every connector paused or within its bounds")


if __name__ == "__main__":
    main()
