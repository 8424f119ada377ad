"""The checks' concurrency cap: at most `cap` attempts in flight, the rest wait in one FIFO.

Task loops wait on a future (`wait_turn`), callback loops (lvstui.health.fastloop) queue a
callable (`take`); both share the queue, so the order is arrival order whatever the kind.
asyncio.Semaphore costs a generator expression per acquire, and this path runs thousands
of times a second: here a counter, a deque and a count of waiters already handed a slot
(`woken`, reserved until they run), so each release costs O(1) whatever the queue's length.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable

__all__ = ["Slots"]

Granted = Callable[[], None]


class Slots:
    __slots__ = ("_cap", "_revoked", "_waiters", "_woken", "in_flight")

    def __init__(self, cap: int) -> None:
        self._cap = max(1, cap)
        self.in_flight = 0
        self._woken = 0  # waiters handed a slot, not running yet
        self._waiters: collections.deque[asyncio.Future[None] | Granted] = collections.deque()
        self._revoked: set[Granted] = set()  # handed a slot, no longer wanting it

    def full(self) -> bool:
        """Whether an attempt must queue (the cap reached, or others queued before it)."""
        return self.in_flight + self._woken >= self._cap or bool(self._waiters)

    async def wait_turn(self) -> None:
        """Wait (FIFO) until a slot is free; on return the caller holds it."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._woken -= 1  # handed a turn we will not use: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)  # rare: a check removed while queued
            self.next_turn()
            raise
        self._woken -= 1  # no await between this and the caller taking the slot
        self.in_flight += 1

    def take(self, granted: Granted) -> bool:
        """Take a slot now (True), or queue `granted` (False): it is called later, from the
        event loop, holding the slot."""
        if self.full():
            self._waiters.append(granted)
            return False
        self.in_flight += 1
        return True

    def unqueue(self, granted: Granted) -> None:
        """`granted`, queued by `take`, will not use its slot."""
        try:
            self._waiters.remove(granted)
        except ValueError:  # already handed a slot, its call pending: it passes it on
            self._revoked.add(granted)

    def release(self) -> None:
        self.in_flight -= 1
        self.next_turn()

    def next_turn(self) -> None:
        waiters = self._waiters
        while waiters and self.in_flight + self._woken < self._cap:
            w = waiters.popleft()
            if isinstance(w, asyncio.Future):
                if not w.done():
                    w.set_result(None)
                    self._woken += 1
            else:  # called from the loop: calling it here could recurse deeply
                self._woken += 1
                asyncio.get_running_loop().call_soon(self._hand, w)

    def _hand(self, granted: Granted) -> None:
        self._woken -= 1
        if granted in self._revoked:
            self._revoked.discard(granted)
            self.next_turn()
            return
        self.in_flight += 1
        granted()
