"""The ORM from the consumers' event loop.

Channels' database_sync_to_async is thread-sensitive: every charger's database work would queue on one thread.
OCPP work goes to a pool of its own instead, so thousands of chargers are served in parallel; each charger still
has one message in flight at a time (the ocpp library routes them one by one), which keeps its order.
"""

from concurrent.futures import ThreadPoolExecutor

from channels.db import DatabaseSyncToAsync
from django.conf import settings

_executor = ThreadPoolExecutor(max_workers=settings.OCPP_DB_THREADS, thread_name_prefix="ocpp-db")


def ocpp_db(func):
    """`await ocpp_db(service)(**kwargs)`: run a sync service on the OCPP database pool."""
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_executor)
