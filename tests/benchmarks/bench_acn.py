"""Benchmark: Powerfill's allocator against classic schedulers and the offline optimum on real sessions (ACN-Data).

    .venv/bin/python tests/benchmarks/bench_acn.py [--capacities 30,40,50,60,80,100,140] [--days 31]
                                                   [--min-amps 0,6] [--no-optimum] [--allocator /tmp/variant.py]

Data: the 954 sessions of the Caltech garage in March 2019 (tests/benchmarks/data/acn/, with its licence and README):
47 stations of 6.6 kW at 208 V (31.7 A), 5-minute periods, each session with arrival, departure and requested energy.

The electrical model. The garage is fed three-phase; its stations are connected line to line (208 V). The data has
no phase column, so the stations, sorted by id, are assigned round-robin to the phase pairs L1-L2, L2-L3, L3-L1. A
station drawing I amps adds I to the current of both lines it uses, and a line's current is the arithmetic sum of
what its stations draw: Powerfill's model of a connector on two grid phases, an upper bound of the phasor sum
(|I_ab - I_ca| <= I_ab + I_ca), so a limit held in this model holds on the real lines. The grid connection has one
limit, in amps per line, swept by --capacities from tight (about half of the requested energy deliverable) to loose
(nearly all of it). Site power is 208 V times the sum of the station currents; for the allocator, which counts
power as voltage times the sum of phase currents, that is a voltage of 104 V (208 / 2) on two phases, which also
makes its urgency current (energy / time / voltage / phases) exact.

The simulation, per capacity and per scheduler, period by period: the sessions present (arrival <= t < departure)
are scheduled knowing their remaining requested energy and their departure (as in the ACN-Sim comparison), and
nothing of the future. Each gets a current; a vehicle draws at most what completes its request within the period,
and never more than it is given. Schedulers:
    equal share   max-min fair share (progressive filling) up to each vehicle's ceiling: ACN-Sim's round robin
    EDF           earliest deadline first: by departure, each gets as much as still fits under its two lines
    LLF           least laxity first: the same, by laxity (time left minus time to finish at full rate)
    powerfill     priority.allocator.allocate(), once with a minimum current of 0 A and once with 6 A (IEC 61851 /
                  J1772 pilots cannot go lower; the others are continuous down to 0), usable_amps = the current
                  that completes the request within the period, energy_needed_wh and seconds_left as above
    optimum       the offline optimum: a linear program (scipy linprog, HiGHS) that knows every session in advance
                  and maximises the energy delivered before departures under the same line limits and station
                  rate; solved exactly per connected component of overlapping sessions (independent sub-problems)

Metrics per scheduler: % of the requested energy delivered before departure; peak site power (kW); phase unbalance
(largest minus smallest line current, max and mean over the periods with any load); Jain's fairness index over the
sessions' delivered/requested ratios; limit violations (periods where a line current or a station current exceeds
its limit, recomputed from the currents given, which are never below what is drawn); the scheduler's run time. The
optimum's peak and unbalance are those of one optimal schedule among many (the LP only maximises energy). Printed:
a table per capacity and the mean over the sweep. Targets (issue 4): Powerfill within 1 percentage point of the
optimum on average over the sweep, at or above LLF, and no violations. --allocator runs a modified copy of
priority/allocator.py next to the real one (with the same inputs), to measure a change before making it.
"""

import argparse
import csv
import math
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import priority.allocator  # noqa: E402

DATA = Path(__file__).with_name("data") / "acn" / "caltech_2019-03_sessions.csv"
PERIOD_HOURS = 5 / 60
LINE_VOLTAGE = 208.0
ALLOCATOR_VOLTAGE = LINE_VOLTAGE / 2  # per phase of a two-phase connector: power = 104 V * (I + I)
PERIODS_PER_DAY = 288
PHASE_PAIRS = [(1, 2), (2, 3), (3, 1)]
TOLERANCE = 1e-6
DEFAULT_CAPACITIES = "30,40,50,60,80,100,140"


@dataclass
class Session:
    index: int
    station: str
    phases: tuple[int, int]
    arrival: int
    departure: int  # exclusive: the first period the vehicle is gone
    requested_kwh: float
    max_amps: float


