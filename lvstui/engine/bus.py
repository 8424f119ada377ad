"""Event fan-out: one publisher (the engine), many subscribers (console, sockets, metrics).

Every subscriber has its own bounded queue. `publish` never blocks and never waits for a
subscriber: when a queue is full, its *oldest* event is dropped, and the next thing that
subscriber receives is a `LogEvent` saying how many it missed — so one slow console never
holds the engine back, and never silently loses history either.

The bus also keeps the last `RECENT` events in a ring: a subscriber may start with them
(`subscribe(replay=True)`), so a console that attaches to a running daemon shows what
happened before it came, not an empty log.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from lvstui.model import CommandResult, Event, LogEvent, OperatorAction

__all__ = ["DEFAULT_QUEUE", "RECENT", "EventBus", "Journal", "Subscription"]

DEFAULT_QUEUE = 1000
RECENT = 200  # events kept for replay to a console that attaches later


class Subscription:
    """An async iterator of events, registered from the moment it is created."""

    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
        self._queue: deque[Event] = deque()
        self._maxsize = maxsize
        self._dropped = 0
        self._wakeup = asyncio.Event()
        self._closed = False

    @property
    def dropped(self) -> int:
        return self._dropped

    def _put(self, event: Event) -> None:
        if self._closed:
            return
        if len(self._queue) >= self._maxsize:
            self._queue.popleft()
            self._dropped += 1
            self._pending_drop = True
        self._queue.append(event)
        self._wakeup.set()

    _pending_drop = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self._pending_drop:
                self._pending_drop = False
                return LogEvent(
                    time=self._bus.wall(),
                    level="warning",
                    message=f"slow subscriber: {self._dropped} event(s) dropped so far "
                    f"(queue of {self._maxsize})",
                )
            if self._queue:
                return self._queue.popleft()
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()

    def close(self) -> None:
        """Stop receiving; the iterator ends once what is queued has been read."""
        if not self._closed:
            self._closed = True
            self._bus._remove(self)
            self._wakeup.set()

    async def aclose(self) -> None:
        self.close()


class EventBus:
    def __init__(
        self,
        *,
        maxsize: int = DEFAULT_QUEUE,
        wall: Callable[[], float] | None = None,
        recent: int = RECENT,
    ) -> None:
        import time

        self._subs: list[Subscription] = []
        self._recent: deque[Event] = deque(maxlen=recent)
        self._maxsize = maxsize
        self.wall: Callable[[], float] = wall or time.time
        self.published = 0

    def subscribe(self, maxsize: int | None = None, *, replay: bool = False) -> Subscription:
        """A new subscription; with `replay` it starts with the recent events (the ring),
        queued in the same step as it is registered: nothing is missed or said twice."""
        sub = Subscription(self, maxsize or self._maxsize)
        if replay:
            for ev in self._recent:
                sub._put(ev)
        self._subs.append(sub)
        return sub

    def recent(self) -> tuple[Event, ...]:
        """The last events published, oldest first (at most `recent` of them)."""
        return tuple(self._recent)

    def publish(self, event: Event) -> None:
        self.published += 1
        self._recent.append(event)
        for sub in list(self._subs):
            sub._put(event)

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def close(self) -> None:
        for sub in list(self._subs):
            sub.close()


_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class Journal:
    """The engine's voice: what happens goes to every subscriber; what it says goes to the
    process log (`logger`) and, as a LogEvent, to every subscriber too (the console's log)."""

    def __init__(self, bus: EventBus, logger: logging.Logger) -> None:
        self.bus = bus
        self._logger = logger

    def wall(self) -> float:
        return self.bus.wall()

    def publish(self, event: Event) -> None:
        self.bus.publish(event)

    def log(self, level: str, message: str) -> None:
        """`level`: "debug", "info", "warning" or "error"."""
        self.note(level, message)
        self.bus.publish(LogEvent(self.bus.wall(), level, message))

    def note(self, level: str, message: str) -> None:
        """The process log only: for what an event published alongside already tells every
        subscriber (a HealthChanged, a QuorumChanged, a ConfigReloaded). Logging it as a
        LogEvent too made every console say it twice."""
        self._logger.log(_LEVELS.get(level, logging.INFO), message)

    def operator(self, who: str, action: str, result: CommandResult) -> CommandResult:
        """What an operator did, and how it went (every client's log, the audit's twin)."""
        self.publish(OperatorAction(self.wall(), who, action, result.ok, result.message))
        return result

    def crashed(self, name: str, exc: BaseException, delay: float) -> None:
        """A supervised task crashed (the Supervisor's `on_crash`)."""
        what = f"{type(exc).__name__}: {exc}"
        self.log("error", f"task {name} crashed ({what}); restarting in {delay:.1f}s")

    def say(self, level: str, line: str | None) -> None:
        """Log `line` when there is one."""
        if line is not None:
            self.log(level, line)
