"""What the engine knows about each virtual service at run time: one record per service.

The configuration says what a service should be; a `ServiceRuntime` holds what has happened
to it since: its last plan, its quorum, what the dataplane holds, each real server's health,
the drains being followed, the destinations a timed-out drain keeps out of the table, and
the real servers whose checks ha_suspend has paused. A record lives as long as any of that
does (health can arrive before the first plan; a drain outlives a reload that drops its
service, and resumes if the service comes back).

`RuntimeTable` keeps the records in plan order: the configuration's order, which is the
order of the snapshot's services.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from lvstui.dataplane.base import ObservedService
from lvstui.engine.desired import RealHealth, ServicePlan
from lvstui.engine.drain import DrainTrack
from lvstui.engine.edges import Pair
from lvstui.model import RealKey, ServiceKey

__all__ = ["RuntimeTable", "ServiceRuntime"]


@dataclass(slots=True)
class ServiceRuntime:
    key: ServiceKey
    plan: ServicePlan | None = None  # the last plan; None: not (or no longer) configured
    quorum_up: bool | None = None  # None: not stepped yet (the next plan starts it)
    observed: ObservedService | None = None  # what the dataplane held at the last look
    health: dict[RealKey, RealHealth] = field(default_factory=dict)
    drains: dict[RealKey, DrainTrack] = field(default_factory=dict)
    expired: set[RealKey] = field(default_factory=set)  # drain timed out: out of the table
    suspended: set[RealKey] = field(default_factory=set)  # ha_suspend: checks paused

    def health_map(self) -> dict[Pair, RealHealth]:
        """This service's health, keyed as `desired.plan_service` reads it."""
        return {(self.key, real): h for real, h in self.health.items()}

    def idle(self) -> bool:
        """Nothing left to remember (the record can go)."""
        return (
            self.plan is None
            and self.quorum_up is None
            and not (self.health or self.drains or self.expired or self.suspended)
        )


class RuntimeTable:
    def __init__(self) -> None:
        self._records: dict[ServiceKey, ServiceRuntime] = {}

    def get(self, key: ServiceKey) -> ServiceRuntime | None:
        return self._records.get(key)

    def at(self, key: ServiceKey) -> ServiceRuntime:
        """The record of `key`, made when there is none."""
        rec = self._records.get(key)
        if rec is None:
            rec = self._records[key] = ServiceRuntime(key)
        return rec

    def __iter__(self) -> Iterator[ServiceRuntime]:
        return iter(list(self._records.values()))

    def planned(self) -> Iterator[tuple[ServiceRuntime, ServicePlan]]:
        """The configured services with their plans, in plan order."""
        for rec in self._records.values():
            if rec.plan is not None:
                yield rec, rec.plan

    def plan(self, key: ServiceKey) -> ServicePlan | None:
        rec = self._records.get(key)
        return rec.plan if rec is not None else None

    def plans(self) -> dict[ServiceKey, ServicePlan]:
        return {rec.key: plan for rec, plan in self.planned()}

    def replan(self, plans: Mapping[ServiceKey, ServicePlan], *, full: bool) -> None:
        """Take new plans. `full`: these are all the plans, in the configuration's order
        (the others are dropped and the records reordered); else only these changed."""
        if full:
            records = {k: self.at(k) for k in plans}
            for key, rec in self._records.items():
                if key not in records:
                    rec.plan = None
                    records[key] = rec
            self._records = records
        for key, plan in plans.items():
            self.at(key).plan = plan

    def observe(self, observed: Iterable[ObservedService]) -> None:
        """What the dataplane holds now (services without a record are not ours to show)."""
        seen = {s.key: s for s in observed}
        for rec in self._records.values():
            rec.observed = seen.get(rec.key)

    def set_health(self, pair: Pair, health: RealHealth) -> None:
        self.at(pair[0]).health[pair[1]] = health

    def forget_health(self, pair: Pair) -> None:
        rec = self._records.get(pair[0])
        if rec is not None:
            rec.health.pop(pair[1], None)

    def drain_track(self, pair: Pair) -> DrainTrack | None:
        rec = self._records.get(pair[0])
        return rec.drains.get(pair[1]) if rec is not None else None

    def expired_pairs(self) -> set[Pair]:
        return {(rec.key, real) for rec in self._records.values() for real in rec.expired}

    def keep_expired(self, drained: Iterable[Pair]) -> None:
        """Only a drain that lasts keeps its destination out of the table."""
        still = set(drained)
        for rec in self._records.values():
            rec.expired = {r for r in rec.expired if (rec.key, r) in still}

    def suspended_pairs(self) -> set[Pair]:
        return {(rec.key, real) for rec in self._records.values() for real in rec.suspended}

    def set_suspended(self, pairs: Iterable[Pair]) -> None:
        wanted: dict[ServiceKey, set[RealKey]] = {}
        for sk, real in pairs:
            wanted.setdefault(sk, set()).add(real)
        for rec in self._records.values():
            rec.suspended = wanted.pop(rec.key, set())
        for sk, reals in wanted.items():
            self.at(sk).suspended = reals

    def prune(self) -> None:
        """Drop the records with nothing left in them."""
        self._records = {k: r for k, r in self._records.items() if not r.idle()}