def load_sessions(days: int | None) -> list[Session]:
    with DATA.open(newline="") as file:
        rows = list(csv.DictReader(file))
    stations = sorted({row["station_id"] for row in rows})
    phases = {station: PHASE_PAIRS[i % len(PHASE_PAIRS)] for i, station in enumerate(stations)}
    sessions = []
    for row in rows:
        arrival = int(row["arrival_period"])
        if days is not None and arrival >= days * PERIODS_PER_DAY:
            continue
        sessions.append(
            Session(
                index=len(sessions),
                station=row["station_id"],
                phases=phases[row["station_id"]],
                arrival=arrival,
                departure=int(row["departure_period"]),
                requested_kwh=float(row["requested_kwh"]),
                max_amps=float(row["max_power_kw"]) * 1000 / LINE_VOLTAGE,
            )
        )
    return sessions


def kwh(amps: float) -> float:
    """Energy of one period at this current."""
    return amps * LINE_VOLTAGE * PERIOD_HOURS / 1000


# Online schedulers: (present sessions, remaining kWh by index, period, capacity) -> amps by index.


def ceilings(present: list[Session], remaining: dict) -> dict:
    """What each vehicle can usefully draw this period: its station's rate, or less to finish its request."""
    return {s.index: min(s.max_amps, remaining[s.index] / kwh(1.0)) for s in present}


def greedy(order: list[Session], ceiling: dict, capacity: float) -> dict:
    room = dict.fromkeys((1, 2, 3), capacity)
    amps = {}
    for s in order:
        amps[s.index] = max(0.0, min(ceiling[s.index], *(room[p] for p in s.phases)))
        for p in s.phases:
            room[p] -= amps[s.index]
    return amps


def edf(present, remaining, t, capacity):
    order = sorted(present, key=lambda s: (s.departure, s.arrival, s.index))
    return greedy(order, ceilings(present, remaining), capacity)


def llf(present, remaining, t, capacity):
    def laxity(s):
        return (s.departure - t) - remaining[s.index] / kwh(s.max_amps)

    order = sorted(present, key=lambda s: (laxity(s), s.departure, s.index))
    return greedy(order, ceilings(present, remaining), capacity)


def equal_share(present, remaining, t, capacity):
    """Max-min fair: all grow together; one stops at its ceiling or when one of its lines is full."""
    ceiling = ceilings(present, remaining)
    amps = dict.fromkeys(ceiling, 0.0)
    growing = {s.index: s for s in present if ceiling[s.index] > TOLERANCE}
    room = dict.fromkeys((1, 2, 3), capacity)
    while growing:
        count = defaultdict(int)
        for s in growing.values():
            for p in s.phases:
                count[p] += 1
        step = min(min(room[p] / n for p, n in count.items()), min(ceiling[i] - amps[i] for i in growing))
        step = max(step, 0.0)
        for i in growing:
            amps[i] += step
        for p, n in count.items():
            room[p] -= step * n
        full = {p for p in count if room[p] <= TOLERANCE}
        growing = {
            i: s for i, s in growing.items() if ceiling[i] - amps[i] > TOLERANCE and not full.intersection(s.phases)
        }
    return amps


def powerfill(min_amps: float, allocator=priority.allocator):
    def schedule(present, remaining, t, capacity):
        ceiling = ceilings(present, remaining)
        connectors = [
            allocator.ConnectorDemand(
                key=s.index,
                node_id="grid",
                max_amps=s.max_amps,
                min_amps=min_amps,
                phases=s.phases,
                usable_amps=ceiling[s.index],
                energy_needed_wh=remaining[s.index] * 1000,
                seconds_left=(s.departure - t) * PERIOD_HOURS * 3600,
            )
            for s in present
            if ceiling[s.index] > TOLERANCE
        ]
        nodes = [allocator.NodeLimit("grid", None, amps_per_phase=capacity)]
        answer = allocator.allocate(nodes, connectors, voltage=ALLOCATOR_VOLTAGE)
        return {s.index: answer.get(s.index, 0.0) for s in present}

    return schedule


@dataclass
class Result:
    delivered: dict  # session index -> kWh
    line_amps: list  # per period with load: (L1, L2, L3) drawn
    site_kw: list  # per period with load
    violations: int
    seconds: float


