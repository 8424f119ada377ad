"""The one path that changes the dataplane's table: plan, reconcile, apply.

A pass plans the services (`planning.py`: plans with quorums stepped), reconciles what they
want with what the dataplane holds (`lvstui.dataplane.reconcile`, pure) and applies only
those operations. A pass over some services (a health transition, an operator command)
looks at those alone: each service reconciles independently. A refused apply counts, is
logged as the refusal log says (`refusals.py`) and asks for a full pass at the next tick;
a full pass that goes through ends the run of refusals. The engine runs passes one at a
time (under its lock) and takes care of what changed (`alerts.py`, snapshots).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from lvstui.config.schema import Config
from lvstui.config.state import Overrides, service_key_of
from lvstui.dataplane.base import Dataplane, DelService, ObservedService, Op
from lvstui.dataplane.reconcile import reconcile
from lvstui.engine.bus import Journal
from lvstui.engine.desired import ServicePlan
from lvstui.engine.persist import StateDir
from lvstui.engine.planning import QuorumEvent, desired_table, plan_pass
from lvstui.engine.refusals import RefusalLog
from lvstui.engine.runtime import RuntimeTable
from lvstui.engine.slowstart import SlowStart
from lvstui.engine.snat import SourceNat
from lvstui.errors import LvstuiError
from lvstui.model import ServiceKey

__all__ = ["Pass", "TableSync"]


@dataclass(frozen=True, slots=True)
class Pass:
    """What a pass changed: the plans before and after (of the services it planned)."""

    before: dict[ServiceKey, ServicePlan]
    after: dict[ServiceKey, ServicePlan]
    quorum_events: list[QuorumEvent]


class TableSync:
    def __init__(
        self,
        dataplane: Dataplane,
        runtime: RuntimeTable,
        state: StateDir,
        journal: Journal,
        now: Callable[[], float],
        source_nat: SourceNat | None = None,
    ) -> None:
        self._dp = dataplane
        self._snat = source_nat
        self._snat_warned = False
        self._rt = runtime
        self._state = state
        self._journal = journal
        self._now = now
        self._refusals = RefusalLog()
        self.slow = SlowStart()  # slow_start ramps of servers back in service
        self.apply_errors = 0
        self.retry = False  # a refused apply: the next tick asks for a full pass

    async def run(
        self,
        config: Config,
        overrides: Overrides,
        why: str,
        only: AbstractSet[ServiceKey] | None = None,
        *,
        initial: bool = False,
    ) -> Pass:
        if initial and config.global_defs.lvs_flush:
            await self._flush()
        before = self._rt.plans()
        todo = [vs for vs in config.virtual_servers if only is None or service_key_of(vs) in only]
        now = self._now()
        plans, quorum_events = plan_pass(todo, overrides, self._rt, self.slow, now, initial=initial)
        self._rt.replan(plans, full=only is None)
        # a drain that timed out keeps its destination out of the kernel table (drainer.py)
        self._rt.keep_expired(overrides.drained)
        observed = await self._apply(plans, why, only)
        self._rt.observe(observed)
        await self._follow_snat(config, observed)
        if only is None:
            # forget owned keys gone for good (removed from the config and from the table)
            there = {s.key for s in observed}
            owned = {k for k in self._state.owned if k in plans or k in there}
            self._state.owned = owned | {sk for sk, _ in overrides.pairs()}
            self._rt.prune()
        await self._state.save_owned()
        return Pass(before, plans, quorum_events)

    async def _apply(
        self, plans: dict[ServiceKey, ServicePlan], why: str, only: AbstractSet[ServiceKey] | None
    ) -> Sequence[ObservedService]:
        """Reconcile and apply; what the dataplane holds afterwards."""
        desired = desired_table(plans, self._rt)
        owned = self._state.owned
        observed = await self._dp.observe()
        if only is None:
            ops = reconcile(desired, observed, owned)
        else:
            ops = reconcile(desired, [o for o in observed if o.key in only], owned & only)
        if not ops:
            if only is None:
                self._accepted()
            return observed
        try:
            await self._dp.apply(ops)
        except LvstuiError as e:
            self.apply_errors += 1
            self.retry = True
            self._journal.say("error", self._refusals.refused(why, str(e), self._now()))
        else:
            if only is None:
                self._accepted()
        return await self._dp.observe()

    async def _follow_snat(self, config: Config, observed: Sequence[ObservedService]) -> None:
        """The source-NAT rule after the table (snat.py); a failure retries at the next tick."""
        if self._snat is None:
            return
        if not self._dp.capabilities.source_nat:
            if any(vs.source_nat for vs in config.virtual_servers) and not self._snat_warned:
                self._snat_warned = True  # once: the dataplane does not change while we run
                self._journal.log(
                    "warning",
                    f"source_nat: the {self._dp.capabilities.name} dataplane has no kernel NAT; "
                    "ignored (the userspace forwarder proxies: servers see the director anyway)",
                )
            return
        if error := await self._snat.follow(config, observed):
            self._journal.log("error", error)
        if self._snat.applied is None:
            self.retry = True

    async def set_timeouts(self, config: Config, old: Config | None) -> None:
        """global_defs.lvs_timeouts (ipvsadm --set): at start, and on a reload that changes
        them. Timeouts a reload removes stay as they are (the kernel has no "default")."""
        want = config.global_defs.lvs_timeouts
        if want is None or (old is not None and old.global_defs.lvs_timeouts == want):
            return
        caps = self._dp.capabilities
        if not caps.timeouts:
            self._journal.log(
                "warning",
                f"lvs_timeouts: the {caps.name} dataplane has no IPVS timeouts; ignored "
                "(udp_idle_timeout is its UDP one)",
            )
            return
        try:
            await self._dp.set_timeouts(want.tcp, want.tcpfin, want.udp)
        except LvstuiError as e:  # DataplaneError, named
            self._journal.log("error", str(e))

    async def _flush(self) -> None:
        """global_defs.lvs_flush: every service goes at start, ours or not (keepalived's)."""
        observed = await self._dp.observe()
        if observed:
            await self._dp.apply([DelService(s.key) for s in observed])
            self._journal.log("info", f"lvs_flush: removed {len(observed)} IPVS service(s)")

    async def release(self, everything: bool = False) -> None:
        """Remove the services we own (a stop, like keepalived without --dont-release-ipvs);
        `everything` (lvs_flush_on_stop "full"): every service, ours or not."""
        observed = await self._dp.observe()
        owned = self._state.owned
        ops: list[Op] = [DelService(s.key) for s in observed if everything or s.key in owned]
        if ops:
            await self._dp.apply(ops)
        self._state.owned = owned - {s.key for s in observed if s.key in owned}
        await self._state.save_owned()
        if self._snat is not None:
            await self._snat.release()

    def _accepted(self) -> None:
        """A full pass went through: end (and say so) a run of refusals."""
        self.retry = False
        self._journal.say("info", self._refusals.accepted(self._now()))
