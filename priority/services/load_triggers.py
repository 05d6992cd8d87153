"""Charger events that may change what a site draws ask here for a recompute: from the OCPP hot path, at the cost
of a dictionary look-up where nothing is to be done, and without setting up any connection per event.

Every StartTransaction, StopTransaction, status change, deviating meter reading, boot and disconnect of every
charger comes through charger_load_changed(). The way it went before (an ORM query for the charger's site, then
Django's cache.add as the debounce, in a fresh sync_to_async context each time) cost 44 % of the server's CPU in
tests/benchmarks/bench_ocpp.py: Django's caches are context-local under ASGI, so every event built a new Redis
client and connection pool, and it did so for sites without any limit too, where it then found nothing to manage.

Three gates, each passed only by what got through the one before:

1. Is the charger's site managed (a limit somewhere in its tree, or a peak cap)? `LoadTriggers.managed`, an
   ocpp_core.charger_directory.ChargerDirectory, maps the charge boxes of managed sites to their site's root
   (priority.load_inputs.managed_charge_boxes), read again when it is older than OCPP_CHARGER_FACTS_REFRESH_SECONDS, and
   looked up for a charger that connected since, so a charger assigned a moment ago is steered from its boot on.
   A change that may make a site managed or not (limits, moves, assignments:
   load_management.nodes_rebalance_after_commit says so) has this process read it again at the next event; a
   change made by another process is seen within the refresh interval, and that change asked for a recompute of
   its own already (and Celery beat recomputes every managed site anyway).
2. In-process debounce: a site with a recompute scheduled less than half LOAD_DEBOUNCE_SECONDS ago needs no other
   one. The scheduled recompute runs LOAD_DEBOUNCE_SECONDS after it was asked for and reads the site then, after
   every event that the gate held back.
3. Across processes, the same "due" key as load_management.site_rebalance_request, set with SET NX through one
   asyncio Redis client per event loop (one connection, kept): whoever sets it schedules the Celery task, on the
   OCPP thread pool (apply_async is blocking I/O; kombu's producer pool keeps its connection). Without a worker
   (eager Celery, the quick start: no Redis) there is no debounce: each event recomputes at once in a thread
   (database_sync_to_async), as site_rebalance_request does, and site_rebalance's lock folds concurrent ones into
   reruns.
"""

import asyncio
import logging
import pickle
import time

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import cache

from ocpp_core.charger_directory import ChargerDirectory, per_event_loop
from ocpp_core.db import ocpp_db

from ..load_inputs import managed_charge_boxes
from . import load_management

logger = logging.getLogger(__name__)


class LoadTriggers:
    """One per event loop (charger sessions live on one loop; its Redis client and tasks belong to it)."""

    def __init__(self):
        self.managed: ChargerDirectory[int] = ChargerDirectory(
            name="the charge boxes of managed sites",
            read=managed_charge_boxes,
        )
        self._due_until: dict[int, float] = {}  # root id -> monotonic time until which a recompute is scheduled
        self._redis = None
        self._tasks: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks

    def charger_load_changed(self, *, charge_box_pk: int, reason: str) -> None:
        """An event at this charger may change what its site draws. Returns at once; whatever has to wait runs in
        a task."""
        if self.managed.knows(charge_box_pk):
            root_id = self.managed.known_value(charge_box_pk)
            if root_id is not None:
                self._site_changed(root_id, reason)
        else:
            self._spawn(self._after_reading(charge_box_pk, reason))

    async def _after_reading(self, charge_box_pk: int, reason: str) -> None:
        root_id = await self.managed.value_of(charge_box_pk)
        if root_id is not None:
            self._site_changed(root_id, reason)

    def _site_changed(self, root_id: int, reason: str) -> None:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            self._spawn(self._recompute_now(root_id, reason))
            return
        now = time.monotonic()
        if self._due_until.get(root_id, 0.0) > now:
            return
        self._due_until[root_id] = now + settings.LOAD_DEBOUNCE_SECONDS / 2
        self._spawn(self._schedule(root_id, reason))

    async def _recompute_now(self, root_id: int, reason: str) -> None:
        # Not on the OCPP thread pool: the recompute calls chargers through async_to_sync, which from a
        # sync_to_async thread runs them on this loop, where the channel layer and the sockets live. Channels'
        # database_sync_to_async gives the thread's database connection back around the call: a connection kept
        # by the thread would be dead after a database restart, and every later recompute on it would fail.
        try:
            recompute = database_sync_to_async(load_management.site_rebalance, thread_sensitive=False)
            await recompute(root_id=root_id, reason=reason)
        except Exception:
            logger.exception("Load management recompute of site %s failed", root_id)

    async def _schedule(self, root_id: int, reason: str) -> None:
        try:
            if await self._due_set(root_id, reason):
                await ocpp_db(load_management.site_rebalance_schedule)(root_id=root_id, reason=reason)
        except Exception:
            self._due_until.pop(root_id, None)  # the next event tries again
            logger.exception("Could not schedule the load management recompute of site %s", root_id)

    async def _due_set(self, root_id: int, reason: str) -> bool:
        """Set the site's "due" key unless it is set (SET NX): True if this call set it."""
        location = _redis_cache_location()
        if location is None:  # not a Redis cache: Django's add, on the thread pool
            return await ocpp_db(load_management.site_due_mark)(root_id=root_id, reason=reason)
        if self._redis is None:
            import redis.asyncio

            self._redis = redis.asyncio.Redis.from_url(location)
        # The key and value as Django's RedisCache writes them (load_management.site_rebalance deletes the key
        # through Django's cache when the recompute starts).
        key = cache.make_and_validate_key(load_management.due_key(root_id))
        return bool(await self._redis.set(key, pickle.dumps(reason), nx=True, ex=load_management.due_seconds()))

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _redis_cache_location() -> str | None:
    default = settings.CACHES["default"]
    if default["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        return None
    location = default["LOCATION"]
    return location[0] if isinstance(location, list | tuple) else location.split(",")[0]


load_triggers = per_event_loop(LoadTriggers)  # the running event loop's LoadTriggers
