"""The engine's edges other than the dataplane, as Protocols (implemented in health/, vrrp/).

The engine is constructed with these (design rule 3); tests pass fakes or nothing. Thin
adapters live here when the real class's API differs slightly from what the engine needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

from lvstui.config.schema import RealServer, VirtualServer
from lvstui.config.state import Overrides
from lvstui.model import CheckView, Event, GroupView, Health, RealKey, ServiceKey, VrrpView

__all__ = ["CheckerFactory", "GroupEdge", "HealthSource", "Pair", "VrrpDriver"]

# a real server of a virtual service: what health checks, drains and overrides are keyed by
Pair = tuple[ServiceKey, RealKey]

# (real server, virtual server) → the runnable checkers for it (lvstui.health's Checker)
CheckerFactory = Callable[[RealServer, VirtualServer], Sequence[Any]]


class HealthSource(Protocol):
    """What the engine needs from `lvstui.health.scheduler.HealthMonitor`."""

    on_change: Callable[[Any, Health, int | None, str], None] | None
    # the watchdog: (key, stale, reason) when a check of key goes stale or runs again
    on_stale: Callable[[Any, bool, str], None] | None

    def add(self, key: Any, checkers: Sequence[Any], *, alpha: bool = False) -> None: ...

    def update(self, key: Any, checkers: Sequence[Any], *, alpha: bool = False) -> None: ...

    def remove(self, key: Any) -> None: ...

    def keys(self) -> list[Any]: ...

    def health(self, key: Any) -> Health: ...

    def dynamic_weight(self, key: Any) -> int | None: ...

    def views(self, key: Any) -> tuple[CheckView, ...]: ...

    def take_lag(self) -> float:
        """The scheduler's worst lateness since the last call (seconds)."""
        ...

    async def run(self) -> None: ...

    def stop(self) -> None: ...


class VrrpDriver(Protocol):
    """What the engine needs from the VRRP side: `lvstui.vrrp.group.VrrpGroup` fits as is.

    Give the group the engine's `ScriptRunner` (``runner=engine.notifier``) so VRRP notify
    scripts and the engine's quorum/real-server scripts share one queue: all in order.
    """

    async def start(self) -> None: ...

    async def stop(self, graceful: bool = True) -> None:
        """Leave: graceful sends a priority-0 advert so a backup takes over at once."""
        ...

    def views(self) -> tuple[VrrpView, ...]: ...

    def drops(self) -> dict[str, int]:
        """Adverts dropped since start, by reason, summed over the instances (metrics)."""
        ...

    def events(self) -> AsyncIterator[Event]:
        """VrrpChanged, LogEvent, NotifyResult as they happen (until cancelled)."""
        ...


class GroupEdge(Protocol):
    """The director group (`lvstui.group.runtime.GroupRuntime`), as the engine sees it.

    The engine tells it every change of the operator overrides made here; changes from
    peers come back through `Engine.apply_group` (one more source of commands)."""

    async def local_change(self, old: Overrides, new: Overrides, who: str) -> None: ...

    def view(self) -> GroupView | None: ...