def simulate(sessions: list[Session], scheduler, capacity: float) -> Result:
    arrivals = defaultdict(list)
    for s in sessions:
        arrivals[s.arrival].append(s)
    start, end = min(s.arrival for s in sessions), max(s.departure for s in sessions)
    remaining = {s.index: s.requested_kwh for s in sessions}
    present: list[Session] = []
    line_amps, site_kw, violations, spent = [], [], 0, 0.0
    for t in range(start, end):
        present = [s for s in present if s.departure > t] + arrivals.get(t, [])
        if not present:
            continue
        started = time.perf_counter()
        given = scheduler(present, remaining, t, capacity)
        spent += time.perf_counter() - started
        given_lines = dict.fromkeys((1, 2, 3), 0.0)
        drawn_lines = dict.fromkeys((1, 2, 3), 0.0)
        drawn_total, broken = 0.0, False
        for s in present:
            amps = given.get(s.index, 0.0)
            broken |= amps < -TOLERANCE or amps > s.max_amps + TOLERANCE
            drawn = min(amps, remaining[s.index] / kwh(1.0))
            remaining[s.index] -= kwh(drawn)
            drawn_total += drawn
            for p in s.phases:
                given_lines[p] += amps
                drawn_lines[p] += drawn
        broken |= any(amps > capacity + TOLERANCE for amps in given_lines.values())
        violations += broken
        line_amps.append(tuple(drawn_lines.values()))
        site_kw.append(drawn_total * LINE_VOLTAGE / 1000)
    delivered = {s.index: s.requested_kwh - max(0.0, remaining[s.index]) for s in sessions}
    return Result(delivered, line_amps, site_kw, violations, spent)


# The offline optimum


def components(sessions: list[Session]) -> list[list[Session]]:
    """Groups of sessions whose stays overlap, directly or through others: independent linear programs."""
    groups, current, reach = [], [], -1
    for s in sorted(sessions, key=lambda s: s.arrival):
        if current and s.arrival >= reach:
            groups.append(current)
            current = []
        current.append(s)
        reach = max(reach, s.departure)
    if current:
        groups.append(current)
    return groups


def optimum(sessions: list[Session], capacity: float) -> Result:
    import numpy as np
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    started = time.perf_counter()
    delivered = {}
    per_period = defaultdict(lambda: [0.0, 0.0, 0.0])
    for group in components(sessions):
        first = min(s.arrival for s in group)
        periods = max(s.departure for s in group) - first
        rows, cols, columns = [], [], []  # variable j: current of session columns[j] in one period
        energy_rows = len(group)
        for k, s in enumerate(group):
            for t in range(s.arrival, s.departure):
                j = len(columns)
                columns.append((s, t))
                rows.append(k)  # its session's energy
                cols.append(j)
                for p in s.phases:
                    rows.append(energy_rows + (t - first) * 3 + p - 1)  # its lines in that period
                    cols.append(j)
        n = len(columns)
        unit = kwh(1.0)
        values = [unit if r < energy_rows else 1.0 for r in rows]
        matrix = coo_matrix((values, (rows, cols)), shape=(energy_rows + 3 * periods, n)).tocsr()
        bound = np.concatenate([[s.requested_kwh for s in group], np.full(3 * periods, capacity)])
        solution = linprog(
            c=np.full(n, -unit),
            A_ub=matrix,
            b_ub=bound,
            bounds=[(0.0, s.max_amps) for s, _ in columns],
            method="highs",
        )
        if solution.status != 0:
            raise RuntimeError(f"linear program failed: {solution.message}")
        amps = np.clip(solution.x, 0.0, None)
        for (s, t), a in zip(columns, amps, strict=True):
            delivered[s.index] = delivered.get(s.index, 0.0) + kwh(a)
            for p in s.phases:
                per_period[t][p - 1] += a
    violations = 0
    for lines in per_period.values():
        violations += any(a > capacity + 1e-5 for a in lines)
    for s in sessions:
        delivered[s.index] = min(delivered.get(s.index, 0.0), s.requested_kwh)
    loaded = [per_period[t] for t in sorted(per_period) if sum(per_period[t]) > TOLERANCE]
    return Result(
        delivered,
        [tuple(lines) for lines in loaded],
        [sum(lines) / 2 * LINE_VOLTAGE / 1000 for lines in loaded],
        violations,
        time.perf_counter() - started,
    )


# Metrics


def metrics(sessions: list[Session], result: Result) -> dict:
    requested = sum(s.requested_kwh for s in sessions)
    ratios = [result.delivered[s.index] / s.requested_kwh for s in sessions if s.requested_kwh > 0]
    squares = sum(r * r for r in ratios)
    spreads = [max(lines) - min(lines) for lines in result.line_amps] or [0.0]
    return {
        "delivered": 100 * sum(result.delivered.values()) / requested,
        "peak_kw": max(result.site_kw, default=0.0),
        "unbalance_max": max(spreads),
        "unbalance_mean": statistics.fmean(spreads),
        "jain": sum(ratios) ** 2 / (len(ratios) * squares) if squares else math.nan,
        "violations": result.violations,
        "seconds": result.seconds,
    }


