"""Slow start (HAProxy's `slowstart`): a real server that comes back into service ramps from a
small weight to its weight over `slow_start` seconds, so a cold cache or a JIT-less JVM is
not handed its full share of new connections at once.

"Comes back": it was not taking new connections in the previous plan and is now (its check
went up, it was undrained, added by `ctl add` or a reload, its weight raised from 0). Not
at start: servers found serving when the director starts are not ramped (HAProxy neither).

Pure. `ramp_weight` is the weight at a time; `SlowStart.apply` adjusts a service plan
(the real servers' table weights and the desired dataplane weights) and remembers when each
server came back. The ramp moves in steps of max(1 s, slow_start / 20): the engine
re-plans the ramping services once a second, and each step is one weight change the
dataplane applies (`ipvsadm -e -w`, or the userspace scheduler's table).
"""

from __future__ import annotations

import math
from dataclasses import replace

from lvstui.engine.desired import RealPlan, ServicePlan
from lvstui.model import RealKey, ServiceKey

__all__ = ["MIN_STEP", "STEPS", "SlowStart", "ramp_weight"]

STEPS = 20  # a ramp has at most this many steps
MIN_STEP = 1.0  # seconds: no step shorter than the engine's tick


def ramp_weight(weight: int, since: float, now: float, duration: float) -> tuple[int, bool]:
    """(the weight at `now` of a server back in service since `since`, still ramping?).

    Linear in steps: during step k (k = 1 … n, each `max(MIN_STEP, duration / STEPS)` long)
    the weight is ceil(weight × k × step / duration), at least 1, at most `weight`."""
    if duration <= 0 or weight <= 1 or now >= since + duration:
        return weight, False
    step = max(MIN_STEP, duration / STEPS)
    k = int(max(0.0, now - since) // step) + 1
    w = max(1, min(weight, math.ceil(weight * min(1.0, k * step / duration) - 1e-9)))
    return w, True


def _serving(r: RealPlan) -> bool:
    return r.in_table and r.table_weight > 0


class SlowStart:
    """When each real server came back, and the ramp applied to the plans."""

    def __init__(self) -> None:
        self._since: dict[tuple[ServiceKey, RealKey], float] = {}

    def ramping(self) -> set[ServiceKey]:
        """Services with a server still ramping (the engine re-plans them each tick)."""
        return {sk for sk, _ in self._since}

    def until(self, service: ServiceKey, real: RealKey, plan: ServicePlan) -> float | None:
        """When the ramp of `real` ends (None: not ramping)."""
        since = self._since.get((service, real))
        if since is None:
            return None
        return since + _duration(plan, real)

    def forget(self, service: ServiceKey) -> None:
        for pair in [p for p in self._since if p[0] == service]:
            del self._since[pair]

    def apply(
        self, plan: ServicePlan, old: ServicePlan | None, now: float, *, initial: bool = False
    ) -> ServicePlan:
        key = plan.key
        before = {r.key: _serving(r) for r in old.reals} if old is not None else {}
        reals: list[RealPlan] = []
        weights: dict[RealKey, int] = {}
        for r in plan.reals:
            pair = (key, r.key)
            duration = _duration(plan, r.key)
            if not _serving(r) or duration <= 0 or plan.sorry_active:
                self._since.pop(pair, None)
                reals.append(r)
                continue
            if pair not in self._since and not initial and not before.get(r.key, False):
                self._since[pair] = now  # back in service: the ramp starts
            since = self._since.get(pair)
            if since is None:
                reals.append(r)
                continue
            w, still = ramp_weight(r.table_weight, since, now, duration)
            if not still:
                del self._since[pair]
                reals.append(r)
                continue
            weights[r.key] = w
            reals.append(replace(r, table_weight=w))
        if not weights:
            return plan
        dests = tuple(
            replace(d, weight=weights[d.key]) if d.key in weights else d for d in plan.desired.dests
        )
        return replace(plan, reals=tuple(reals), desired=replace(plan.desired, dests=dests))


def _duration(plan: ServicePlan, real: RealKey) -> float:
    for rs in plan.vs.real_servers:
        if (rs.ip, rs.port) == (real.addr, real.port):
            return rs.slow_start if rs.slow_start is not None else plan.vs.slow_start
    return plan.vs.slow_start  # added at run time (`ctl add`): the service's
