"""Director drain: take this director out of the routers' ECMP set without breaking what it
carries. A pure state machine (`start`, `observe`) and the small holder the announcement
loop and the control socket share (`DirectorDrainer`).

While draining, every bgp VIP stays announced but through a route of metric DRAIN_METRIC,
which the routing daemon's export filter turns into something the router prefers less (the
graceful-shutdown community 65535:0, a longer AS path: docs/bgp.md). The router then stops
sending new flows here; the director watches the connection counter of its bgp services and,
once no new connection arrived for `settle` seconds, withdraws the routes and says "safe".
Undrain announces normally again. The drain lives in the running process (a reload keeps
it; a restart starts undrained)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace

from lvstui.model import CommandResult, DrainDirector, UndrainDirector

__all__ = [
    "DEFAULT_SETTLE",
    "DRAIN_METRIC",
    "DirectorDrainer",
    "DrainPhase",
    "DrainStatus",
    "observe",
    "start",
]

# The kernel route metric (priority) of a drained announcement: BIRD's kernel protocol
# imports it as krt_metric, FRR's import-table as the route's metric; 65535 to echo the
# graceful-shutdown community 65535:0 it is meant to become.
DRAIN_METRIC = 65535
DEFAULT_SETTLE = 10.0  # seconds without a new connection before the drain is safe


class DrainPhase(enum.Enum):
    NORMAL = "normal"  # announced as usual
    DRAINING = "draining"  # announced less preferred; new connections still counted
    SAFE = "safe"  # no new connection for the settle time: withdrawn


@dataclass(frozen=True, slots=True)
class DrainStatus:
    phase: DrainPhase = DrainPhase.NORMAL
    settle: float = DEFAULT_SETTLE
    since: float = 0.0  # when the drain began (monotonic)
    conns: int | None = None  # the connection counter at the last observation
    quiet_since: float = 0.0  # when the counter last moved (or the drain began)

    def text(self, now: float) -> str:
        if self.phase is DrainPhase.DRAINING:
            quiet = now - self.quiet_since
            return f"draining: no new connection for {quiet:.1f} s of {self.settle:g} s"
        if self.phase is DrainPhase.SAFE:
            return "safe: drained, every bgp VIP withdrawn"
        return ""


def start(now: float, settle: float) -> DrainStatus:
    return DrainStatus(DrainPhase.DRAINING, settle, now, None, now)


def observe(status: DrainStatus, conns: int, now: float) -> DrainStatus:
    """One look at the total of new connections (the bgp services' counters). Any change of
    the counter — up, or down when a reload removed a service — restarts the quiet time:
    the drain is only called safe after `settle` seconds of a counter that stood still."""
    if status.phase is not DrainPhase.DRAINING:
        return status
    if status.conns is not None and conns != status.conns:
        return replace(status, conns=conns, quiet_since=now)
    status = replace(status, conns=conns)
    if now - status.quiet_since >= status.settle:
        return replace(status, phase=DrainPhase.SAFE)
    return status


class DirectorDrainer:
    """The drain of this director, shared by the announcement loop (which observes) and the
    control socket (which starts and ends it); both run on the event loop."""

    def __init__(self, has_vips: Callable[[], bool] = lambda: True) -> None:
        """`has_vips`: whether some VIP is in bgp mode now (a reload may add or remove
        the last one); without any, a drain has nothing to drain and is refused."""
        self.status = DrainStatus()
        self._has_vips = has_vips

    def call(self, command: DrainDirector | UndrainDirector, now: float) -> CommandResult:
        if isinstance(command, DrainDirector) and not self._has_vips():
            return CommandResult(
                False, f"{command.kind}: this director announces no VIP over BGP (docs/bgp.md)"
            )
        if isinstance(command, UndrainDirector):
            was = self.status.phase
            self.status = DrainStatus()
            if was is DrainPhase.NORMAL:
                return CommandResult(True, "director not drained")
            return CommandResult(True, "director undrained: announcing every bgp VIP again")
        settle = DEFAULT_SETTLE if command.settle is None else command.settle
        if settle < 0:
            return CommandResult(False, "the settle time must be ≥ 0")
        if self.status.phase is not DrainPhase.NORMAL:
            return CommandResult(True, f"director already {self.status.phase.value}")
        self.status = start(now, settle)
        return CommandResult(
            True,
            f"director draining: bgp VIPs announced less preferred; withdrawn and safe after "
            f"{settle:g} s without a new connection",
        )

    def observe(self, conns: int, now: float) -> DrainPhase:
        self.status = observe(self.status, conns, now)
        return self.status.phase
