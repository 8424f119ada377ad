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
from collections.abc import Hashable
from typing import Generic, TypeVar

from lvstui.health.base import Checker, CheckSpec
from lvstui.health.state import CheckState
from lvstui.health.weight import sets_weight

__all__ = ["Probe", "Subscription", "run_budget", "stale_after"]

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
        self.task: asyncio.Task[None] | None = None
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
