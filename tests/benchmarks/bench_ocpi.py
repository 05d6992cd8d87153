"""Benchmark: OCPI 2.2.1 locations between two Powerfill platforms on this machine, each with its own SQLite database.

    .venv/bin/python tests/benchmarks/bench_ocpi.py [--locations 10000] [--boxes 5] [--connectors 2]
        [--changes 200] [--change-rate 4] [--redis-url redis://127.0.0.1:6379/5] [--only pull|push] [--rebuild]

About 1.5 minutes, plus half a minute the first time to load the CPO's data (kept in tmp/bench_ocpi/ for reruns while
it matches the arguments; the eMSP starts empty every run). Redis must be running for the push part (start it with
redis-server --daemonize yes; --only pull runs without it). SQLite, as in the quick start: no other services.

The CPO platform holds LOCATIONS published locations (DE*BCP), each a site node with a child node holding BOXES charge
boxes of CONNECTORS connectors each (plus connector 0, which is not an EVSE): 100,000 EVSEs by default. It is served by
one Daphne process. The eMSP platform (NL*BEM, served by its own Daphne process) registers with it through the
credentials handshake, as an operator would.

(1) Full pull: the eMSP runs partner_locations_pull against the CPO over real HTTP, page by page with the CPO's
    OCPI_PAGE_LIMIT (default 1000). Reported: objects, EVSEs, pages, seconds in all, and where they go: waiting for
    pages (the CPO building and sending them, the client reading them) against storing them, with each side's CPU.
(2) Push latency: on the CPO, location_save changes CHANGES locations, one after another at random moments (a
    Poisson process of CHANGE_RATE a second); ONE Celery worker (prefork, concurrency 1, Redis broker, not eager)
    sends the outbox's PUTs to the eMSP. Reported: from the moment location_save is called to the eMSP's
    PartnerLocation.received_at (both on this machine's clock): p50, p95, max.

Each platform's work runs in a child process of its own (this script with --step), with the platform's environment.
"""

import argparse
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DATA_DIR = ROOT / "tmp" / "bench_ocpi"
CPO_PARTY, EMSP_PARTY = ("DE", "BCP"), ("NL", "BEM")
STATUSES = ["Available"] * 6 + ["Charging", "Preparing", "SuspendedEV", "Unavailable", "Faulted", "Reserved"]


# Steps: run in a child process on one platform's database (DJANGO_SETTINGS_MODULE and DATABASE_URL set).


def step_cpo_prepare(locations: int, boxes: int, connectors: int, rebuild: bool) -> dict:
    """Load the CPO's data unless it is there already; start over with the partner: a fresh token A to hand over."""
    from django.core.management import call_command

    from ocpp_core.models import Connector
    from roaming.models import Location, OcpiIdentity, Party
    from roaming.services.credentials import party_invite

    call_command("migrate", verbosity=0)
    identity = OcpiIdentity.objects.filter(country_code=CPO_PARTY[0], party_id=CPO_PARTY[1]).first()
    expected = (locations, locations * boxes * (connectors + 1))
    loaded = 0.0
    if (
        rebuild
        or identity is None
        or (Location.objects.count(), Connector.objects.count()) != expected
        or Connector.objects.filter(connector_id=connectors + 1).exists()
    ):
        started = time.perf_counter()
        identity = _cpo_load(locations, boxes, connectors)
        loaded = time.perf_counter() - started
    Party.objects.all().delete()  # and with it the outbox of an earlier run
    token = party_invite(account=identity.account, name="Benchmark eMSP").incoming_token
    evses = Connector.objects.filter(connector_id__gt=0).count()
    return {"token": token, "evses": evses, "loaded_seconds": loaded}


