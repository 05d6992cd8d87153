"""The allocator's golden answers: 80 random sites (40 seeds, each in a normal and in an expensive time-of-use
window) and what allocate() answered on them, kept in tests/priority/data/allocator_golden.json.gz and checked by
test_allocator_golden.py, so that a change meant to make the allocator faster cannot change an answer unnoticed.

    .venv/bin/python tests/priority/make_allocator_golden.py [--allocator path/to/allocator.py]

Regenerate only when an answer is meant to change (and say why in the commit). --allocator takes the answers from
another copy of the module (say the committed one: git show HEAD:priority/allocator.py > /tmp/allocator_orig.py),
so a working tree with the allocator already edited can still record the answers of the one before.

The sites are built from the seed alone (random.Random), modest in size (5-300 connectors) and shaped to reach every
rule: random trees 1-5 levels deep with some nodes unlimited and some roots side by side, fuses, kW caps and
asymmetry limits (0-50 A) sized below what the connectors under them could draw so that they bind; connectors on
one, two or three phases in every rotation, minimums of 0, 6 and 8 A, priorities -2..2, needs and departures
(some due already, some with nothing left to charge), usable currents below the maximum or below the minimum,
loads we cannot steer; queues (one node, few phase sets, every need known); a scaled-down benchmark site
(tests/benchmarks/bench_allocator.py); a peak cap on some sites, the window's cap on half the expensive ones. Each
site is recorded twice: rounded to 0.1 A as the caller gets it, and unrounded (resolution=None), which shows any
change in the filling itself.
"""

import argparse
import gzip
import hashlib
import importlib.util
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from priority.allocator import ConnectorDemand, NodeLimit  # noqa: E402
from tests.benchmarks import bench_allocator  # noqa: E402

GOLDEN = Path(__file__).with_name("data") / "allocator_golden.json.gz"
SEEDS = range(40)
DIGITS = 9  # amps are recorded rounded to 1e-9 A
PHASE_SETS = [(1, 2, 3), (2, 3, 1), (3, 1, 2), (1,), (2,), (3,), (1, 2), (2, 3), (3, 1), (1, 3)]
SHAPES = ["tree", "queues", "tree", "flat", "bench"]


def build_case(seed: int, expensive: bool) -> dict:
    """The site of this seed (the same in both windows) and the arguments allocate() gets."""
    rng = random.Random(seed)
    shape = SHAPES[seed % len(SHAPES)]
    voltage = 230.0 if rng.random() < 0.8 else 240.0
    if shape == "bench":
        nodes, connectors = bench_allocator.build_site(rng, rng.randint(150, 300))
    else:
        nodes, connectors = _random_site(rng, shape)
    demand_kw = sum(c.ceiling() * len(c.phases) for c in connectors) * voltage / 1000
    peak_cap_kw = round(demand_kw * rng.uniform(0.2, 0.9), 1) if rng.random() < 0.25 else None
    # The time-of-use window's own draws, so that the site is the same in both windows.
    window = random.Random(f"{seed} window")
    if expensive and peak_cap_kw is None and window.random() < 0.5:
        peak_cap_kw = round(demand_kw * window.uniform(0.1, 0.6), 1)
    return {
        "nodes": nodes,
        "connectors": connectors,
        "voltage": voltage,
        "peak_cap_kw": peak_cap_kw,
        "expensive": expensive,
    }


