"""Config + health + operator overrides + quorum → the desired dataplane table (pure).

Effective weight of a real server, in order of precedence:

1. removed at run time (`ctl remove`) → not in the table at all;
2. drained (`ctl drain`) → weight 0 (stays in the table, so its connections finish);
3. operator weight (`ctl weight`) → that weight;
4. misc_dynamic → the weight the check script returned (exit code − 2);
5. the configured weight (or the `ctl add` weight).

A real server is *alive* when it has no check, when every check passes, or — before its first
result — unless the service has `alpha` set. A dead server leaves the table, or stays at
weight 0 with `inhibit_on_failure`. The *live weight* that the quorum is compared with is the
sum of the effective weights of the alive servers (a drained server counts 0: it takes no new
connection).

While the quorum is down and a sorry server is configured, the sorry server (weight 1) is the
only server taking new connections, following keepalived: alive real servers leave the table
(inhibited ones stay at weight 0). One difference, on purpose: a *drained* server stays at
weight 0 instead of being removed, since removing a kernel destination drops its established
connections — the very thing a drain exists to avoid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from lvstui.config.schema import Config, VirtualServer
from lvstui.config.state import Overrides, service_key_of
from lvstui.dataplane.base import DesiredDest, DesiredService
from lvstui.engine.quorum import initial_quorum
from lvstui.health.weight import sets_weight
from lvstui.model import Health, LbKind, RealKey, ServiceKey

__all__ = [
    "SORRY_WEIGHT",
    "HealthMap",
    "RealHealth",
    "RealPlan",
    "ServicePlan",
    "desired_services",
    "live_weight",
    "plan_reals",
    "plan_service",
    "plan_services",
]

SORRY_WEIGHT = 1  # keepalived gives the sorry server its default weight


@dataclass(frozen=True, slots=True)
class RealHealth:
    """What the health checks say about one real server of one service."""

    health: Health
    weight: int | None = None  # misc_dynamic result; None: use the configured weight


HealthMap = Mapping[tuple[ServiceKey, RealKey], RealHealth]


@dataclass(frozen=True, slots=True)
class RealPlan:
    key: RealKey
    fwd: LbKind
    weight_config: int  # configured (or `ctl add`) weight
    weight: int  # effective weight while in the pool (drain, override, dynamic applied)
    alive: bool
    health: Health
    in_table: bool  # present in the dataplane (possibly at weight 0)
    table_weight: int  # the weight the dataplane gets (0 when inhibited/drained/sorry)
    drained: bool = False
    drain_timeout: float | None = None
    weight_override: int | None = None
    runtime_added: bool = False
    inhibit: bool = False
    has_checks: bool = False
    is_sorry: bool = False
    u_threshold: int = 0
    l_threshold: int = 0


@dataclass(frozen=True, slots=True)
class ServicePlan:
    key: ServiceKey
    vs: VirtualServer
    reals: tuple[RealPlan, ...]
    sorry: RealPlan | None
    live_weight: int
    quorum_up: bool
    sorry_active: bool
    desired: DesiredService


def _alive(h: RealHealth | None, has_checks: bool, alpha: bool) -> tuple[bool, Health]:
    if not has_checks:
        return True, Health.UP
    if h is None or h.health is Health.UNKNOWN:
        return (not alpha), Health.UNKNOWN
    return h.health is Health.UP, h.health


def plan_reals(vs: VirtualServer, overrides: Overrides, health: HealthMap) -> tuple[RealPlan, ...]:
    """Every real server of `vs` after overrides, with its effective weight (quorum up)."""
    key = service_key_of(vs)
    out: list[RealPlan] = []
    seen: set[RealKey] = set()
    members: list[tuple[RealKey, int, LbKind, bool, bool, int, int, bool, bool]] = []
    for rs in vs.real_servers:
        rk = RealKey(rs.ip, rs.port)
        if (key, rk) in overrides.removed or rk in seen:
            continue
        seen.add(rk)
        inhibit = vs.inhibit_on_failure if rs.inhibit_on_failure is None else rs.inhibit_on_failure
        dynamic = any(sets_weight(c) for c in rs.checks)  # misc_dynamic, FILE_CHECK
        members.append(
            (
                rk,
                rs.weight,
                rs.lb_kind or vs.lb_kind,
                inhibit,
                bool(rs.checks),
                rs.uthreshold,
                rs.lthreshold,
                False,
                dynamic,
            )
        )
    for (sk, rk), added in sorted(overrides.added.items(), key=lambda i: str(i[0][1])):
        if sk != key or rk in seen:
            continue
        seen.add(rk)
        members.append(
            (rk, added.weight, added.lb_kind or vs.lb_kind, False, False, 0, 0, True, False)
        )

    for rk, wcfg, fwd, inhibit, has_checks, uth, lth, added_rt, dynamic in members:
        h = health.get((key, rk))
        alive, hstate = _alive(h, has_checks, vs.alpha)
        override = overrides.weights.get((key, rk))
        drained = (key, rk) in overrides.drained
        weight = wcfg
        if dynamic and h is not None and h.weight is not None:
            weight = h.weight
        if override is not None:
            weight = override
        if drained:
            weight = 0
        in_table = alive or inhibit
        out.append(
            RealPlan(
                key=rk,
                fwd=fwd,
                weight_config=wcfg,
                weight=weight,
                alive=alive,
                health=hstate,
                in_table=in_table,
                table_weight=weight if alive else 0,
                drained=drained,
                drain_timeout=overrides.drained.get((key, rk)),
                weight_override=override,
                runtime_added=added_rt,
                inhibit=inhibit,
                has_checks=has_checks,
                u_threshold=uth,
                l_threshold=lth,
            )
        )
    return tuple(out)


def live_weight(reals: tuple[RealPlan, ...]) -> int:
    """keepalived's ``weigh_live_realservers``: sum of effective weights of alive servers."""
    return sum(r.weight for r in reals if r.alive and r.weight > 0)


