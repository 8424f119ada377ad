"""EngineClient: the one interface the console and the CLI use to talk to an engine.

`LocalClient` wraps an engine running in the same process; `SocketClient` talks to a daemon
over the control socket. A console cannot tell them apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from lvstui.model import Command, CommandResult, Event, Snapshot

__all__ = ["EngineClient"]


class EngineClient(Protocol):
    @property
    def read_only(self) -> bool:
        """True when this client's role may not change anything."""
        ...

    @property
    def description(self) -> str:
        """Where the engine is: "embedded" or "attached to /run/lvstui/control.sock"."""
        ...

    async def snapshot(self) -> Snapshot:
        """The engine's current state. Raises ControlError when the engine is gone."""
        ...

    def events(self) -> AsyncIterator[Event]:
        """Events as they happen, from now on. Ends (or raises ControlError) on disconnect."""
        ...

    async def call(self, command: Command) -> CommandResult:
        """Run one operator command. PermissionDenied for a read-only role."""
        ...

    async def close(self) -> None: ...
