"""Director drain: take this director out of the routers' ECMP set without breaking what it
carries. A pure state machine (`start`, `observe`) and the small holder the announcement
loop and the control socket share (`DirectorDrainer`).

While draining, every bgp VIP stays announced but through a route of metric DRAIN_METRIC,
which the routing daemon's export filter turns into something the router prefers less (the
graceful-shutdown community 65535:0, a longer AS path: docs/bgp.md). The router then stops
sending new flows here; the director watches the connection counter of its bgp services and,
once no new connection arrived for `settle` seconds, withdraws the routes and says "safe".
Undrain announces normally again. A reload keeps the drain, and so does a restart: every
change of phase is written to the state directory (drainfile.py) and read back at start,
before the first announcement, so a drained director never comes back announced normally,
not even for one tick."""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from lvstui.announce.drainfile import DrainStore, SavedDrain
from lvstui.config.announce import DEFAULT_DRAIN_SETTLE
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
# imports it as krt_metric, FRR's import-table as the route's metric; with the address
# handoff it is the address's metric, which zebra gives its connected route. 65535 to echo
# the graceful-shutdown community 65535:0 it is meant to become.
DRAIN_METRIC = 65535
DEFAULT_SETTLE = DEFAULT_DRAIN_SETTLE  # [lvstui.announce] drain_settle's default

log = logging.getLogger("lvstui.announce")


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
    wall_since: float = 0.0  # when the drain began, wall clock (kept across restarts)
    restored: bool = False  # read back from the state directory at start

    def text(self, now: float) -> str:
        if self.phase is DrainPhase.DRAINING:
            quiet = now - self.quiet_since
            text = f"draining: no new connection for {quiet:.1f} s of {self.settle:g} s"
        elif self.phase is DrainPhase.SAFE:
            text = "safe: drained, every bgp VIP withdrawn"
        else:
            return ""
        return text + self.kept()

    def kept(self) -> str:
        """For a drain read back at start, when it began and that it was kept; "" else."""
        if not self.restored:
            return ""
        if self.wall_since <= 0:
            return "; kept across a restart"
        began = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.wall_since))
        return f"; drained since {began}, kept across a restart"

    def saved(self) -> SavedDrain:
        return SavedDrain(self.phase.value, self.settle, self.wall_since)


def start(now: float, settle: float, wall: float = 0.0) -> DrainStatus:
    return DrainStatus(DrainPhase.DRAINING, settle, now, None, now, wall)


def restored(saved: SavedDrain | None, error: str, now: float) -> DrainStatus:
    """The drain at start, from what the state directory holds. DRAINING starts its quiet
    time again (the previous process's counter is gone); SAFE stays withdrawn. A file that
    could not be read drains: whether the director was drained is unknown, and announcing
    less preferred still serves where no other director announces."""
    if error:
        return DrainStatus(DrainPhase.DRAINING, DEFAULT_SETTLE, now, None, now, restored=True)
    if saved is None or saved.phase == DrainPhase.NORMAL.value:
        return DrainStatus()
    phase = DrainPhase(saved.phase)
    return DrainStatus(phase, saved.settle, now, None, now, saved.since, restored=True)


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

    def __init__(
        self,
        has_vips: Callable[[], bool] = lambda: True,
        *,
        settle: Callable[[], float] = lambda: DEFAULT_SETTLE,
        store: DrainStore | None = None,
        wall: Callable[[], float] = time.time,
        on_change: Callable[[DrainStatus, float], None] | None = None,
    ) -> None:
        """`has_vips`: whether some VIP is in bgp mode now (a reload may add or remove
        the last one); without any, a drain has nothing to drain and is refused.
        `settle`: the settle time of a drain that names none ([lvstui.announce]
        drain_settle, as the config is now). `store`: where the drain is kept across
        restarts (None: nowhere, no state directory). `on_change(status, now)`: told at
        once of a drain or undrain (the status view, before the loop's next tick)."""
        self.status = DrainStatus()
        self._on_change = on_change
        self._has_vips = has_vips
        self._settle = settle
        self._store = store
        self._wall = wall

    def restore(self, now: float) -> str:
        """Take up the drain the state directory holds (at start, before the announcement
        loop's first tick); what to log about it ("" when the director was not drained)."""
        if self._store is None:
            return ""
        saved, error = self._store.load()
        self.status = restored(saved, error, now)
        if self._on_change is not None:
            self._on_change(self.status, now)
        if error:
            return (
                f"director drain: {error}; starting DRAINING (bgp VIPs announced less "
                "preferred) in case it was drained: `lvstui ctl undrain-director` to serve "
                "normally"
            )
        if not self.status.restored:
            return ""
        until = "until `lvstui ctl undrain-director`"
        if self.status.phase is DrainPhase.SAFE:
            what = f"SAFE: every bgp VIP stays withdrawn {until}"
        else:
            what = (
                f"DRAINING: bgp VIPs announced less preferred, withdrawn after "
                f"{self.status.settle:g} s without a new connection ({until} to serve normally)"
            )
        return f"director drain kept from before the restart: {what}{self.status.kept()}"

    def _save(self, status: DrainStatus) -> str:
        """Persist `status`; "" or why it could not be."""
        if self._store is None:
            return ""
        try:
            self._store.save(status.saved())
        except OSError as e:
            return str(e.strerror or e)
        return ""

    def call(self, command: DrainDirector | UndrainDirector, now: float) -> CommandResult:
        was = self.status
        result = self._call(command, now)
        if self.status != was and self._on_change is not None:
            self._on_change(self.status, now)
        return result

    def _call(self, command: DrainDirector | UndrainDirector, now: float) -> CommandResult:
        if isinstance(command, DrainDirector) and not self._has_vips():
            return CommandResult(
                False, f"{command.kind}: this director announces no VIP over BGP (docs/bgp.md)"
            )
        if isinstance(command, UndrainDirector):
            was = self.status.phase
            self.status = DrainStatus()
            # undrained whatever the disk says: a restart would then come back drained,
            # the safe side, and the operator is told
            error = self._save(self.status)
            unsaved = f"; not saved ({error}): a restart would come back drained" if error else ""
            if was is DrainPhase.NORMAL:
                return CommandResult(True, "director not drained" + unsaved)
            return CommandResult(
                True, "director undrained: announcing every bgp VIP again" + unsaved
            )
        settle = self._settle() if command.settle is None else command.settle
        if settle < 0:
            return CommandResult(False, "the settle time must be ≥ 0")
        if self.status.phase is not DrainPhase.NORMAL:
            return CommandResult(True, f"director already {self.status.phase.value}")
        draining = start(now, settle, self._wall())
        error = self._save(draining)
        if error:  # as the operator overrides: what cannot be kept is not applied
            return CommandResult(
                False,
                f"{command.kind}: not applied: the drain cannot be kept across a restart "
                f"in the state directory ({error})",
            )
        self.status = draining
        return CommandResult(
            True,
            f"director draining: bgp VIPs announced less preferred; withdrawn and safe after "
            f"{settle:g} s without a new connection",
        )

    def observe(self, conns: int, now: float) -> DrainPhase:
        was = self.status.phase
        self.status = observe(self.status, conns, now)
        if self.status.phase is not was:  # safe: a restart comes back withdrawn
            error = self._save(self.status)
            if error:
                log.error(
                    "director drain: cannot keep %s across a restart: %s",
                    self.status.phase.value,
                    error,
                )
        return self.status.phase