def plan_service(
    vs: VirtualServer, overrides: Overrides, health: HealthMap, quorum_up: bool | None
) -> ServicePlan:
    """One service's plan; `quorum_up=None` means "starting": use the initial rule."""
    key = service_key_of(vs)
    reals = plan_reals(vs, overrides, health)
    lw = live_weight(reals)
    up = initial_quorum(lw, vs.quorum, vs.hysteresis).up if quorum_up is None else quorum_up
    sorry: RealPlan | None = None
    sorry_active = False
    if vs.sorry_server is not None:
        ss = vs.sorry_server
        sorry_active = not up
        sorry = RealPlan(
            key=RealKey(ss.ip, ss.port),
            fwd=ss.lb_kind or vs.lb_kind,
            weight_config=SORRY_WEIGHT,
            weight=SORRY_WEIGHT,
            alive=sorry_active,
            health=Health.UP if sorry_active else Health.UNKNOWN,
            in_table=sorry_active or ss.inhibit_on_failure,
            table_weight=SORRY_WEIGHT if sorry_active else 0,
            inhibit=ss.inhibit_on_failure,
            is_sorry=True,
        )
        if sorry_active:
            # keepalived's perform_quorum_state(vs, false): alive servers leave the pool
            reals = tuple(_sorry_displaced(r) for r in reals)

    dests: list[DesiredDest] = []
    taken: set[RealKey] = set()
    if sorry is not None and sorry.in_table and sorry_active:
        dests.append(DesiredDest(sorry.key, sorry.table_weight, sorry.fwd))
        taken.add(sorry.key)
    for r in reals:
        if r.in_table and r.key not in taken:
            dests.append(DesiredDest(r.key, r.table_weight, r.fwd, r.u_threshold, r.l_threshold))
            taken.add(r.key)
    if sorry is not None and sorry.in_table and not sorry_active and sorry.key not in taken:
        dests.append(DesiredDest(sorry.key, 0, sorry.fwd))
    desired = DesiredService(
        key=key,
        scheduler=vs.lb_algo,
        flags=frozenset(vs.lb_flags),
        persistence_timeout=vs.persistence_timeout,
        netmask=vs.persistence_granularity,
        dests=tuple(dests),
        proxy_protocol=vs.proxy_protocol,
        app_hash=vs.app_hash,
        udp_idle_timeout=vs.udp_idle_timeout,
    )
    return ServicePlan(key, vs, reals, sorry, lw, up, sorry_active, desired)


def _sorry_displaced(r: RealPlan) -> RealPlan:
    if not r.in_table:
        return r
    if r.inhibit or r.drained:
        return replace(r, table_weight=0)
    return replace(r, in_table=False, table_weight=0)


def plan_services(
    config: Config,
    overrides: Overrides,
    health: HealthMap,
    quorum: Mapping[ServiceKey, bool],
) -> tuple[ServicePlan, ...]:
    return tuple(
        plan_service(vs, overrides, health, quorum.get(service_key_of(vs)))
        for vs in config.virtual_servers
    )


def desired_services(
    config: Config,
    overrides: Overrides,
    health: HealthMap,
    quorum: Mapping[ServiceKey, bool],
) -> tuple[DesiredService, ...]:
    """The whole desired table (what `lvstui.dataplane.reconcile.reconcile` takes)."""
    return tuple(p.desired for p in plan_services(config, overrides, health, quorum))