COLUMNS = [
    ("delivered", "delivered %", "{:.2f}"),
    ("peak_kw", "peak kW", "{:.1f}"),
    ("unbalance_max", "unbal. max A", "{:.1f}"),
    ("unbalance_mean", "unbal. mean A", "{:.2f}"),
    ("jain", "Jain", "{:.3f}"),
    ("violations", "violations", "{:.0f}"),
    ("seconds", "run s", "{:.1f}"),
]


def print_table(title: str, rows: dict) -> None:
    print(title)
    width = max(20, *(len(name) + 1 for name in rows))
    header = f"  {'scheduler':<{width}}" + "".join(f"{label:>15}" for _, label, _ in COLUMNS)
    print(header)
    for name, figures in rows.items():
        print(f"  {name:<{width}}" + "".join(f"{fmt.format(figures[key]):>15}" for key, _, fmt in COLUMNS))
    print()


def load_variant(path: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--capacities", default=DEFAULT_CAPACITIES, help="grid connection limits, amps per line, comma-separated"
    )
    parser.add_argument("--days", type=int, default=None, help="only the sessions arriving in the first N days")
    parser.add_argument("--min-amps", default="0,6", help="Powerfill's minimum current(s), comma-separated")
    parser.add_argument("--no-optimum", action="store_true", help="skip the linear program")
    parser.add_argument(
        "--allocator",
        action="append",
        default=[],
        metavar="PATH",
        help="also run a variant of priority/allocator.py kept in this file (repeatable), to compare changes",
    )
    args = parser.parse_args()

    started = time.perf_counter()
    sessions = load_sessions(args.days)
    capacities = [float(c) for c in args.capacities.split(",")]
    schedulers = {"equal share": equal_share, "EDF": edf, "LLF": llf}
    for minimum in args.min_amps.split(","):
        schedulers[f"powerfill (min {float(minimum):g} A)"] = powerfill(float(minimum))
        for path in args.allocator:
            variant = load_variant(path)
            schedulers[f"{Path(path).stem} (min {float(minimum):g} A)"] = powerfill(float(minimum), variant)
    phase_counts = defaultdict(int)
    for phases in {s.station: s.phases for s in sessions}.values():
        phase_counts[phases] += 1
    print(
        f"{len(sessions)} sessions, {len({s.station for s in sessions})} stations on line pairs "
        + ", ".join(f"L{a}-L{b}: {n}" for (a, b), n in sorted(phase_counts.items()))
        + f"; {sum(s.requested_kwh for s in sessions):,.0f} kWh requested; "
        f"{len(components(sessions))} groups of overlapping sessions"
    )
    print()

    sweep = defaultdict(list)
    for capacity in capacities:
        rows = {}
        for name, scheduler in schedulers.items():
            rows[name] = metrics(sessions, simulate(sessions, scheduler, capacity))
        if not args.no_optimum:
            rows["optimum (offline LP)"] = metrics(sessions, optimum(sessions, capacity))
        kw = 3 * capacity * ALLOCATOR_VOLTAGE / 1000
        print_table(f"Capacity {capacity:g} A per line (at most {kw:.1f} kW over the three lines):", rows)
        for name, figures in rows.items():
            sweep[name].append(figures)

    mean = {
        name: {key: statistics.fmean(f[key] for f in figures) for key, _, _ in COLUMNS}
        for name, figures in sweep.items()
    }
    for name, figures in sweep.items():
        mean[name]["violations"] = sum(f["violations"] for f in figures)
        mean[name]["seconds"] = sum(f["seconds"] for f in figures)
    print_table(
        f"Mean over the sweep ({', '.join(f'{c:g}' for c in capacities)} A; violations and run s: totals):", mean
    )
    if "optimum (offline LP)" in mean:
        best = mean["optimum (offline LP)"]["delivered"]
        for name in mean:
            if name.startswith("powerfill"):
                gap = best - mean[name]["delivered"]
                above_llf = mean[name]["delivered"] - mean["LLF"]["delivered"]
                print(f"{name}: {gap:.2f} pp below the optimum (target <= 1), {above_llf:+.2f} pp vs LLF (target >= 0)")
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
