"""One probe per target: the runnable unit the HealthMonitor schedules.

A probe is one check as the network sees it: its resolved `CheckSpec` (kind, address, port,
path, digest, timeouts, period …). Every real server of every service whose check resolves
to an equal spec subscribes to the same probe, so a server in 100 services (a
virtual_server_group expanded, one pool behind many VIPs) is probed once per period, not
100 times; each run's result feeds every subscriber's own rise/fall state.

The probe carries what is shared (the checker, the loop task, the counters of runs and the
last result, the watchdog's view); a `Subscription` carries what is each real server's own
(its state after rise/fall, its dynamic weight, whether it is suspended).

Watchdog (pure here, driven by the monitor): a probe that has not completed a run within
`stale_after(spec)` = 2 × (period + the run's time budget) is stale. The run's budget is
keepalived's worst case for one run: timeout × (retry + 1) + retry × delay_before_retry.
A stale probe is a hung checker, or one starved of a turn under the concurrency cap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Generic, TypeVar

from lvstui.health.base import Cancellable, Checker, CheckResult, CheckSpec, is_local_failure
from lvstui.health.state import CheckState
from lvstui.health.weight import sets_weight
from lvstui.model import Health

__all__ = ["Probe", "Subscription", "after_attempts", "crashed", "run_budget", "stale_after"]

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)


def run_budget(spec: CheckSpec) -> float:
    """The longest one run may take: every attempt timing out, with the delays between."""
    return spec.timeout * (spec.retry + 1) + spec.retry * spec.delay_before_retry


def stale_after(spec: CheckSpec) -> float:
    """Seconds without a completed run after which a probe is stale."""
    return 2.0 * (max(spec.period, 0.001) + run_budget(spec))


class Subscription(Generic[K]):
    """One real server's use of a probe: its own verdict of the shared results."""

    __slots__ = ("active", "dyn_weight", "key", "probe", "state")

    def __init__(self, key: K, probe: Probe[K], state: CheckState) -> None:
        self.key = key
        self.probe = probe
        self.state = state
        self.dyn_weight: int | None = None
        self.active = True  # False while its real server is suspended (ha_suspend)

    @property
    def spec(self) -> CheckSpec:
        return self.probe.spec

    @property
    def dynamic(self) -> bool:
        return sets_weight(self.probe.spec.check)


class Probe(Generic[K]):
    """One check target, run once per period for all its subscribers."""

    __slots__ = (
        "checker",
        "dynamic",
        "failures",
        "last_latency",
        "last_ok",
        "last_reason",
        "last_run",
        "progress",
        "runs",
        "spec",
        "stale",
        "subs",
        "task",
        "unknown",
    )

    def __init__(self, checker: Checker) -> None:
        self.checker = checker
        self.spec: CheckSpec = checker.spec
        self.dynamic = sets_weight(checker.spec.check)  # its results carry a weight
        self.subs: list[Subscription[K]] = []
        # its loop: a task, or a callback loop (lvstui.health.fastloop) for TCP_CHECK
        self.task: asyncio.Task[None] | Cancellable | None = None
        self.runs = 0  # attempts
        self.failures = 0  # failed attempts
        self.unknown = 0  # attempts that could not be made (local reason)
        # the last attempt, as plain values: a CheckResult kept for a whole period by
        # every check would be 10,000 more objects for the garbage collector to walk
        self.last_ok: bool | None = None
        self.last_reason = ""
        self.last_latency: float | None = None
        self.last_run: float | None = None  # wall time
        # watchdog: monotonic time of the last sign of life (loop start, run completed)
        self.progress: float | None = None
        self.stale = False

    @property
    def active(self) -> bool:
        """Whether any subscriber wants it run."""
        return any(s.active for s in self.subs)

    def tries(self) -> int:
        """Attempts a run may make: retry + 1 while the check is up for any active
        subscriber (keepalived's retry), else 1 (one pass brings it back)."""
        subs = self.subs
        if len(subs) == 1:  # the common case, without a generator a run
            up = subs[0].active and subs[0].state.health is Health.UP
        else:
            up = any(s.active and s.state.health is Health.UP for s in subs)
        return self.spec.retry + 1 if up else 1

    def note(self, result: CheckResult, wall: float) -> bool:
        """Count one attempt's result (at wall-clock `wall`); True when the run ends with it
        (it passed, or it could not be made: retrying now would hit the same wall)."""
        self.runs += 1
        self.last_reason = result.reason
        self.last_latency = result.latency
        self.last_run = wall
        if result.local:
            self.unknown += 1
            self.last_ok = None  # neither passed nor failed
            return True
        self.last_ok = result.ok
        if result.ok:
            return True
        self.failures += 1
        return False


def crashed(spec: CheckSpec, exc: Exception) -> CheckResult:
    """The result of an attempt whose checker raised: unknown for a local reason (out of
    descriptors ...), else a failure saying so (a checker bug must not kill its loop)."""
    if is_local_failure(exc):
        return CheckResult(False, f"unknown: cannot check from here: {exc}", local=True)
    log.exception("checker %s crashed", spec.describe())
    return CheckResult(False, f"checker error: {exc!r}")


def after_attempts(result: CheckResult, tries: int) -> CheckResult:
    """A failed run's final result: its last attempt's, saying how many were made."""
    if tries <= 1:
        return result
    return CheckResult(
        False,
        f"{result.reason} (after {tries} attempts)",
        result.latency,
        result.weight,
        result.started,
        result.finished,
    )
