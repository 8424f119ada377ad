"""Run the engine's long-lived tasks in one TaskGroup; restart a crashed one with backoff.

A task that returns normally is finished. A task that raises is logged (with why) and
started again after a delay that doubles from `initial` up to `maximum`, and resets once
the task has run for `stable` seconds without crashing. Cancelling the supervisor cancels
every task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from lvstui.clock import Clock, SystemClock

__all__ = ["Supervisor"]

log = logging.getLogger("lvstui.engine")

TaskFactory = Callable[[], Awaitable[None]]


class Supervisor:
    def __init__(
        self,
        *,
        clock: Clock | None = None,
        initial: float = 0.5,
        maximum: float = 30.0,
        stable: float = 60.0,
        on_crash: Callable[[str, BaseException, float], None] | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._initial = initial
        self._maximum = maximum
        self._stable = stable
        self._on_crash = on_crash
        self._specs: list[tuple[str, TaskFactory]] = []
        self._task: asyncio.Task[None] | None = None
        self.restarts: dict[str, int] = {}

    def add(self, name: str, factory: TaskFactory) -> None:
        """Register a task (before `start`)."""
        self._specs.append((name, factory))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lvstui-supervisor")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for name, factory in self._specs:
                tg.create_task(self._keep(name, factory), name=f"lvstui-{name}")

    async def _keep(self, name: str, factory: TaskFactory) -> None:
        delay = self._initial
        while True:
            started = self._clock.now()
            try:
                await factory()
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if self._clock.now() - started >= self._stable:
                    delay = self._initial
                self.restarts[name] = self.restarts.get(name, 0) + 1
                log.error(
                    "task %s crashed (%s: %s); restarting in %.1fs",
                    name,
                    type(e).__name__,
                    e,
                    delay,
                    exc_info=e,
                )
                if self._on_crash is not None:
                    self._on_crash(name, e, delay)
                await self._clock.sleep(delay)
                delay = min(self._maximum, delay * 2)
