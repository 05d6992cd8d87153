"""The ORM from the consumers' event loop.

Channels' database_sync_to_async is thread-sensitive: every charger's database work would queue on one thread.
OCPP work goes to a pool of its own instead, so thousands of chargers are served in parallel; each charger still
has one message in flight at a time (the ocpp library routes them one by one), which keeps its order. The hop is
a plain run_in_executor: the services need no context variables of the caller, and asgiref's wrapper costs as
much CPU as a short query.

Django looks after a thread's connection in close_old_connections() (reconnect after CONN_MAX_AGE or an error, and
with CONN_HEALTH_CHECKS a "SELECT 1" before the next use). Doing that around every OCPP message doubled the round
trips of a busy central system; each pool thread does it at most every CONNECTION_CHECK_SECONDS, and at once after
a database error.
"""

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from django.conf import settings
from django.db import DatabaseError, close_old_connections

CONNECTION_CHECK_SECONDS = 30.0

_executor = ThreadPoolExecutor(max_workers=settings.OCPP_DB_THREADS, thread_name_prefix="ocpp-db")
_last_check = threading.local()


def _run(func, kwargs):
    now = time.monotonic()
    if now - getattr(_last_check, "at", 0.0) > CONNECTION_CHECK_SECONDS:
        close_old_connections()
        _last_check.at = now
    try:
        return func(**kwargs)
    except DatabaseError:
        _last_check.at = 0.0  # look at the connection before the next use
        raise


def ocpp_db(func: Callable) -> Callable[..., Awaitable]:
    """`await ocpp_db(service)(**kwargs)`: run a sync service on the OCPP database pool."""

    async def call(**kwargs):
        return await asyncio.get_running_loop().run_in_executor(_executor, partial(_run, func, kwargs))

    return call
