"""Coarse timers: many timers sharing one event-loop timer, for the checks' hot path.

With 10,000 checks a second every check used to put two handles in asyncio's timer heap
(its period sleep and its connect timeout). asyncio orders that heap with a Python-level
`TimerHandle.__lt__`, about fifteen comparisons per operation with 20,000 timers pending:
measured as the largest single cost of the scheduler. Here timers are grouped into
`resolution`-wide ticks (1 ms): a dict of lists keyed by an integer tick, a heap of plain
integers (compared in C), and a single loop timer armed for the earliest tick.

A timer never fires early: it fires at the first tick boundary at or after its time.
Cancelling is the callback's business (`_set_if_pending` ignores a future already done).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["CoarseTimers", "coarse_sleep", "timers_for"]

log = logging.getLogger(__name__)

RESOLUTION = 0.001


class CoarseTimers:
    def __init__(self, loop: asyncio.AbstractEventLoop, resolution: float = RESOLUTION) -> None:
        self._loop = loop
        self._res = resolution
        self._buckets: dict[int, list[tuple[Callable[..., None], tuple[Any, ...]]]] = {}
        self._ticks: list[int] = []
        self._armed: asyncio.TimerHandle | None = None
        self._armed_tick: int | None = None

    def call_at(self, when: float, callback: Callable[..., None], *args: Any) -> None:
        """Call `callback(*args)` at loop time `when` (rounded up to the next tick)."""
        tick = math.ceil(when / self._res)
        bucket = self._buckets.get(tick)
        if bucket is None:
            bucket = self._buckets[tick] = []
            heapq.heappush(self._ticks, tick)
            if self._armed_tick is None or tick < self._armed_tick:
                self._arm(tick)
        bucket.append((callback, args))

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
            for callback, args in buckets.pop(heapq.heappop(ticks)):
                try:
                    callback(*args)
                except Exception:
                    log.exception("coarse timer callback failed")
        if ticks:
            self._arm(ticks[0])


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CoarseTimers] = (
    weakref.WeakKeyDictionary()
)


def timers_for(loop: asyncio.AbstractEventLoop) -> CoarseTimers:
    timers = _per_loop.get(loop)
    if timers is None:
        timers = _per_loop[loop] = CoarseTimers(loop)
    return timers


def _set_if_pending(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


async def coarse_sleep(seconds: float) -> None:
    """asyncio.sleep through the coarse timers (at most one tick late, never early)."""
    loop = asyncio.get_running_loop()
    if seconds <= 0:
        await asyncio.sleep(0)
        return
    fut: asyncio.Future[None] = loop.create_future()
    timers_for(loop).call_at(loop.time() + seconds, _set_if_pending, fut, None)
    await fut
