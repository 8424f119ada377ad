"""One planning pass: each service's plan with its quorum stepped, and the table it wants.

For every service to plan: `desired.plan_service` (pure) with the service's health, then
its quorum is stepped (`quorum.py`, pure) — started on the first pass, where only a quorum
that starts down is news — and the plan is made again when the quorum's answer differs from
the one assumed. Slow start then ramps the weights of servers back in service
(`slowstart.py`). What the dataplane should then hold is each plan's desired service, less
the destinations a timed-out drain keeps out of the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from lvstui.config.schema import VirtualServer
from lvstui.config.state import Overrides, service_key_of
from lvstui.dataplane.base import DesiredService
from lvstui.engine.desired import ServicePlan, plan_service
from lvstui.engine.quorum import initial_quorum, step_quorum
from lvstui.engine.runtime import RuntimeTable
from lvstui.engine.slowstart import SlowStart
from lvstui.model import ServiceKey

__all__ = ["QuorumEvent", "desired_table", "plan_pass"]


@dataclass(frozen=True, slots=True)
class QuorumEvent:
    """A quorum that is news: it changed, or it starts down."""

    plan: ServicePlan
    up: bool
    threshold: int


def plan_pass(
    todo: Iterable[VirtualServer],
    overrides: Overrides,
    runtime: RuntimeTable,
    slow: SlowStart,
    now: float,
    *,
    initial: bool = False,
) -> tuple[dict[ServiceKey, ServicePlan], list[QuorumEvent]]:
    """Plan `todo` (in order), stepping each service's quorum in its runtime record.
    `initial`: the engine's first pass (servers found serving are not ramped)."""
    plans: dict[ServiceKey, ServicePlan] = {}
    events: list[QuorumEvent] = []
    for vs in todo:
        key = service_key_of(vs)
        rec = runtime.at(key)
        health = rec.health_map()
        prev_up = rec.quorum_up
        plan = plan_service(vs, overrides, health, prev_up if prev_up is not None else True)
        if prev_up is None:
            step = initial_quorum(plan.live_weight, vs.quorum, vs.hysteresis)
            news = not step.up
        else:
            step = step_quorum(prev_up, plan.live_weight, vs.quorum, vs.hysteresis)
            news = step.changed
        rec.quorum_up = step.up
        if step.up != plan.quorum_up:
            plan = plan_service(vs, overrides, health, step.up)
        if news:
            events.append(QuorumEvent(plan, step.up, step.threshold))
        plans[key] = slow.apply(plan, rec.plan, now, initial=initial)
    return plans, events


def desired_table(
    plans: dict[ServiceKey, ServicePlan], runtime: RuntimeTable
) -> tuple[DesiredService, ...]:
    """The plans' desired services, without the destinations of expired drains."""
    out: list[DesiredService] = []
    for key, plan in plans.items():
        rec = runtime.get(key)
        expired = rec.expired if rec is not None else set()
        want = plan.desired
        if expired:
            want = replace(want, dests=tuple(d for d in want.dests if d.key not in expired))
        out.append(want)
    return tuple(out)
