"""The engine's edges other than the dataplane, as Protocols: everything the engine calls.

The engine is constructed with these (design rule 3) and reaches its collaborators through
nothing else: no probing for optional methods, so mypy checks every contract. The real
implementations are `lvstui.health.scheduler.HealthMonitor` (HealthSource),
`lvstui.vrrp.group.VrrpGroup` (VrrpDriver) and `lvstui.notify.mail.Mailer` (Mailer); tests
pass those with in-memory edges, or fakes, or nothing. The dataplane's contract, and what a
dataplane can do (`Capabilities`), is `lvstui.dataplane.base`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

from lvstui.config.schema import Config, GlobalDefs, RealServer, VirtualServer
from lvstui.config.state import Overrides, Pair
from lvstui.health.base import Checker
from lvstui.model import CheckView, Event, GroupView, Health, NotifyResult, VrrpView

__all__ = ["CheckerFactory", "GroupEdge", "HealthSource", "Mailer", "Pair", "VrrpDriver"]

# (real server, virtual server) → the runnable checkers for it
CheckerFactory = Callable[[RealServer, VirtualServer], Sequence[Checker]]


class HealthSource(Protocol):
    """The health checks of every real server, keyed by (service, real server)."""

    # called on every change of a real server's aggregate health (or dynamic weight)
    on_change: Callable[[Pair, Health, int | None, str], None] | None
    # the watchdog: (key, stale, reason) when a check of key goes stale or runs again
    on_stale: Callable[[Pair, bool, str], None] | None

    def add(self, key: Pair, checkers: Sequence[Checker], *, alpha: bool = False) -> None: ...

    def update(self, key: Pair, checkers: Sequence[Checker], *, alpha: bool = False) -> None:
        """A reload: new checkers for `key`, keeping what is known when they are the same."""
        ...

    def remove(self, key: Pair) -> None: ...

    def keys(self) -> list[Pair]: ...

    def health(self, key: Pair) -> Health:
        """KeyError when `key` has no checks."""
        ...

    def dynamic_weight(self, key: Pair) -> int | None:
        """The weight a misc_dynamic check returned; None: the configured one."""
        ...

    def views(self, key: Pair) -> tuple[CheckView, ...]: ...

    def suspend(self, key: Pair) -> None:
        """ha_suspend: stop running `key`'s checks, keeping their last state (KeyError if
        unknown)."""
        ...

    def resume(self, key: Pair) -> None: ...

    def is_suspended(self, key: Pair) -> bool: ...

    def take_lag(self) -> float:
        """The scheduler's worst lateness since the last call (seconds)."""
        ...

    async def run(self) -> None: ...

    def stop(self) -> None: ...


class VrrpDriver(Protocol):
    """The VRRP instances and sync groups of the configuration.

    Give the driver the engine's `ScriptRunner` (``runner=engine.notifier``) so VRRP notify
    scripts and the engine's quorum/real-server scripts share one queue: all in order.
    """

    async def start(self) -> None: ...

    async def stop(self, graceful: bool = True) -> None:
        """Leave: graceful sends a priority-0 advert so a backup takes over at once."""
        ...

    async def reload(self, config: Config) -> list[str]:
        """Apply a new configuration's VRRP settings in place; one line per thing done."""
        ...

    def views(self) -> tuple[VrrpView, ...]: ...

    def drops(self) -> dict[str, int]:
        """Adverts dropped since start, by reason, summed over the instances (metrics)."""
        ...

    def events(self) -> AsyncIterator[Event]:
        """VrrpChanged, LogEvent, NotifyResult as they happen (until cancelled)."""
        ...


class Mailer(Protocol):
    """SMTP alerts, queued: `send` returns at once, `run` delivers."""

    on_result: Callable[[NotifyResult], None] | None  # each delivery's outcome
    sent: int
    failed: int

    def send(self, subject: str, body: str) -> None: ...

    def reconfigure(self, gd: GlobalDefs) -> None:
        """A reload changed global_defs: later mails use its server and recipients."""
        ...

    async def flush(self) -> None:
        """Wait until every queued mail was delivered or given up."""
        ...

    async def run(self) -> None: ...


class GroupEdge(Protocol):
    """The director group (`lvstui.group.runtime.GroupRuntime`), as the engine sees it.

    The engine tells it every change of the operator overrides made here; changes from
    peers come back through `Engine.apply_group` (one more source of commands)."""

    async def local_change(self, old: Overrides, new: Overrides, who: str) -> None: ...

    def view(self) -> GroupView | None: ...
