"""The engine: config + health + VRRP + operator commands → the dataplane, snapshots, events.

    engine = Engine(config, dataplane=MemoryDataplane(), state_dir="/var/lib/lvstui")
    await engine.start()            # adopt what the dataplane holds, reconcile, run tasks
    snap = engine.snapshot()        # immutable Snapshot (model.py)
    async for ev in engine.subscribe(): ...
    await engine.call(Drain(svc, real), who="uid 0")
    await engine.reload(dry_run=True)
    await engine.stop()

This class keeps the loop and the wiring between the parts (docs/architecture.md maps
them). Every change of the table is one pass (`table.py`) under one lock, so a health
transition, an operator command and a reload never interleave. A stop removes the services
the engine created, as keepalived does; `stop(release=False)` is its --dont-release-ipvs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import Callable, Sequence

from lvstui import model as m
from lvstui.clock import Clock, SystemClock
from lvstui.config.load import load_config
from lvstui.config.schema import Config
from lvstui.config.state import Overrides, service_key_of, unmatched_overrides
from lvstui.dataplane.base import Dataplane
from lvstui.describe import describe_command
from lvstui.engine.alerts import Alerts, notify_fifos
from lvstui.engine.bus import EventBus, Journal, Subscription
from lvstui.engine.checks import check_views, register_checks
from lvstui.engine.desired import RealHealth
from lvstui.engine.drainer import Drainer
from lvstui.engine.edges import (
    CheckerFactory,
    GroupEdge,
    HealthSource,
    Mailer,
    Pair,
    VrrpDriver,
)
from lvstui.engine.ha import Ha
from lvstui.engine.operator import Operator
from lvstui.engine.persist import StateDir
from lvstui.engine.reload import Reloader
from lvstui.engine.runtime import RuntimeTable
from lvstui.engine.snapshots import Snapshots
from lvstui.engine.snat import SourceNat
from lvstui.engine.stats import StatsHistory
from lvstui.engine.supervisor import Supervisor
from lvstui.engine.table import TableSync
from lvstui.errors import CommandError, LvstuiError
from lvstui.health.build import build_checkers
from lvstui.notify.scripts import ScriptRunner

__all__ = ["Engine"]

log = logging.getLogger("lvstui.engine")


class Engine:
    def __init__(
        self,
        config: Config,
        *,
        dataplane: Dataplane,
        clock: Clock | None = None,
        health: HealthSource | None = None,
        checkers: CheckerFactory | None = None,
        vrrp: VrrpDriver | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        notifier: ScriptRunner | None = None,
        mailer: Mailer | None = None,
        tick: float = 1.0,
        history: int = 300,
        config_loader: Callable[[str], Config] | None = None,
        dataplane_reason: str = "",
        group: GroupEdge | None = None,
        announce: Callable[[], m.AnnounceView | None] | None = None,  # announce/state.py
        source_nat: SourceNat | None = None,
    ) -> None:
        self._config = config
        self._dp = dataplane
        self._clock: Clock = clock or SystemClock()
        self._monitor = health
        self._checkers: CheckerFactory = checkers or build_checkers
        self._vrrp = vrrp
        self._tick = tick
        self._bus = EventBus(wall=self._clock.wall)
        self._journal = j = Journal(self._bus, log)
        self._history = StatsHistory(history)
        nt = config.lvstui.notify_timeout
        self.notifier = notifier or ScriptRunner(timeout=nt, wall=self._clock.wall)
        self.notifier.on_result = j.publish
        self.fifos = notify_fifos(self.notifier, config)
        self.mailer = mailer
        if mailer is not None and mailer.on_result is None:
            mailer.on_result = j.publish
        self._rt = RuntimeTable()
        self._state = StateDir(state_dir, j)
        self._ha = Ha(dataplane, health, vrrp, j)
        self._alerts = Alerts(self.notifier, mailer, j)
        self._drainer = Drainer(dataplane, j)
        self._table = TableSync(dataplane, self._rt, self._state, j, self._clock.now, source_nat)
        checks = functools.partial(check_views, health)
        shown = (self._rt, self._history, self._ha, checks, dataplane, dataplane_reason)
        self._views = Snapshots(*shown, self._clock, self._table.slow, group, announce)
        loader = config_loader or load_config
        parts = (self._rt, self._state, self._alerts, self._ha, self._table, health, self._checkers)
        self._reloader = Reloader(loader, dataplane, *parts, j, self._sync)
        self._op = Operator(
            self._state, self._rt, self._drainer, group, j, self._sync_some, self._refresh
        )
        self._lock = asyncio.Lock()
        self._reload_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._dirty: set[m.ServiceKey] = set()  # services with health news for the reconciler
        self._full_sync = False
        self._sup: Supervisor | None = None
        self._started = False

    # --- public API ----------------------------------------------------------------------

    @property
    def config(self) -> Config:
        return self._config

    @property
    def overrides(self) -> Overrides:
        return self._op.overrides

    @property
    def dataplane(self) -> Dataplane:
        return self._dp

    @property
    def apply_errors(self) -> int:
        """Operations the dataplane refused since the start."""
        return self._table.apply_errors

    async def start(self) -> None:
        """Adopt the dataplane's table, load overrides, reconcile, start the tasks."""
        if self._started:
            return
        self._op.overrides = await self._state.load(self._config)
        await self._dp.start()
        vrrp_started = False
        try:
            for line in unmatched_overrides(self._op.overrides, self._config):
                self.log("warning", f"override: {line}")
            await self._state.adopt(self._config, self._op.overrides)
            if self._monitor is not None:
                self._monitor.on_change = self._on_health
                self._monitor.on_stale = self._on_stale
                register_checks(self._monitor, self._checkers, self._rt, self._config, reload=False)
            if self._vrrp is not None:
                await self._vrrp.start()
                vrrp_started = True
                self._ha.started()
            self._ha.update_suspend(self._config, self._rt)
            await self._sync("start", initial=True)
            await self._ha.update_sync_role(self._config)
            await self._table.set_timeouts(self._config, None)
        except BaseException:
            # leave nothing half-started behind (the table itself is adopted, never flushed)
            if vrrp_started and self._vrrp is not None:
                with contextlib.suppress(Exception):
                    await self._vrrp.stop(False)
            with contextlib.suppress(Exception):
                await self._dp.close()
            raise
        self._sup = Supervisor(clock=self._clock, on_crash=self._journal.crashed)
        tasks = [("ticker", self._ticker), ("reconciler", self._reconciler)]
        tasks.append(("notify", self.notifier.run))
        if self.fifos is not None:
            tasks.append(("notify-fifo", self.fifos.run))
        if self._monitor is not None:
            tasks.append(("health", self._monitor.run))
        if self._vrrp is not None:
            tasks.append(("vrrp-events", self._vrrp_events))
        if self.mailer is not None:
            tasks.append(("mail", self.mailer.run))
        for name, task in tasks:
            self._sup.add(name, task)
        self._sup.start()
        self._started = True
        self._views.publish(self._config)
        self.log("info", f"engine started on the {self._dp.capabilities.name} dataplane")

    async def stop(self, graceful: bool = True, *, release: bool = True) -> None:
        """Leave: VRRP priority-0 advert (graceful), remove our services (release, like
        keepalived without `--dont-release-ipvs`), let queued notifies and mails finish
        (bounded), close the dataplane."""
        if not self._started:
            return
        self._started = False
        if self._vrrp is not None:
            try:
                await self._vrrp.stop(graceful)
            except Exception as e:  # never let VRRP trouble keep the table in place
                log.error("vrrp stop failed: %s", e)
        if self._monitor is not None:
            self._monitor.stop()
        if release:
            await self._release()
        await self._ha.leave()
        await self._alerts.finish()  # the workers still run: queued scripts and mails
        if self._sup is not None:
            await self._sup.stop()
            self._sup = None
        await self._dp.close()
        self._bus.close()

    async def _release(self) -> None:
        """Remove the services we own; run the omega quorum_down scripts."""
        async with self._lock:
            try:
                await self._table.release(self._config.global_defs.lvs_flush_on_stop == "full")
            except LvstuiError as e:
                log.error("removing services on stop failed: %s", e)
        for vs in self._config.virtual_servers:
            rec = self._rt.get(key := service_key_of(vs))
            self._alerts.omega(vs, key, bool(rec and rec.quorum_up))

    def snapshot(self) -> m.Snapshot:
        return self._views.make(self._config)

    def published_snapshot(self) -> m.Snapshot:
        """The last snapshot published (once a second and after every change); safe to
        read from another thread (metrics)."""
        return self._views.published(self._config)

    def counters(self) -> dict[str, int]:
        """Counters for metrics: scripts, mails, dataplane errors."""
        out = {**self._alerts.counters(), "dataplane_errors": self._table.apply_errors}
        out |= {m.VRRP_DROP_PREFIX + why: n for why, n in self._ha.drops().items()}
        return out | {"state_save_failures": self._state.save_failures}

    def subscribe(self, maxsize: int | None = None, *, replay: bool = False) -> Subscription:
        """Events from now on (`replay`: the recent ones first); `close()` to stop."""
        return self._bus.subscribe(maxsize, replay=replay)

    def set_health(
        self,
        service: m.ServiceKey,
        real: m.RealKey,
        health: m.Health,
        weight: int | None = None,
        reason: str = "",
    ) -> None:
        """Feed a health transition (what the HealthMonitor's callback does; tests use it)."""
        self._on_health((service, real), health, weight, reason)

    async def call(self, command: m.Command, who: str = "local") -> m.CommandResult:
        """Run one operator command; validation errors come back as ok=False results."""
        try:
            match command:
                case m.Reload(dry_run=dry_run, force=force):  # it says what it did
                    return await self.reload(dry_run=dry_run, who=who, force=force)
                case m.Drain() | m.Undrain() | m.SetWeight() | m.AddReal() | m.RemoveReal():
                    caps = self._dp.capabilities
                    result = await self._op.command(command, self._config, caps, who)
        except CommandError as e:
            result = m.CommandResult(False, e.message, e.hint)
        except LvstuiError as e:
            result = m.CommandResult(False, str(e))
        self._journal.operator(who, describe_command(command), result)
        return result

    async def reload(
        self,
        new_config: Config | None = None,
        *,
        dry_run: bool = False,
        who: str = "local",
        force: bool = False,
    ) -> m.CommandResult:
        """Parse (unless given), validate, diff, apply only the difference. A broken config
        leaves the running one in place and returns ok=False with the error; so does one
        that removes every service or more than `reload_max_removal` of them, unless `force`.
        """
        async with self._reload_lock:  # SIGHUP and `ctl reload` at once: one after the other
            return await self._reload(new_config, dry_run=dry_run, who=who, force=force)

    def log(self, level: str, message: str) -> None:
        """Log `message` and publish it as a LogEvent (the console's and clients' log)."""
        self._journal.log(level, message)

    async def _reload(
        self, new: Config | None, *, dry_run: bool, who: str, force: bool
    ) -> m.CommandResult:
        config, overrides = self._config, self._op.overrides
        return await self._reloader.run(
            config, new, overrides, self._swap, dry_run=dry_run, force=force, who=who
        )

    def _swap(self, new: Config) -> None:
        self._config = new

    async def apply_group(self, new: Overrides, actions: Sequence[tuple[str, str]]) -> None:
        """Overrides changed by a peer of the director group (`actions`: what and who, e.g.
        ("drain TCP 198.51.100.9:80 198.51.100.21:80", "uid 0 (root) on lb1")): persisted,
        applied and announced like a command typed here."""
        await self._op.from_group(new, actions, self._started)

    def group_alert(self, level: str, message: str) -> None:
        """Something the director group saw: logged, mailed when it is an error."""
        self._alerts.group_alert(self._config, level, message)

    # --- the loop --------------------------------------------------------------------------

    async def _sync(
        self, why: str, *, initial: bool = False, only: set[m.ServiceKey] | None = None
    ) -> None:
        """One pass of the table (`table.py`), then the side effects of what changed."""
        async with self._lock:
            ov = self._op.overrides
            done = await self._table.run(self._config, ov, why, only, initial=initial)
            self._alerts.after_sync(
                self._config, done.before, done.after, done.quorum_events, initial
            )
            self._views.publish(self._config, None if only is None else set(done.after))

    async def _sync_some(self, why: str, only: set[m.ServiceKey] | None) -> None:
        await self._sync(why, only=only)

    def _refresh(self, services: set[m.ServiceKey]) -> None:
        self._views.publish(self._config, services)

    async def _reconciler(self) -> None:
        """Apply health transitions: woken by the health callback, coalesces bursts."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            full, self._full_sync = self._full_sync, False
            dirty, self._dirty = self._dirty, set()
            await self._sync("health", only=None if full else dirty)

    async def _ticker(self) -> None:
        """Once a second: observe the dataplane, record history, follow drains."""
        while True:
            await self._clock.sleep(self._tick)
            await self.tick()

    async def tick(self) -> None:
        """One periodic step (public so tests can step it with a FakeClock)."""
        async with self._lock:
            observed = await self._dp.observe()
            self._rt.observe(observed)
            self._history.sample(observed, now := self._clock.now())
            await self._ha.update_sync_role(self._config)  # a no-op unless it was refused
            timeout = self._config.lvstui.drain_timeout
            await self._drainer.follow(self._rt, self._op.overrides.drained, timeout, now)
            if self._monitor is not None:
                self._views.check_lag = self._monitor.take_lag()
            self._alerts.report_stale(self._config, self._rt.plans())
            self._views.publish(self._config)
        ramping = self._table.slow.ramping()
        if ramping:  # slow start: the next step of each ramp (re-planned once a tick)
            self._dirty |= ramping
            self._wake.set()
        if self._table.retry:
            self._full_sync = True  # a refused apply is retried (full reconcile) every tick
            self._wake.set()

    # --- callbacks -------------------------------------------------------------------------

    def _on_health(self, key: Pair, health: m.Health, weight: int | None, reason: str) -> None:
        svc, real = key
        self._rt.set_health(key, RealHealth(health, weight))
        self._dirty.add(svc)
        if weight is None:
            plan = self._rt.plan(svc)
            r = next((r for r in plan.reals if r.key == real), None) if plan else None
            weight = r.weight_config if r else 0  # what it is configured with
        now = self._clock.wall()
        self._journal.publish(m.HealthChanged(now, svc, real, health, reason, weight))
        self._wake.set()

    def _on_stale(self, key: Pair, stale: bool, reason: str) -> None:
        self._alerts.check_stale(key, stale, reason)  # shown at once, said at the next tick
        self._dirty.add(key[0])
        self._wake.set()

    async def _vrrp_events(self) -> None:
        """Relay the VRRP driver's events; HA and alerts follow its transitions (its notify
        scripts are its own: give it runner=engine.notifier to queue them behind ours)."""
        assert self._vrrp is not None
        async for ev in self._vrrp.events():
            self._journal.publish(ev)
            if isinstance(ev, m.VrrpChanged):
                changed = await self._ha.transition(ev, self._config, self._rt)
                if changed:
                    self._views.publish(self._config, changed)
                self._alerts.vrrp_changed(self._config, ev)