def _cpo_load(locations: int, boxes: int, connectors: int):
    """Everything in bulk: the nested sets of each site (a root, one child holding its charge boxes) are written as
    they are, which is what mptt would compute."""
    from decimal import Decimal

    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from ocpp_core.models import ChargeBox, Connector
    from powerfill.accounts.models import Account
    from roaming.models import Location, OcpiIdentity
    from sites.models import Node

    rng = random.Random(20261121)
    now = timezone.now()
    call_command("flush", interactive=False, verbosity=0)
    with transaction.atomic():
        account = Account.objects.create(name="OCPI benchmark CPO")
        identity = OcpiIdentity.objects.create(
            account=account, country_code=CPO_PARTY[0], party_id=CPO_PARTY[1], name="Benchmark CPO"
        )
        sites = Node.objects.bulk_create(
            Node(account=account, name=f"Site {n:05d}", tree_id=n + 1, lft=1, rght=4, level=0) for n in range(locations)
        )
        parkings = Node.objects.bulk_create(
            Node(account=account, name="Parking", parent=site, tree_id=site.tree_id, lft=2, rght=3, level=1)
            for site in sites
        )
        Location.objects.bulk_create(
            Location(
                identity=identity,
                node=site,
                ocpi_id=f"LOC{n:05d}",
                name=f"Benchmark site {n}",
                address=f"Hauptstrasse {n}",
                city="Berlin",
                postal_code="10115",
                country="DEU",
                latitude=Decimal("52.4") + Decimal(rng.randrange(200_000)) / 1_000_000,
                longitude=Decimal("13.3") + Decimal(rng.randrange(200_000)) / 1_000_000,
                time_zone="Europe/Berlin",
                parking_type="PARKING_LOT",
            )
            for n, site in enumerate(sites)
        )
        charge_boxes = ChargeBox.objects.bulk_create(
            ChargeBox(
                account=account,
                charge_box_id=f"BCP-{n:05d}-{b}",
                node=parking,
                is_connected=rng.random() < 0.95,
                connected_at=now,
                max_current_a=rng.choice([16, 32]),
                phases=rng.choice([1, 3, 3]),
            )
            for n, parking in enumerate(parkings)
            for b in range(boxes)
        )
        Connector.objects.bulk_create(
            (
                Connector(charge_box=box, connector_id=c, status=rng.choice(STATUSES), status_updated_at=now)
                for box in charge_boxes
                for c in range(connectors + 1)
            ),
            batch_size=5000,
        )
    return identity


def step_emsp_prepare() -> dict:
    """A fresh eMSP: its account and identity, no partner (and so nothing pulled) yet."""
    from django.core.management import call_command

    from powerfill.accounts.models import Account
    from roaming.models import OcpiIdentity, Party

    call_command("migrate", verbosity=0)
    account, _ = Account.objects.get_or_create(name="OCPI benchmark eMSP")
    OcpiIdentity.objects.get_or_create(
        account=account, country_code=EMSP_PARTY[0], party_id=EMSP_PARTY[1], defaults={"name": "Benchmark eMSP"}
    )
    Party.objects.all().delete()
    return {}


def step_emsp_register(cpo_url: str, token: str, emsp_url: str) -> dict:
    """The credentials handshake, started by the eMSP with the CPO's versions URL and token A."""
    from powerfill.accounts.models import Account
    from roaming.models import Party
    from roaming.services.credentials import party_register_with

    account = Account.objects.get(name="OCPI benchmark eMSP")
    party = Party.objects.create(
        account=account, name="Benchmark CPO", versions_url=f"{cpo_url}/ocpi/versions", outgoing_token=token
    )
    party_register_with(party=party, base_url=emsp_url)
    return {"locations": party.endpoint_url("locations", "SENDER")}


def step_emsp_pull() -> dict:
    """The full pull, timed: waiting for pages (HTTP and JSON) apart from storing the objects."""
    from django.db import connection

    import roaming.services.pull as pull
    from roaming.models import ModuleSync, PartnerLocation, Party

    party = Party.objects.get()
    pages, waited = [], []
    page = pull.ocpi_page

    def timed_page(url, **kwargs):
        started = time.perf_counter()
        objects, next_url = page(url, **kwargs)
        waited.append(time.perf_counter() - started)
        pages.append(len(objects))
        return objects, next_url

    pull.ocpi_page = timed_page
    cpu = _own_cpu()
    started = time.perf_counter()
    stored = pull.partner_locations_pull(party=party)
    seconds = time.perf_counter() - started
    cpu = _own_cpu() - cpu
    with connection.cursor() as cursor:
        cursor.execute("SELECT SUM(json_array_length(data, '$.evses')) FROM roaming_partnerlocation")
        (evses,) = cursor.fetchone()
    return {
        "stored": stored,
        "objects": PartnerLocation.objects.filter(partner=party).count(),
        "evses": evses,
        "pages": len(pages),
        "largest_page": max(pages, default=0),
        "seconds": seconds,
        "waiting_seconds": sum(waited),
        "first_page_seconds": waited[0] if waited else 0.0,
        "storing_seconds": seconds - sum(waited),
        "client_cpu_seconds": cpu,
        "refused": ModuleSync.objects.get(partner=party).last_error,
    }


