"""Everything Powerfill relies on in the `ocpp` library beyond its public API, in one place.

The library's ChargePoint gives us `call()` (a CSMS-initiated call: serialized, sent, its answer awaited and
converted) and the `@on` decorator. Its receiving side we do ourselves (ocpp_j.py frames, central_system.py
handlers), which means touching its internals: the queue `call()` reads answers from, the lock it holds while it
waits, the connection it sends on, and the map of handlers. They are used here and nowhere else, and
tests/ocpp_core/test_ocpp_library.py pins what this module assumes of them, so that an upgrade of the library
(pinned in pyproject.toml to the minor versions tested) fails there rather than at a charger.

One more reason for a class of our own: ChargePoint.__init__ builds a map of bound handlers for every instance
(about 4 KB and a walk over every attribute of the class, per charger and per connect; 40 MB at 10,000 chargers).
Handlers do not change per charger, so the map is built once per class here.
"""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from ocpp.charge_point import ChargePoint
from ocpp.messages import CallError, CallResult
from ocpp.routing import create_route_map

LOGGER = logging.getLogger("ocpp")


class LibraryChargePoint(ChargePoint):
    """ChargePoint with our receiving side: subclasses feed answers with `answer_arrived()`, look handlers up with
    `handler_for()`, send with `send_text()`, and call the charger with the library's `call()`."""

    # action -> the @on function of the class (unbound), built once per class
    _handlers: dict[str, Callable[..., Awaitable]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._handlers = {action: route["_on_action"] for action, route in create_route_map(cls).items()}

    def __init__(self, charger_id: str, connection, *, response_timeout: float):
        # What ChargePoint.__init__ sets, less the per-instance route map (pinned by the tests: a version of the
        # library that sets more fails there).
        self.id = charger_id
        self._response_timeout = response_timeout
        self._connection = connection
        self._call_lock = asyncio.Lock()
        self._response_queue: asyncio.Queue = asyncio.Queue()
        self._unique_id_generator = uuid.uuid4
        self.logger = LOGGER

    def handler_for(self, action: str) -> Callable[..., Awaitable]:
        """The @on handler of `action`, bound to this charger (KeyError if there is none)."""
        return self._handlers[action].__get__(self)

    def handles(self, action: str) -> bool:
        return action in self._handlers

    def awaiting_answer(self) -> bool:
        """Whether a call() of ours is waiting for the charger's answer (it holds the library's call lock)."""
        return self._call_lock.locked()

    def answer_arrived(self, answer: CallResult | CallError) -> None:
        """Give call() the answer it waits for."""
        self._response_queue.put_nowait(answer)

    async def send_text(self, text: str) -> None:
        await self._connection.send(text)
