"""Coarse timers: many timers sharing one event-loop timer, for the checks' hot path.

With 10,000 checks a second every check used to put two handles in asyncio's timer heap
(its period sleep and its connect timeout). asyncio orders that heap with a Python-level
`TimerHandle.__lt__`, about fifteen comparisons per operation with 20,000 timers pending:
measured as the largest single cost of the scheduler. Here timers are grouped into
`resolution`-wide ticks (1 ms): a dict of lists keyed by an integer tick, a heap of plain
integers (compared in C), and a single loop timer armed for the earliest tick.

A timer never fires early: it fires at the first tick boundary at or after its time.
Cancelling is the callback's business; a sleep's future that is already done (its task
was cancelled) is skipped.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["CHECK_TICK", "CoarseTimers", "check_tick", "coarse_sleep", "timers_for"]

log = logging.getLogger(__name__)

RESOLUTION = 0.001
# TCP_CHECKs of delay_loop >= 1 s start on a 10 ms grid: runs due within the same 10 ms share
# one event-loop wake-up (never early, at most 10 ms late: 1 % of the period). A wake-up is
# what a check costs most where the host makes them dear (a VM: measured ~1.5 ms of CPU per
# wake-up in the User-Mode-Linux guest under load); 100 checks a second spread at random
# wake the loop ~63 times a second instead of ~95 with 1 ms ticks.
CHECK_TICK = 0.01


class CoarseTimers:
    def __init__(self, loop: asyncio.AbstractEventLoop, resolution: float = RESOLUTION) -> None:
        self._loop = loop
        self._res = resolution
        # a tick's entries: (callback, args) tuples, or futures to wake (sleeps)
        self._buckets: dict[int, list[Any]] = {}
        self._ticks: list[int] = []
        self._armed: asyncio.TimerHandle | None = None
        self._armed_tick: int | None = None

    def call_at(self, when: float, callback: Callable[..., None], *args: Any) -> None:
        """Call `callback(*args)` at loop time `when` (rounded up to the next tick)."""
        self._bucket(when).append((callback, args))

    def wake_at(self, when: float, fut: asyncio.Future[None]) -> None:
        """Set `fut`'s result at `when` unless it is done by then. The future itself is the
        entry (no tuple): a sleeping check keeps one object alive, not three."""
        self._bucket(when).append(fut)

    def _bucket(self, when: float) -> list[Any]:
        tick = math.ceil(when / self._res)
        bucket = self._buckets.get(tick)
        if bucket is None:
            bucket = self._buckets[tick] = []
            heapq.heappush(self._ticks, tick)
            if self._armed_tick is None or tick < self._armed_tick:
                self._arm(tick)
        return bucket

    def _arm(self, tick: int) -> None:
        if self._armed is not None:
            self._armed.cancel()
        self._armed_tick = tick
        self._armed = self._loop.call_at(tick * self._res, self._fire)

    def _fire(self) -> None:
        fired = self._armed_tick if self._armed_tick is not None else 0
        self._armed = None
        self._armed_tick = None
        # the loop may run a handle a hair before its time (clock resolution): the armed
        # tick counts as due whatever the clock says
        limit = max(fired, math.floor(self._loop.time() / self._res))
        ticks, buckets = self._ticks, self._buckets
        while ticks and ticks[0] <= limit:
            for entry in buckets.pop(heapq.heappop(ticks)):
                if type(entry) is tuple:
                    try:
                        entry[0](*entry[1])
                    except Exception:
                        log.exception("coarse timer callback failed")
                elif not entry.done():
                    entry.set_result(None)
        if ticks:
            self._arm(ticks[0])


def check_tick(period: float) -> float:
    """The timer resolution for a check of this period (see CHECK_TICK)."""
    return CHECK_TICK if period >= 1.0 else RESOLUTION


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[float, CoarseTimers]] = (
    weakref.WeakKeyDictionary()
)


def timers_for(loop: asyncio.AbstractEventLoop, resolution: float = RESOLUTION) -> CoarseTimers:
    """The loop's coarse timers of that resolution (one set per loop and resolution)."""
    sets = _per_loop.get(loop)
    if sets is None:
        sets = _per_loop[loop] = {}
    timers = sets.get(resolution)
    if timers is None:
        timers = sets[resolution] = CoarseTimers(loop, resolution)
    return timers


async def coarse_sleep(seconds: float) -> None:
    """asyncio.sleep through the coarse timers (at most one tick late, never early)."""
    loop = asyncio.get_running_loop()
    if seconds <= 0:
        await asyncio.sleep(0)
        return
    fut: asyncio.Future[None] = loop.create_future()
    timers_for(loop).wake_at(loop.time() + seconds, fut)
    await fut
