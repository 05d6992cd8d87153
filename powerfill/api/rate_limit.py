"""An exact rolling-window rate limit: at most `limit` calls pass in any `window` seconds (a sliding log).

Each key keeps the times of the calls it was let through in the last window. A call passes when fewer than `limit`
are kept; a refused call is not kept, so a client that keeps calling while refused is let through again as soon as
its oldest kept call is a window old, and that moment is exactly what the refusal tells it to wait for. A fixed
window, by contrast, lets `limit` calls through at the end of one window and `limit` more at the start of the next.

Two stores, one algorithm:
- RedisSlidingLog, when Redis is configured: one Lua script per call, so deciding, recording and reading what is left
  is one atomic round trip for every server process alike, timed by Redis's own clock (processes on several hosts
  need not agree on the time). The `limits` library's moving window keeps the same log, but tells what is left and
  when the next call passes only in a second round trip.
- LocalSlidingLog otherwise (the quick start, one process): the same log in this process's memory.
"""

import logging
import math
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

import redis

logger = logging.getLogger(__name__)

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE_PATTERN = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")


@dataclass(frozen=True)
class Rate:
    limit: int
    window_seconds: int


def rate_parse(text: str) -> Rate:
    """A rate as settings write it: "600/m" (600 calls in any minute), "50/10s", "1000/h" (calls / [count] unit)."""
    match = RATE_PATTERN.match(text)
    if match is None or int(match[1]) < 1:
        raise ValueError(f"{text!r} is not a rate such as 600/m, 50/10s or 1000/h")
    return Rate(limit=int(match[1]), window_seconds=int(match[2] or 1) * UNIT_SECONDS[match[3]])


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int  # calls that would pass now, after this one
    retry_after_seconds: float  # until the next call passes (0 when one would pass now)


def _decision(*, allowed: bool, limit: int, kept: int, next_to_leave_age: float, window: float) -> Decision:
    """`next_to_leave_age`: how long ago the kept call whose leaving frees a place was let through."""
    remaining = max(limit - kept, 0)
    wait = 0.0 if remaining > 0 else max(window - next_to_leave_age, 0.0)
    return Decision(allowed=allowed, limit=limit, remaining=remaining, retry_after_seconds=wait)


class LocalSlidingLog:
    """The sliding log in this process's memory; exact for the calls this process sees."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        # key -> times of the calls let through, oldest first; keys ordered by their last call, so keys idle for a
        # window are found at the front and forgotten.
        self._logs: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, key: str, rate: Rate) -> Decision:
        window = rate.window_seconds
        with self._lock:
            now = self._clock()
            self._forget_idle_keys(now - window)
            log = self._logs.pop(key, None) or deque()
            self._logs[key] = log
            while log and log[0] <= now - window:
                log.popleft()
            allowed = len(log) < rate.limit
            if allowed:
                log.append(now)
            # With the budget spent, a place frees when the call `limit` places from the newest leaves (the oldest,
            # unless the limit was lowered meanwhile).
            next_to_leave = log[len(log) - rate.limit] if len(log) >= rate.limit else now
            return _decision(
                allowed=allowed, limit=rate.limit, kept=len(log), next_to_leave_age=now - next_to_leave, window=window
            )

    def _forget_idle_keys(self, horizon: float) -> None:
        while self._logs:
            key, log = next(iter(self._logs.items()))
            if log and log[-1] > horizon:
                return
            del self._logs[key]


# KEYS[1]: the key's log, a sorted set of the calls let through scored by their time in microseconds.
# ARGV: limit, window in microseconds. Returns {allowed (0/1), calls kept, age in microseconds of the call whose leaving
# frees a place (0 while places are free)}.
# Members are "<time>:<count before>", unique even for two calls in the same microsecond.
SLIDING_LOG_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local kept = redis.call('ZCARD', KEYS[1])
local allowed = 0
if kept < limit then
    redis.call('ZADD', KEYS[1], now, string.format('%d:%d', now, kept))
    redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
    kept = kept + 1
    allowed = 1
end
local next_to_leave_age = 0
if kept >= limit then
    local next_to_leave = redis.call('ZRANGE', KEYS[1], kept - limit, kept - limit, 'WITHSCORES')
    next_to_leave_age = now - tonumber(next_to_leave[2])
end
return {allowed, kept, next_to_leave_age}
"""


class RedisSlidingLog:
    """The sliding log in Redis, shared by every process that uses the same Redis database."""

    KEY_PREFIX = "powerfill:rate-limit:"

    def __init__(self, url: str):
        # One client for the process: its connection pool is thread-safe, and a client per call would connect anew.
        self._script = redis.Redis.from_url(url).register_script(SLIDING_LOG_SCRIPT)

    def hit(self, key: str, rate: Rate) -> Decision:
        window = rate.window_seconds
        try:
            allowed, kept, next_to_leave_age = self._script(
                keys=[self.KEY_PREFIX + key], args=[rate.limit, window * 1_000_000]
            )
        except redis.RedisError:
            # Fail closed, as a full budget: a store that cannot count must not let unlimited calls through.
            logger.warning("Rate limit store unavailable; refusing the call", exc_info=True)
            return Decision(allowed=False, limit=rate.limit, remaining=0, retry_after_seconds=1.0)
        return _decision(
            allowed=bool(allowed),
            limit=rate.limit,
            kept=kept,
            next_to_leave_age=next_to_leave_age / 1_000_000,
            window=window,
        )


def retry_after_header(decision: Decision) -> int:
    """Whole seconds after which the next call passes (never 0 for a refused call: it would pass now)."""
    return max(math.ceil(decision.retry_after_seconds), 1)
