"""What the engine shows: its runtime records → immutable views and snapshots (pure).

Nothing here changes state or does I/O: a service's view is a function of its plan, its
runtime record (what the dataplane holds, drains, paused checks), the health checks' own
views and the recorded history; a snapshot gathers the views with the director's identity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace

from lvstui.config.schema import Config
from lvstui.dataplane.base import ObservedDest
from lvstui.dataplane.hashorder import ORDERED_SCHEDULERS, hash_digest
from lvstui.engine.desired import RealPlan, ServicePlan
from lvstui.engine.edges import Pair
from lvstui.engine.hasuspend import SUSPENDED_REASON
from lvstui.engine.runtime import ServiceRuntime
from lvstui.engine.stats import StatsHistory
from lvstui.model import (
    AnnounceView,
    CheckView,
    DrainState,
    GroupView,
    Health,
    RealKey,
    RealServerView,
    ServiceKey,
    ServiceView,
    Snapshot,
    Stats,
    VrrpView,
)

__all__ = ["Identity", "service_view", "snapshot", "updated_snapshot"]

# the check views of a real server (empty when it has no checks, or no longer)
CheckViews = Callable[[Pair], tuple[CheckView, ...]]
# slow start: the wall time a real server's ramp ends (None: not ramping)
RampUntil = Callable[[ServicePlan, RealKey], float | None]


@dataclass(frozen=True, slots=True)
class Identity:
    """What a snapshot says about the director itself."""

    dataplane: str
    dataplane_reason: str


def snapshot(
    seq: int,
    time: float,
    config: Config,
    identity: Identity,
    services: Iterable[ServiceView],
    vrrp: tuple[VrrpView, ...],
    check_lag: float = 0.0,
    group: GroupView | None = None,
    announce: AnnounceView | None = None,
) -> Snapshot:
    return Snapshot(
        seq=seq,
        time=time,
        router_id=config.global_defs.router_id,
        config_path=config.path,
        dataplane=identity.dataplane,
        dataplane_reason=identity.dataplane_reason,
        directors=config.lvstui.directors,
        services=tuple(services),
        vrrp=vrrp,
        check_lag=check_lag,
        group=group,
        announce=announce,
    )


def updated_snapshot(
    last: Snapshot,
    seq: int,
    time: float,
    planned: Iterable[tuple[ServiceRuntime, ServicePlan]],
    only: AbstractSet[ServiceKey],
    view: Callable[[ServiceRuntime, ServicePlan], ServiceView],
    vrrp: tuple[VrrpView, ...],
) -> Snapshot:
    """`last` with fresh views of the services in `only` (and of any it did not have)."""
    known = {v.key: v for v in last.services}
    services = tuple(
        view(rec, plan) if rec.key in only or rec.key not in known else known[rec.key]
        for rec, plan in planned
    )
    return replace(last, seq=seq, time=time, services=services, vrrp=vrrp)


def service_view(
    rec: ServiceRuntime,
    plan: ServicePlan,
    checks: CheckViews,
    history: StatsHistory,
    ramp_until: RampUntil,
) -> ServiceView:
    vs = plan.vs
    obs = rec.observed
    odests = {d.key: d for d in obs.dests} if obs else {}
    names = {(rs.ip, rs.port): rs.name for rs in vs.real_servers if rs.name}
    reals = [
        _real_view(rec, r, odests.get(r.key), checks, history, ramp_until(plan, r.key), names)
        for r in plan.reals
    ]
    if plan.sorry is not None:
        s = plan.sorry
        d = odests.get(s.key)
        reals.append(
            RealServerView(
                key=s.key,
                fwd=s.fwd,
                weight_config=s.weight_config,
                weight=s.table_weight,
                health=Health.UP if plan.sorry_active else Health.UNKNOWN,
                active_conns=d.active_conns if d else 0,
                inact_conns=d.inact_conns if d else 0,
                persist_conns=d.persist_conns if d else 0,
                stats=d.stats if d else Stats(),
                is_sorry=True,
                in_table=s.in_table,
                history=history.real(plan.key, s.key),
            )
        )
    return ServiceView(
        key=plan.key,
        scheduler=vs.lb_algo,
        lb_kind=vs.lb_kind,
        name=vs.name or "",
        flags=tuple(sorted(vs.lb_flags)),
        persistence_timeout=vs.persistence_timeout,
        persistence_netmask=vs.persistence_granularity,
        quorum=vs.quorum,
        hysteresis=vs.hysteresis,
        live_weight=plan.live_weight,
        quorum_up=plan.quorum_up,
        sorry_active=plan.sorry_active,
        sorry_server=plan.sorry.key if plan.sorry else None,
        real_servers=tuple(reals),
        stats=obs.stats if obs else Stats(),
        history=history.service(plan.key),
        hash_table=hash_digest(obs.scheduler, obs.flags, obs.dests)
        if obs is not None and obs.scheduler.lower() in ORDERED_SCHEDULERS
        else "",
    )


def _real_view(
    rec: ServiceRuntime,
    r: RealPlan,
    d: ObservedDest | None,
    checks: CheckViews,
    history: StatsHistory,
    ramp_until: float | None,
    names: Mapping[tuple[str, int], str],
) -> RealServerView:
    track = rec.drains.get(r.key)
    drain = track.state if track else (DrainState.DRAINING if r.drained else DrainState.NONE)
    views = checks((rec.key, r.key))
    if r.key in rec.suspended:
        views = tuple(
            replace(
                c,
                last_reason=SUSPENDED_REASON
                + (f"; last: {c.last_reason}" if c.last_reason else ""),
            )
            for c in views
        )
    return RealServerView(
        key=r.key,
        fwd=d.fwd if d else r.fwd,
        weight_config=r.weight_config,
        weight=r.table_weight if r.in_table else 0,
        health=r.health,
        active_conns=d.active_conns if d else 0,
        inact_conns=d.inact_conns if d else 0,
        persist_conns=d.persist_conns if d else 0,
        stats=d.stats if d else Stats(),
        drain=drain,
        weight_override=r.weight_override,
        runtime_added=r.runtime_added,
        in_table=r.in_table,
        checks=views,
        history=history.real(rec.key, r.key),
        ramp_until=ramp_until,
        name=names.get((r.key.addr, r.key.port), ""),
    )
