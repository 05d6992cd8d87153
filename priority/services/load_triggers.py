"""Charger events that may change what a site draws ask here for a recompute: from the OCPP hot path, at the cost
of a dictionary look-up where nothing is to be done, and without setting up any connection per event.

Every StartTransaction, StopTransaction, status change, deviating meter reading, boot and disconnect of every
charger comes through charger_load_changed(). The way it went before (an ORM query for the charger's site, then
Django's cache.add as the debounce, in a fresh sync_to_async context each time) cost 44 % of the server's CPU in
tests/benchmarks/bench_ocpp.py: Django's caches are context-local under ASGI, so every event built a new Redis
client and connection pool, and it did so for sites without any limit too, where it then found nothing to manage.

Three gates, each passed only by what got through the one before:

1. Is the charger's site managed (a limit somewhere in its tree, or a peak cap)? `LoadTriggers.managed` maps the
   charge boxes of managed sites to their site's root (priority.load_inputs.managed_charge_boxes, two queries),
   read again whole when it is older than LOAD_SITES_REFRESH_SECONDS. A change that may make a site managed or
   not (limits, moves, assignments: load_management.nodes_rebalance_after_commit counts them) has this process
   read it again at the next event; a change made by another process is seen within the refresh interval, and
   that change asked for a recompute of its own already. A charger that connected after the last read is looked
   up before its first event is judged (batched with the others connecting at that moment), so a charger
   assigned a moment ago is steered from its boot on. One whole read at a time serves everyone waiting for it.
2. In-process debounce: a site with a recompute scheduled less than half LOAD_DEBOUNCE_SECONDS ago needs no other
   one. The scheduled recompute runs LOAD_DEBOUNCE_SECONDS after it was asked for and reads the site then, after
   every event that the gate held back.
3. Across processes, the same "due" key as load_management.site_rebalance_request, set with SET NX through one
   asyncio Redis client per event loop (one connection, kept): whoever sets it schedules the Celery task, on the
   OCPP thread pool (apply_async is blocking I/O; kombu's producer pool keeps its connection). Without a worker
   (eager Celery, the quick start: no Redis) there is no debounce: each event recomputes at once in a sync_to_async
   thread, as site_rebalance_request does, and site_rebalance's lock folds concurrent ones into reruns.
"""

import asyncio
import logging
import pickle
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache

from ocpp_core.db import ocpp_db

from ..load_inputs import managed_charge_boxes
from . import load_management

logger = logging.getLogger(__name__)


class LoadTriggers:
    """One per event loop (charger sessions live on one loop; its Redis client and tasks belong to it)."""

    def __init__(self):
        self._managed: dict[int, int] = {}  # charge box pk -> root id of its managed site
        self._read_started_at = float("-inf")  # time.monotonic() when the whole read behind _managed began
        self._read_generation = -1
        self._reading: asyncio.Task | None = None
        self._joined_at: dict[int, float] = {}  # charge box pk -> when a read of it alone began (since that read)
        self._joining: tuple[set[int], asyncio.Future] | None = None  # the next batch of those reads
        self._due_until: dict[int, float] = {}  # root id -> monotonic time until which a recompute is scheduled
        self._redis = None
        self._tasks: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks

    def charger_load_changed(self, *, charge_box_pk: int, connected_at: float, reason: str) -> None:
        """An event at this charger (connected since `connected_at`, time.monotonic()) may change what its site
        draws. Returns at once; whatever has to wait runs in a task."""
        if self._knows(charge_box_pk, connected_at):
            root_id = self._managed.get(charge_box_pk)
            if root_id is not None:
                self._site_changed(root_id, reason)
        else:
            self._spawn(self._after_reading(charge_box_pk, connected_at, reason))

    def _current(self) -> bool:
        return (
            self._read_generation == load_management.sites_generation()
            and time.monotonic() - self._read_started_at < settings.LOAD_SITES_REFRESH_SECONDS
        )

    def _knows(self, charge_box_pk: int, connected_at: float) -> bool:
        """Was this charger's site read after it connected, and is that read still current?"""
        read_at = max(self._read_started_at, self._joined_at.get(charge_box_pk, float("-inf")))
        return read_at >= connected_at and self._current()

    async def _after_reading(self, charge_box_pk: int, connected_at: float, reason: str) -> None:
        # A stale list is read again whole; a charger that connected after it was read is looked up on its own,
        # with the others that connected at the same moment (a reconnect storm reads no whole list per boot). A
        # read under way may have begun before this charger connected: then the next one answers. Failed reads
        # (the database is away) drop the event; the next event, or Celery beat, recomputes.
        for _ in range(3):
            if self._knows(charge_box_pk, connected_at):
                break
            if self._current():
                await self._read_joining(charge_box_pk)
            else:
                await self._read_whole()
        else:
            return
        root_id = self._managed.get(charge_box_pk)
        if root_id is not None:
            self._site_changed(root_id, reason)

    async def _read_whole(self) -> None:
        if self._reading is None or self._reading.done():
            self._reading = asyncio.get_running_loop().create_task(self._read_whole_now())
        await asyncio.shield(self._reading)

    async def _read_whole_now(self) -> None:
        started_at, generation = time.monotonic(), load_management.sites_generation()
        try:
            managed = await ocpp_db(managed_charge_boxes)()
        except Exception:
            logger.exception("Could not read which sites are managed")
            return
        self._managed, self._joined_at = managed, {}
        self._read_started_at, self._read_generation = started_at, generation

    async def _read_joining(self, charge_box_pk: int) -> None:
        if self._joining is None:
            self._joining = (set(), asyncio.get_running_loop().create_future())
            self._spawn(self._read_joining_now())
        charge_box_pks, done = self._joining
        charge_box_pks.add(charge_box_pk)
        await asyncio.shield(done)

    async def _read_joining_now(self) -> None:
        await asyncio.sleep(0)  # the chargers whose events are being served now join the batch
        (charge_box_pks, done), self._joining = self._joining, None
        started_at, generation = time.monotonic(), load_management.sites_generation()
        try:
            managed = await ocpp_db(managed_charge_boxes)(charge_box_pks=charge_box_pks)
        except Exception:
            logger.exception("Could not read whether the sites of %d chargers are managed", len(charge_box_pks))
        else:
            if generation == self._read_generation and started_at >= self._read_started_at:
                for charge_box_pk in charge_box_pks:
                    if charge_box_pk in managed:
                        self._managed[charge_box_pk] = managed[charge_box_pk]
                    else:
                        self._managed.pop(charge_box_pk, None)
                    self._joined_at[charge_box_pk] = started_at
        finally:
            done.set_result(None)

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
        # sync_to_async thread runs them on this loop, where the channel layer and the sockets live.
        try:
            await sync_to_async(load_management.site_rebalance, thread_sensitive=False)(root_id=root_id, reason=reason)
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


_triggers: dict[asyncio.AbstractEventLoop, LoadTriggers] = {}


def load_triggers() -> LoadTriggers:
    """The running event loop's LoadTriggers."""
    loop = asyncio.get_running_loop()
    triggers = _triggers.get(loop)
    if triggers is None:
        triggers = _triggers[loop] = LoadTriggers()
    return triggers
