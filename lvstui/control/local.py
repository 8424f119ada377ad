"""LocalClient: the EngineClient for an engine running in this process (the embedded console).

It gives the console exactly what SocketClient gives it over the control socket, so the
console cannot tell the two apart: snapshots, an event stream, and commands — refused with
PermissionDenied when the client is read-only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from lvstui.describe import describe_command
from lvstui.errors import ControlError, PermissionDenied
from lvstui.model import Command, CommandResult, DrainDirector, Event, Snapshot, UndrainDirector

if TYPE_CHECKING:
    from lvstui.engine.bus import Subscription
    from lvstui.engine.engine import Engine

__all__ = ["DirectorDrain", "LocalClient"]


class DirectorDrain(Protocol):
    """The director drain of the announcements (lvstui/announce/director.py): not the
    engine's (it changes no table, only how the VIPs are announced), so answered here."""

    def call(self, command: DrainDirector | UndrainDirector, now: float) -> CommandResult: ...


class LocalClient:
    def __init__(
        self,
        engine: Engine,
        *,
        read_only: bool = False,
        who: str = "console",
        published: bool = False,
        director: DirectorDrain | None = None,
    ) -> None:
        """`published`: `snapshot()` returns the engine's last published snapshot (refreshed
        every second and after every change, unchanged views shared) instead of building a
        new one per call: at 1,000 x 10 building one costs ~50 ms of the event loop, for
        every client of the control socket, every second."""
        self._engine = engine
        self._director = director
        self._published = published
        self._read_only = read_only
        self._who = who
        self._closed = False
        self._subs: list[Subscription] = []

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def description(self) -> str:
        return "embedded"

    async def snapshot(self) -> Snapshot:
        self._check_open()
        snap = self._engine.published_snapshot() if self._published else self._engine.snapshot()
        return replace(snap, read_only=True) if self._read_only else snap

    def events(self, replay: bool = False) -> AsyncIterator[Event]:
        """Events from the moment of this call (registered at once, not at first read);
        with `replay`, the engine's recent events first."""
        self._check_open()
        sub = self._engine.subscribe(replay=replay)
        self._subs.append(sub)
        return sub

    async def call(self, command: Command) -> CommandResult:
        self._check_open()
        if self._read_only:
            raise PermissionDenied(
                f"{command.kind}: this console is read-only",
                hint="start it without --read-only (as root or a member of control_group)",
            )
        if isinstance(command, DrainDirector | UndrainDirector):
            return self._drain_director(command)
        return await self._engine.call(command, who=self._who)

    def _drain_director(self, command: DrainDirector | UndrainDirector) -> CommandResult:
        if self._director is None:
            return CommandResult(
                False,
                f"{command.kind}: this director announces no VIP over BGP (docs/bgp.md)",
            )
        result = self._director.call(command, asyncio.get_running_loop().time())
        level = "info" if result.ok else "warning"
        self._engine.log(level, f"{self._who}: {describe_command(command)}: {result.message}")
        return result

    async def close(self) -> None:
        self._closed = True
        for sub in list(self._subs):
            sub.close()
        self._subs.clear()

    def _check_open(self) -> None:
        if self._closed:
            raise ControlError("this client is closed")