def _random_site(rng: random.Random, shape: str) -> tuple[list[NodeLimit], list[ConnectorDemand]]:
    if shape == "queues":
        node_count, connector_count, need_share = rng.randint(1, 3), rng.randint(5, 60), 0.95
        phase_sets = rng.sample(PHASE_SETS, 2)
    elif shape == "flat":
        node_count, connector_count, need_share = 1, rng.randint(5, 150), 0.5
        phase_sets = PHASE_SETS
    else:
        node_count, connector_count, need_share = rng.randint(2, 40), rng.randint(5, 300), 0.4
        phase_sets = PHASE_SETS
    depth = rng.randint(1, 5)
    parents, levels = [None], [0]
    for _ in range(1, node_count):
        if rng.random() < 0.05:  # another root, side by side with the first
            parents.append(None)
            levels.append(0)
            continue
        parent = rng.choice([n for n, level in enumerate(levels) if level < depth - 1] or [0])
        parents.append(parent)
        levels.append(levels[parent] + 1)

    connectors, placed = [], []
    for index in range(connector_count):
        max_amps = float(rng.choice([10, 16, 16, 20, 32, 32, 63]))
        controllable = rng.random() >= 0.07
        has_need = rng.random() < need_share
        energy = (0.0 if rng.random() < 0.05 else rng.uniform(0, 60_000)) if has_need else None
        seconds_left = rng.uniform(-600, 12 * 3600) if has_need else None
        if has_need and rng.random() < 0.05:  # one of the two not known: no need
            energy, seconds_left = (None, seconds_left) if rng.random() < 0.5 else (energy, None)
        node = rng.randrange(node_count)
        placed.append(node)
        connectors.append(
            ConnectorDemand(
                key=f"c{index}",
                node_id=f"n{node}",
                max_amps=max_amps,
                min_amps=float(rng.choice([0, 6, 6, 6, 8])),
                phases=rng.choice(phase_sets),
                wants_power=rng.random() >= 0.1,
                controllable=controllable,
                fixed_amps=0.0 if controllable or rng.random() < 0.2 else round(rng.uniform(0, max_amps), 1),
                priority=rng.choices([-2, -1, 0, 1, 2], weights=[5, 15, 60, 15, 5])[0],
                usable_amps=float(rng.randint(1, 40)) if rng.random() < 0.25 else None,
                energy_needed_wh=energy,
                seconds_left=seconds_left,
            )
        )

    # What the connectors under each node could draw per phase, so that its limits can be sized to bind.
    demand = [[0.0, 0.0, 0.0] for _ in range(node_count)]
    for connector, node in zip(connectors, placed, strict=True):
        while node is not None:
            for phase in connector.phases:
                demand[node][phase - 1] += connector.ceiling()
            node = parents[node]
    nodes = []
    for number in range(node_count):
        if rng.random() < 0.15:  # no limit at all: constrains nothing
            fuse = kw = asymmetry = None
        else:
            busiest = max(max(demand[number]), 6.0)
            fuse = float(round(busiest * rng.uniform(0.15, 1.1))) if rng.random() < 0.75 else None
            total_kw = max(sum(demand[number]), 6.0) * 230 / 1000
            kw = round(total_kw * rng.uniform(0.2, 1.1), 1) if rng.random() < 0.3 else None
            asymmetry = rng.choice([0.0, 5.0, 10.0, 20.0, 50.0]) if rng.random() < 0.35 else None
        parent = parents[number]
        nodes.append(
            NodeLimit(
                f"n{number}",
                None if parent is None else f"n{parent}",
                amps_per_phase=fuse,
                max_kw=kw,
                max_asymmetry_amps=asymmetry,
            )
        )
    rng.shuffle(nodes)  # the allocator must not rely on parents coming first
    return nodes, connectors


def fingerprint(case: dict) -> str:
    """A digest of the inputs, so that a changed site builder is told apart from a changed allocator."""
    inputs = repr((case["nodes"], case["connectors"], case["voltage"], case["peak_cap_kw"], case["expensive"]))
    return hashlib.sha256(inputs.encode()).hexdigest()[:16]


def answers(allocate, case: dict) -> dict:
    """What allocate() answers on the case, rounded as the caller gets it and unrounded, keys as strings."""
    arguments = {"voltage": case["voltage"], "peak_cap_kw": case["peak_cap_kw"], "expensive": case["expensive"]}
    rounded = allocate(case["nodes"], case["connectors"], **arguments)
    exact = allocate(case["nodes"], case["connectors"], resolution=None, **arguments)
    return {
        "rounded": {str(key): round(amps, DIGITS) for key, amps in rounded.items()},
        "exact": {str(key): round(amps, DIGITS) for key, amps in exact.items()},
    }


def cases():
    for seed in SEEDS:
        for expensive in (False, True):
            yield seed, expensive, build_case(seed, expensive)


def load_allocate(path: str | None):
    if path is None:
        from priority.allocator import allocate

        return allocate
    spec = importlib.util.spec_from_file_location("allocator_under_record", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.allocate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--allocator", help="the allocator module to take the answers from (default: priority's)")
    args = parser.parse_args()
    allocate = load_allocate(args.allocator)
    golden = [
        {"seed": seed, "expensive": expensive, "fingerprint": fingerprint(case), **answers(allocate, case)}
        for seed, expensive, case in cases()
    ]
    GOLDEN.parent.mkdir(exist_ok=True)
    # mtime=0: the same answers give the same bytes.
    with open(GOLDEN, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as file:
        file.write(json.dumps(golden, indent=0).encode())
    connectors = sum(len(entry["exact"]) for entry in golden)
    print(f"{len(golden)} sites, {connectors:,} controllable connectors: {GOLDEN} ({GOLDEN.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
