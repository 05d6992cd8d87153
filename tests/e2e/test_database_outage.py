"""PostgreSQL drops every connection of the server (a failover, a restart, a bouncer's idle timeout):
`pg_terminate_backend` on every backend of the test database while a charger is connected. The server must come
back by itself on the next use of each connection: the OCPP hot path, the ORM units on the consumers' threads and
the load management recomputes (in a Celery worker with Redis, in the server process without one, as in the quick
start). Five sessions started after the outage each receive their charging profile."""

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from priority.models import AllocationRun

from ..factories import ChargeBoxFactory, NodeFactory, OcppTagFactory, OcppTagPermissionFactory
from ..live import PROJECT_DIR, asgi_server, celery_worker
from .conftest import OCPP_SERVER_ENV
from .ocpp_client import raw_charger, run
from .test_load_management import WORKER_ENV, SmartCharger, until

pytestmark = [
    pytest.mark.live_server,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_terminate_backend needs PostgreSQL"),
]

SESSIONS_AFTER_THE_OUTAGE = 5


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminate_every_backend_but(spared: int) -> int:
    """Every connection to the test database but this thread's and `spared` (the test's own)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> %s",
            [spared],
        )
        return cursor.fetchone()[0]


@pytest.fixture(params=["in the server process", "in a Celery worker"])
def platform(request, account, django_db_setup, django_db_blocker):
    """A live server (and a worker where recomputes run in one) on a site with a 32 A limit."""
    garage = NodeFactory(account=account, name="Garage", max_current_a=32.0)
    ChargeBoxFactory(account=account, charge_box_id="OUTAGE-1", node=garage, max_current_a=32, min_current_a=6)
    OcppTagPermissionFactory(ocpp_tag=OcppTagFactory(account=account, id_tag="DRIVER"), node=garage)
    with django_db_blocker.unblock():
        if request.param == "in the server process":
            # No Redis: eager Celery, the recompute runs in a thread of the server, as in the quick start.
            with asgi_server(env={**OCPP_SERVER_ENV, "REDIS_URL": ""}) as url:
                yield url, [_server_log_path(url)]
            return
        if not os.environ.get("REDIS_URL"):
            pytest.skip("a Celery worker needs REDIS_URL")
        with asgi_server(env=WORKER_ENV) as url, celery_worker(env=WORKER_ENV):
            worker_log = max(PROJECT_DIR.joinpath("tmp").glob(f"celery-{os.getpid()}-*.log"), key=_modified)
            yield url, [_server_log_path(url), worker_log]


def _server_log_path(url: str) -> Path:
    return next(PROJECT_DIR.joinpath("tmp").glob(f"*-{url.rsplit(':', 1)[1]}.log"))


def _modified(path: Path) -> float:
    return path.stat().st_mtime


def _allocation_runs() -> int:
    return AllocationRun.objects.count()


def test_after_postgresql_drops_every_connection_later_sessions_get_their_profiles(platform):
    platform, logs = platform
    limits_per_session: list[float | None] = []
    test_connection = _backend_pid()
    # The test's own queries during the scenario, on one thread (one connection, spared by the outage).
    test_thread = ThreadPoolExecutor(max_workers=1)

    async def on_test_thread(func, *args):
        return await asyncio.get_running_loop().run_in_executor(test_thread, func, *args)

    async def scenario():
        async with raw_charger(platform, "OUTAGE-1") as raw:
            charger = SmartCharger(raw, "OUTAGE-1", lambda: None)
            assert (await raw.boot())[2]["status"] == "Accepted"
            await charger.status("Available")
            transaction_id = await charger.start()
            assert await until(lambda: transaction_id in charger.tx_limits), "no profile before the outage"
            runs = await on_test_thread(_allocation_runs)
            await charger.stop(transaction_id, unplug=True)
            # The recomputes the stop asked for (StopTransaction, then the status) have ended: the outage finds the
            # connections idle, kept by whoever used them last, not in the middle of a query.
            deadline, quiet_since = time.monotonic() + 20, None
            while time.monotonic() < deadline:
                count = await on_test_thread(_allocation_runs)
                if count != runs:
                    runs, quiet_since = count, time.monotonic()
                elif quiet_since is not None and time.monotonic() - quiet_since > 1.0:
                    break
                await asyncio.sleep(0.1)

            terminated = await on_test_thread(_terminate_every_backend_but, test_connection)
            assert terminated >= 1  # the server's connections (and the worker's) were there to drop

            for _ in range(SESSIONS_AFTER_THE_OUTAGE):
                await charger.status("Preparing")
                transaction_id = await charger.start()
                assert transaction_id > 0
                await until(lambda tx=transaction_id: tx in charger.tx_limits)
                limits_per_session.append(charger.tx_limits.get(transaction_id))
                await charger.stop(transaction_id, unplug=True)
            charger.answering.cancel()

    try:
        run(scenario())
    finally:
        test_thread.submit(lambda: connection.close()).result()  # the thread's own connection
        test_thread.shutdown()
    assert limits_per_session == [32.0] * SESSIONS_AFTER_THE_OUTAGE, limits_per_session
    # No unit failed on a connection the outage left dead, in the server or the worker (the hot path's own pool
    # only warns as it replaces them).
    for path in logs:
        log = path.read_text(errors="replace")
        assert "Traceback" not in log, f"{path.name}: {log[-3000:]}"