def step_cpo_changes(count: int, rate: float, seed: int) -> dict:
    """location_save on `count` locations, one each, at random moments; when each call began and returned."""
    from roaming.models import Location
    from roaming.services.locations import location_save

    rng = random.Random(seed)
    locations = list(Location.objects.select_related("identity", "node").order_by("?")[:count])
    changes = []
    next_at = time.monotonic()
    for location in locations:
        next_at += rng.expovariate(rate)
        time.sleep(max(0.0, next_at - time.monotonic()))
        location.address = f"Change {seed} street {rng.randrange(1000)}"
        began = time.time()
        location_save(location=location)
        changes.append({"id": location.ocpi_id, "began": began, "saved": time.time()})
    return {"changes": changes}


def step_emsp_receipts(changes: list[dict], timeout: float) -> dict:
    """When the eMSP stored each change (received_at), waiting up to `timeout` seconds for the last ones."""
    from roaming.models import PartnerLocation

    began = {change["id"]: change["began"] for change in changes}
    deadline = time.monotonic() + timeout
    while True:
        received = {
            ocpi_id: at.timestamp()
            for ocpi_id, at in PartnerLocation.objects.filter(ocpi_id__in=began).values_list("ocpi_id", "received_at")
            if at.timestamp() >= began[ocpi_id]
        }
        if len(received) == len(began) or time.monotonic() > deadline:
            return {"received": received}
        time.sleep(0.5)


STEPS = {
    "cpo-prepare": step_cpo_prepare,
    "emsp-prepare": step_emsp_prepare,
    "emsp-register": step_emsp_register,
    "emsp-pull": step_emsp_pull,
    "cpo-changes": step_cpo_changes,
    "emsp-receipts": step_emsp_receipts,
}


def run_step() -> None:
    import django

    django.setup()
    name, arguments = sys.argv[2], json.loads(sys.stdin.read() or "{}")
    print(json.dumps(STEPS[name](**arguments)), flush=True)


# The orchestration (no Django here): the platforms' environments, their processes and the figures.


