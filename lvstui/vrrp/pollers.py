"""The poller tasks of one VRRP instance's tracked objects of one kind (vrrp_track_process,
track_file), by name, each with the definition it runs: what a reload must restart is what
is no longer tracked or was redefined."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["Pollers"]

D = TypeVar("D")


class Pollers(Generic[D]):
    def __init__(self) -> None:
        self._running: dict[str, tuple[D, asyncio.Task[None]]] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._running

    def add(self, name: str, definition: D, run: Coroutine[Any, Any, None], task: str) -> None:
        self._running[name] = (definition, asyncio.create_task(run, name=task))

    def stale(self, tracked: Sequence[str], defs: Mapping[str, D]) -> list[str]:
        """The running ones no longer tracked, or whose definition changed."""
        return [n for n, (d, _) in self._running.items() if n not in tracked or defs.get(n) != d]

    async def stop(self, names: Sequence[str] | None = None) -> None:
        for name in list(self._running) if names is None else names:
            _, task = self._running.pop(name)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
