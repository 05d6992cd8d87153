"""Benchmark: the OCPP 1.6J central system, one Daphne process with PostgreSQL and Redis.

    python tests/benchmarks/bench_ocpp.py [--database-url postgres://postgres@127.0.0.1:5432/powerfill_bench_ocpp]
        [--redis-url redis://127.0.0.1:6379/2] [--chargers 5000] [--steady-seconds 120]
        [--throughput-chargers 300] [--throughput-seconds 30] [--only many|throughput] [--servers daphne,uvicorn]

(a) Many chargers: CHARGERS chargers connect (BootNotification, StatusNotification) and stay connected, each
    sending MeterValues every 60 s, Heartbeat every 120 s and StatusNotification every 300 s (an evenly spread
    ~140 messages/s for 5,000). Reported: the server's memory per connection (RSS growth / chargers, and its total
    RSS) and the answer latency over the steady phase (p50, p99, max), measured by the clients from sending a CALL
    to receiving its CALLRESULT.
(b) Peak throughput: THROUGHPUT_CHARGERS chargers run charging sessions back to back, each sending its next message
    when the answer to the last arrives: Authorize, StartTransaction, 5 x MeterValues, StopTransaction, 2 x
    StatusNotification, Heartbeat. The same workload runs against a bare `websockets` + `ocpp` server without a
    database (bare_ocpp_server.py) in the same run; reported are both rates and their ratio, with each server's CPU.
    With --servers daphne,uvicorn, Powerfill runs under each ASGI server in turn (uvicorn with its `websockets`
    implementation), each against the same bare run.

The load generator runs in this process (raw OCPP-J frames over the `websockets` client) and shares the machine's
two cores with the server under test; the CPU figures say who was busy.
"""

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import websockets

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

ID_TAG = "BENCH-DRIVER"
CONNECT_RATE = 100


def raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def ensure_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def prepare_data(chargers: int) -> None:
    """An account, one site node, CHARGERS charge boxes and one tag that may charge anywhere, without limit."""
    from django.core.management import call_command

    from ocpp_core.models import ChargeBox, OcppTag
    from permissions.services import permission_grant
    from powerfill.accounts.models import Account
    from sites.models import Node

    call_command("migrate", verbosity=0)
    # Every run starts from the same history: a database that kept millions of logged frames and readings from
    # earlier runs made each run slower than the last. The benchmark's database is its own (--database-url).
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE ocpp_core_ocppmessage, ocpp_core_metervalue, ocpp_core_connectorstatus, ocpp_core_transaction "
            "CASCADE"
        )
    account, _ = Account.objects.get_or_create(name="OCPP benchmark")
    node = Node.objects.filter(account=account, parent=None).first() or Node.objects.create(
        account=account, name="Site"
    )
    existing = set(ChargeBox.objects.filter(account=account).values_list("charge_box_id", flat=True))
    ChargeBox.objects.bulk_create(
        ChargeBox(account=account, charge_box_id=f"BENCH-{n:05d}", node=node)
        for n in range(chargers)
        if f"BENCH-{n:05d}" not in existing
    )
    tag, _ = OcppTag.objects.get_or_create(
        account=account, id_tag=ID_TAG, defaults={"max_active_transaction_count": -1}
    )
    permission_grant(holder=tag, node=node, applies_to_all_children=True)
    ChargeBox.objects.filter(account=account).update(is_connected=False, connection_id="")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_port(port: int, timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def port_in_use(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_server(command: list[str], env: dict, port: int) -> subprocess.Popen:
    if port_in_use(port):  # a server left over from an earlier run would be measured instead
        raise SystemExit(f"port {port} is already in use")
    log = open(ROOT / "tmp" / f"bench-server-{port}.log", "wb")  # noqa: SIM115 (lives as long as the server)
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port)
    if process.poll() is not None:
        raise SystemExit(f"{command[0]} exited at start: see {log.name}")
    return process


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:  # uvicorn waits for background tasks; the figures are taken already
        process.kill()
        process.wait(10)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Charger:
    """One benchmark charger: sends a CALL, waits for its answer, records the latency."""

    def __init__(self, base: str, charge_box_id: str):
        self.url = f"{base}/{charge_box_id}"
        self.socket = None
        self.counter = 0
        self.transaction_id = None
        self.meter = 0

    async def connect(self):
        self.socket = await websockets.connect(self.url, subprotocols=["ocpp1.6"], open_timeout=60, max_size=2**20)

    async def call(self, action: str, payload: dict, latencies: list | None = None) -> dict:
        self.counter += 1
        unique_id = str(self.counter)
        started = time.perf_counter()
        await self.socket.send(json.dumps([2, unique_id, action, payload]))
        while True:
            frame = json.loads(await self.socket.recv())
            if frame[1] == unique_id:
                break
        if latencies is not None:
            latencies.append((time.perf_counter() - started) * 1000)
        if frame[0] != 3:
            raise RuntimeError(f"{action} answered {frame}")
        return frame[2]

    def meter_values(self) -> dict:
        self.meter += 250
        return {
            "connectorId": 1,
            "transactionId": self.transaction_id,
            "meterValue": [
                {
                    "timestamp": now(),
                    "sampledValue": [
                        {"value": str(self.meter), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                        {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
                    ],
                }
            ],
        }

    async def session(self, counted: list) -> None:
        """One charging session of the mixed workload; appends 1 per answered message to `counted`."""
        steps = [("Authorize", {"idTag": ID_TAG})]
        for action, payload in steps:
            await self.call(action, payload)
            counted.append(1)
        start = await self.call(
            "StartTransaction", {"connectorId": 1, "idTag": ID_TAG, "meterStart": self.meter, "timestamp": now()}
        )
        counted.append(1)
        self.transaction_id = start["transactionId"]
        for _ in range(5):
            await self.call("MeterValues", self.meter_values())
            counted.append(1)
        await self.call(
            "StopTransaction", {"transactionId": self.transaction_id, "meterStop": self.meter, "timestamp": now()}
        )
        counted.append(1)
        for status in ("Finishing", "Available"):
            await self.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": status})
            counted.append(1)
        await self.call("Heartbeat", {})
        counted.append(1)


async def many_chargers(base: str, count: int, steady_seconds: float, server_pid: int) -> dict:
    chargers = [Charger(base, f"BENCH-{n:05d}") for n in range(count)]
    baseline = rss_mib(server_pid)
    connect_latencies: list[float] = []
    started = time.perf_counter()

    async def bring_up(charger: Charger, delay: float):
        await asyncio.sleep(delay)
        await charger.connect()
        await charger.call(
            "BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "B1"}, connect_latencies
        )
        await charger.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"})
        start = await charger.call(
            "StartTransaction", {"connectorId": 1, "idTag": ID_TAG, "meterStart": 0, "timestamp": now()}
        )
        charger.transaction_id = start["transactionId"]

    # CONNECT_RATE new connections a second: many sites coming back after an outage, not a SYN flood.
    await asyncio.gather(*(bring_up(c, i / CONNECT_RATE) for i, c in enumerate(chargers)))
    ramp_seconds = time.perf_counter() - started
    connected_rss = rss_mib(server_pid)

    latencies: list[float] = []
    stop_at = time.perf_counter() + steady_seconds

    async def live(charger: Charger, rng: random.Random):
        # Each charger's clocks start at a random phase, so the load is spread evenly.
        next_meter = time.perf_counter() + rng.uniform(0, 60)
        next_heartbeat = time.perf_counter() + rng.uniform(0, 120)
        next_status = time.perf_counter() + rng.uniform(0, 300)
        while True:
            due = min(next_meter, next_heartbeat, next_status)
            if due > stop_at:
                return
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if due == next_meter:
                await charger.call("MeterValues", charger.meter_values(), latencies)
                next_meter += 60
            elif due == next_heartbeat:
                await charger.call("Heartbeat", {}, latencies)
                next_heartbeat += 120
            else:
                await charger.call(
                    "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}, latencies
                )
                next_status += 300

    rng = random.Random(7)
    cpu_before = cpu_seconds(server_pid)
    await asyncio.gather(*(live(c, random.Random(rng.random())) for c in chargers))
    cpu = cpu_seconds(server_pid) - cpu_before
    steady_rss = rss_mib(server_pid)
    await asyncio.gather(*(c.socket.close() for c in chargers))
    latencies.sort()
    return {
        "chargers": count,
        "ramp_seconds": ramp_seconds,
        "boot_p99_ms": statistics.quantiles(connect_latencies, n=100)[98],
        "baseline_rss": baseline,
        "connected_rss": connected_rss,
        "steady_rss": steady_rss,
        "per_connection_kib": (connected_rss - baseline) * 1024 / count,
        "messages": len(latencies),
        "rate": len(latencies) / steady_seconds,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(0.99 * len(latencies))],
        "max_ms": latencies[-1],
        "server_cpu": cpu / steady_seconds,
    }


async def peak_throughput(base: str, count: int, seconds: float, server_pid: int, offset: int = 0) -> dict:
    chargers = [Charger(base, f"BENCH-{n + offset:05d}") for n in range(count)]
    for charger in chargers:
        await charger.connect()
        await charger.call("BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "B1"})
    counted: list[int] = []
    stop_at = time.perf_counter() + seconds

    async def loop(charger: Charger):
        while time.perf_counter() < stop_at:
            await charger.session(counted)

    cpu_before = cpu_seconds(server_pid)
    started = time.perf_counter()
    await asyncio.gather(*(loop(c) for c in chargers))
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(server_pid) - cpu_before
    await asyncio.gather(*(c.socket.close() for c in chargers))
    return {"messages": len(counted), "rate": len(counted) / elapsed, "server_cpu": cpu / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/powerfill_bench_ocpp")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--chargers", type=int, default=5000)
    parser.add_argument("--steady-seconds", type=float, default=120)
    parser.add_argument("--throughput-chargers", type=int, default=300)
    parser.add_argument("--throughput-seconds", type=float, default=30)
    parser.add_argument("--only", choices=["many", "throughput"], help="Run one part: (a) many or (b) throughput.")
    parser.add_argument(
        "--servers",
        default="daphne",
        help="ASGI servers Powerfill runs under, comma-separated: daphne, uvicorn (part (a) uses the first)",
    )
    args = parser.parse_args()

    raise_file_limit()
    (ROOT / "tmp").mkdir(exist_ok=True)
    os.environ.update(
        DATABASE_URL=args.database_url, REDIS_URL=args.redis_url, DJANGO_SETTINGS_MODULE="powerfill.settings.test"
    )
    ensure_database(args.database_url)
    import django

    django.setup()
    prepare_data(max(args.chargers, args.throughput_chargers))

    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OCPP_CALL_TIMEOUT": "30"}
    port, bare_port = 18600, 18601
    servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    base = f"ws://127.0.0.1:{port}/ocpp"

    # (a) and (b) each get a fresh server process.
    if args.only != "throughput":
        server = start_server(server_command(servers[0], bin_dir, port), env, port)
        try:
            asyncio.run(peak_throughput(base, 5, 2, server.pid))  # warm up: imports, connections, prepared statements
            many = asyncio.run(many_chargers(base, args.chargers, args.steady_seconds, server.pid))
        finally:
            stop_server(server)
        report_many(many, servers[0])
    if args.only == "many":
        return
    bare = start_server(
        [sys.executable, str(Path(__file__).with_name("bare_ocpp_server.py")), str(bare_port)], env, bare_port
    )
    try:
        bare_result = asyncio.run(
            peak_throughput(
                f"ws://127.0.0.1:{bare_port}/ocpp", args.throughput_chargers, args.throughput_seconds, bare.pid
            )
        )
    finally:
        stop_server(bare)
    print(f"(b) mixed sessions, {args.throughput_chargers} chargers back to back for {args.throughput_seconds:.0f} s")
    print(
        f"    bare websockets + ocpp, no database: {bare_result['rate']:.0f} messages/s "
        f"(server CPU {bare_result['server_cpu']:.0%})",
        flush=True,
    )
    for name in servers:
        server = start_server(server_command(name, bin_dir, port), env, port)
        try:
            asyncio.run(peak_throughput(base, 5, 2, server.pid))
            ours = asyncio.run(peak_throughput(base, args.throughput_chargers, args.throughput_seconds, server.pid))
        finally:
            stop_server(server)
        print(
            f"    Powerfill ({name}, PostgreSQL, Redis): {ours['rate']:.0f} messages/s "
            f"(server CPU {ours['server_cpu']:.0%}), ratio {ours['rate'] / bare_result['rate']:.2f}",
            flush=True,
        )


def server_command(name: str, bin_dir: Path, port: int) -> list[str]:
    """One Powerfill server process on `port`, as the README's production section runs it."""
    if name == "daphne":
        return [
            str(bin_dir / "daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "--websocket_timeout",
            "-1",
            "powerfill.asgi:application",
        ]
    if name == "uvicorn":
        return [
            str(bin_dir / "uvicorn"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ws",
            "websockets-sansio",
            *os.environ.get("BENCH_UVICORN_OPTIONS", "").split(),
            "--lifespan",
            "off",
            "--no-access-log",
            "powerfill.asgi:application",
        ]
    raise SystemExit(f"unknown server {name!r}: daphne or uvicorn")


def report_many(many: dict, server: str) -> None:
    print(f"(a) {many['chargers']:,} chargers on one {server} process (PostgreSQL + Redis)")
    print(
        f"    connected in {many['ramp_seconds']:.0f} s (BootNotification p99 {many['boot_p99_ms']:.0f} ms while "
        f"connecting at {CONNECT_RATE}/s)"
    )
    print(
        f"    RSS {many['baseline_rss']:.0f} MiB idle -> {many['connected_rss']:.0f} MiB connected "
        f"({many['per_connection_kib']:.0f} KiB per connection) -> {many['steady_rss']:.0f} MiB after the steady phase"
    )
    print(
        f"    steady phase: {many['messages']:,} messages at {many['rate']:.0f}/s, answer latency "
        f"p50 {many['p50_ms']:.1f} ms, p99 {many['p99_ms']:.1f} ms, max {many['max_ms']:.0f} ms; "
        f"server CPU {many['server_cpu']:.0%} of a core",
        flush=True,
    )


if __name__ == "__main__":
    main()