class Platform:
    def __init__(self, name: str, redis_url: str):
        self.name = name
        self.database = DATA_DIR / f"{name}.sqlite3"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "powerfill.settings.test",
            "DATABASE_URL": f"sqlite:///{self.database}",
            "REDIS_URL": "",
            "OCPI_PUBLIC_URL": "",
            "PYTHONPATH": str(ROOT),  # this checkout, whichever one the virtualenv was installed from
            "PYTHONUNBUFFERED": "1",
        }
        self.redis_env = {**self.env, "REDIS_URL": redis_url}
        self.url = ""
        self.server_pid = 0

    def step(self, name: str, *, broker: bool = False, **arguments) -> dict:
        result = subprocess.run(
            [sys.executable, __file__, "--step", name],
            input=json.dumps(arguments),
            cwd=ROOT,
            env=self.redis_env if broker else self.env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{self.name} {name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    @contextmanager
    def server(self):
        """One Daphne process on a socket this process opened (so its port is ours), until the block ends."""
        bin_dir = Path(sys.executable).parent
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            port = sock.getsockname()[1]
            with (DATA_DIR / f"{self.name}-daphne.log").open("wb") as log:
                process = subprocess.Popen(
                    [str(bin_dir / "daphne"), "--fd", str(sock.fileno()), "powerfill.asgi:application"],
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(sock.fileno(),),
                )
        try:
            self.url, self.server_pid = f"http://127.0.0.1:{port}", process.pid
            wait_until_serving(port, process)
            yield
        finally:
            stop(process)

    @contextmanager
    def celery_worker(self):
        """ONE worker: the default prefork pool with one child, so one push at a time."""
        log_path = DATA_DIR / f"{self.name}-celery.log"
        command = [
            str(Path(sys.executable).parent / "celery"),
            *("-A", "powerfill", "worker", "--concurrency", "1", "--loglevel", "INFO", "--purge"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=self.redis_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while b"ready." not in log_path.read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the Celery worker did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.1)
            yield
        finally:
            stop(process)


def wait_until_serving(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server on {port} did not start")
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            probe.request("GET", "/ocpi/versions")
            probe.getresponse().read()
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
        finally:
            probe.close()


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def check_redis(redis_url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_timeout=5).ping()
    except redis.RedisError as error:
        sys.exit(
            f"Redis at {redis_url} does not answer ({error}); start it (redis-server --daemonize yes) or --only pull"
        )


def measure_pull(cpo: Platform, emsp: Platform) -> None:
    server_cpu = cpu_seconds(cpo.server_pid)
    pull = emsp.step("emsp-pull")
    server_cpu = cpu_seconds(cpo.server_pid) - server_cpu
    print(
        f"\n(1) Full pull: {pull['objects']:,} locations ({pull['stored']:,} stored), {pull['evses']:,} EVSEs, "
        f"{pull['pages']} pages of up to {pull['largest_page']:,}: {pull['seconds']:.1f} s "
        f"({pull['evses'] / pull['seconds']:,.0f} EVSEs/s; target < 60 s)\n"
        f"    waiting for pages (CPO serving, HTTP, reading JSON) {pull['waiting_seconds']:.1f} s "
        f"(first page {pull['first_page_seconds']:.2f} s), storing (eMSP) {pull['storing_seconds']:.1f} s\n"
        f"    CPU: CPO server {server_cpu:.1f} s, eMSP client {pull['client_cpu_seconds']:.1f} s"
        + (f"\n    refused: {pull['refused'][:500]}" if pull["refused"] else ""),
        flush=True,
    )


def measure_push(cpo: Platform, emsp: Platform, changes: int, rate: float) -> None:
    seed = random.randrange(1_000_000)
    print(f"\n(2) Push: {changes} changes at {rate:g}/s on average (about {changes / rate:.0f} s) ...", flush=True)
    with cpo.celery_worker():
        made = cpo.step("cpo-changes", broker=True, count=changes, rate=rate, seed=seed)["changes"]
        received = emsp.step("emsp-receipts", changes=made, timeout=60)["received"]
    latencies = [received[change["id"]] - change["began"] for change in made if change["id"] in received]
    saves = [change["saved"] - change["began"] for change in made]
    if not latencies:
        print("    nothing arrived", flush=True)
        return
    print(
        f"    from location_save to the eMSP's received_at: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
        f"(target p95 < 2 s); {len(latencies)}/{len(made)} arrived\n"
        f"    of which location_save itself (until committed): median {statistics.median(saves) * 1000:.0f} ms",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--locations", type=int, default=10_000)
    parser.add_argument("--boxes", type=int, default=5, help="charge boxes per location")
    parser.add_argument("--connectors", type=int, default=2, help="EVSEs (connectors > 0) per charge box")
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--change-rate", type=float, default=4.0, help="changes a second, on average")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5", help="the push part's Celery broker")
    parser.add_argument("--only", choices=["pull", "push"])
    parser.add_argument("--rebuild", action="store_true", help="load the CPO's data again")
    args = parser.parse_args()
    if args.only != "pull":
        check_redis(args.redis_url)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    cpo, emsp = Platform("cpo", args.redis_url), Platform("emsp", args.redis_url)
    emsp.database.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{emsp.database}{suffix}").unlink(missing_ok=True)

    print(f"CPO: {args.locations:,} locations x {args.boxes} charge boxes x {args.connectors} EVSEs ...", flush=True)
    prepared = cpo.step(
        "cpo-prepare", locations=args.locations, boxes=args.boxes, connectors=args.connectors, rebuild=args.rebuild
    )
    if prepared["loaded_seconds"]:
        print(f"    loaded in {prepared['loaded_seconds']:.1f} s", flush=True)
    emsp.step("emsp-prepare")
    with cpo.server(), emsp.server():
        emsp.step("emsp-register", cpo_url=cpo.url, token=prepared["token"], emsp_url=emsp.url)
        print(f"CPO {cpo.url} (Daphne), eMSP {emsp.url} (Daphne): registered", flush=True)
        if args.only != "push":
            measure_pull(cpo, emsp)
        if args.only != "pull":
            measure_push(cpo, emsp, args.changes, args.change_rate)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--step"]:
        run_step()
    else:
        main()
