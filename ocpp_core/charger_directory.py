"""Rarely changing facts about charge boxes, known in the server process, so the hot path does not ask the database
about them with every message.

Some of what a message does depends on facts that change a few times a day, if ever: whether the charger's site is
managed by load management, whether any roaming partner receives its EVSEs' statuses. Asked per message (a query,
or SQL that runs to insert nothing), they were a large part of a message's cost (tests/benchmarks/bench_ocpp.py,
tests/e2e/test_hot_path_costs.py). A ChargerDirectory holds one such fact for every charge box, per event loop:

- It is read whole (one `read()` on the OCPP thread pool) when a change that may alter a fact was committed in
  this process (the apps call charger_facts_changed(), once it committed): then the process that made the change
  sees it at the next message, which waits for the read. Any such change makes every directory read again; they
  are rare. It is also read whole when it is older than its refresh interval, but then in the background: the
  messages meanwhile are answered from what it holds. (Waiting for that read, every charger's message queued
  behind a read of 10,000 rows every interval, and a reconnect storm's boots waited seconds behind them:
  bench_ocpp.py part (a) with 10,000 chargers.) A change made by another process is seen within the refresh
  interval and one read; owners say in their docstrings why that is enough.
- A charger that connected after the last whole read (the consumer calls charger_connected_note() for it) is looked
  up on its own (`read(charge_box_pks=...)`), batched with the others connecting at the same moment, so a reconnect
  storm does not read the whole directory per boot, and a charger created or assigned a moment before it connected
  is judged by what is true now.
- One whole read at a time serves everyone waiting for it. A failed read (the database is away) leaves the fact
  unknown: `value_of` answers None, the caller's "nothing to do" (each owner's fact is chosen so that this is the
  safe answer, and says what catches up).
"""

import asyncio
import itertools
import logging
import time
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from django.conf import settings

from .db import ocpp_db

logger = logging.getLogger(__name__)

Value = TypeVar("Value")
NEVER = float("-inf")

_changes = itertools.count(1)
_generation = 0


_directories: "weakref.WeakSet[ChargerDirectory]" = weakref.WeakSet()


def charger_connected_note(charge_box_pk: int) -> None:
    """The charger connected (the consumer, before it serves the charger's first message): what the directories
    know of it may be older than its assignment, so they look it up before they answer for it."""
    now = time.monotonic()
    for directory in list(_directories):
        directory._connected_at[charge_box_pk] = now


def charger_facts_changed() -> None:
    """A change that may alter what a directory holds was committed (call it from transaction.on_commit): every
    directory of this process reads again before it answers the next message. Any thread."""
    global _generation
    _generation = next(_changes)


class ChargerDirectory(Generic[Value]):
    def __init__(
        self,
        *,
        name: str,
        read: Callable[..., dict[int, Value]],
    ):
        """`read(charge_box_pks=None)`: a sync ORM function, the fact for every charge box that has it (absent
        means None), or for those of `charge_box_pks`."""
        self.name = name
        self._read = read
        self._values: dict[int, Value] = {}
        self._read_started_at = NEVER  # time.monotonic() when the whole read behind _values began
        self._read_generation = -1
        self._reading: asyncio.Task | None = None
        self._joined_at: dict[int, float] = {}  # charge box pk -> when a read of it alone began (since that read)
        self._joining: tuple[set[int], asyncio.Future] | None = None  # the next batch of those reads
        self._tasks: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks
        self._connected_at: dict[int, float] = {}  # charge box pk -> when it last connected (time.monotonic())
        _directories.add(self)

    def knows(self, charge_box_pk: int) -> bool:
        """Was this charger read after it last connected, and after the last change committed in this process? Then
        `known_value` answers for it. A directory older than its refresh interval starts reading again meanwhile."""
        if self._read_generation != _generation:
            return False
        if time.monotonic() - self._read_started_at >= settings.OCPP_CHARGER_FACTS_REFRESH_SECONDS:
            self._refresh_in_background()
        read_at = max(self._read_started_at, self._joined_at.get(charge_box_pk, NEVER))
        return read_at >= self._connected_at.get(charge_box_pk, NEVER)

    def known_value(self, charge_box_pk: int) -> Value | None:
        return self._values.get(charge_box_pk)

    async def value_of(self, charge_box_pk: int) -> Value | None:
        """The fact for this charger: at once where it is known, otherwise after reading it."""
        # A read under way may have begun before this charger connected: then the next one answers.
        for _ in range(3):
            if self.knows(charge_box_pk):
                return self._values.get(charge_box_pk)
            if self._read_generation == _generation:
                await self._read_joining(charge_box_pk)
            else:
                await self._read_whole()
        return None

    def _refresh_in_background(self) -> None:
        if self._reading is None or self._reading.done():
            self._reading = asyncio.get_running_loop().create_task(self._read_whole_now())

    async def _read_whole(self) -> None:
        self._refresh_in_background()
        await asyncio.shield(self._reading)

    async def _read_whole_now(self) -> None:
        started_at, generation = time.monotonic(), _generation
        try:
            values = await ocpp_db(self._read)()
        except Exception:
            logger.exception("Could not read %s", self.name)
            return
        self._values, self._joined_at = values, {}
        self._read_started_at, self._read_generation = started_at, generation

    async def _read_joining(self, charge_box_pk: int) -> None:
        if self._joining is None:
            self._joining = (set(), asyncio.get_running_loop().create_future())
            task = asyncio.get_running_loop().create_task(self._read_joining_now())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        charge_box_pks, done = self._joining
        charge_box_pks.add(charge_box_pk)
        await asyncio.shield(done)

    async def _read_joining_now(self) -> None:
        await asyncio.sleep(0)  # the chargers whose messages are being served now join the batch
        (charge_box_pks, done), self._joining = self._joining, None
        started_at, generation = time.monotonic(), _generation
        try:
            values = await ocpp_db(self._read)(charge_box_pks=charge_box_pks)
        except Exception:
            logger.exception("Could not read %s of %d chargers", self.name, len(charge_box_pks))
        else:
            # Older than the whole read now in place: that one knows better.
            if generation == self._read_generation and started_at >= self._read_started_at:
                for charge_box_pk in charge_box_pks:
                    if charge_box_pk in values:
                        self._values[charge_box_pk] = values[charge_box_pk]
                    else:
                        self._values.pop(charge_box_pk, None)
                    self._joined_at[charge_box_pk] = started_at
        finally:
            done.set_result(None)


def per_event_loop(factory: Callable[[], Value]) -> Callable[[], Value]:
    """`thing = per_event_loop(Factory)`; `thing()` is the running event loop's own instance (what holds tasks,
    futures or connections belongs to one loop)."""
    instances: dict[asyncio.AbstractEventLoop, Value] = {}

    def instance() -> Value:
        loop = asyncio.get_running_loop()
        found = instances.get(loop)
        if found is None:
            found = instances[loop] = factory()
        return found

    return instance
