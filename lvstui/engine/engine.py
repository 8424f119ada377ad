"""The engine: config + health + VRRP + operator commands → the dataplane, snapshots, events.

    engine = Engine(config, dataplane=MemoryDataplane(), state_dir="/var/lib/lvstui")
    await engine.start()            # adopt what the dataplane holds, reconcile, run tasks
    snap = engine.snapshot()        # immutable Snapshot (model.py)
    async for ev in engine.subscribe(): ...
    await engine.call(Drain(svc, real), who="uid 0")
    await engine.reload(dry_run=True)
    await engine.stop()

Everything that changes the table goes through one path, `_sync`: plan every service
(`desired.py`, pure), step each quorum (`quorum.py`, pure), reconcile desired vs observed
(`lvstui.dataplane.reconcile`, pure) and apply only those operations; then run the
side effects of what changed (notify scripts, mails, events). `_sync` runs under one lock,
so a health transition, an operator command and a reload never interleave.

Stopping follows keepalived: it removes the virtual servers it created (keepalived does so
unless started with `--dont-release-ipvs`); `stop(release=False)` is that option, for a
restart that must not drop established connections on the kernel dataplane.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lvstui.clock import Clock, SystemClock
from lvstui.config.fit import family_problem, port_problem
from lvstui.config.removal import removal_guard
from lvstui.config.schema import Config, LbKind, RealServer, VirtualServer
from lvstui.config.state import (
    AddedReal,
    LoadReport,
    Overrides,
    StateFile,
    service_key_of,
    unmatched_overrides,
)
from lvstui.dataplane.base import (
    Dataplane,
    DelDest,
    DelService,
    ObservedService,
    Op,
    SyncRole,
    TimeoutSetter,
)
from lvstui.dataplane.reconcile import reconcile
from lvstui.engine.bus import EventBus, Subscription
from lvstui.engine.desired import HealthMap, RealHealth, ServicePlan, plan_service
from lvstui.engine.diff import diff_configs
from lvstui.engine.edges import CheckerFactory, GroupEdge, HealthSource, Pair, VrrpDriver
from lvstui.engine.hasuspend import SUSPENDED_REASON, Carrier, ha_suspended
from lvstui.engine.quorum import initial_quorum, step_quorum
from lvstui.engine.slowstart import SlowStart
from lvstui.engine.stale import StaleNews, stale_report
from lvstui.engine.stats import StatsHistory
from lvstui.engine.supervisor import Supervisor
from lvstui.errors import CommandError, ConfigError, LvstuiError
from lvstui.health.build import build_checkers
from lvstui.model import (
    VRRP_DROP_PREFIX,
    AddReal,
    CheckView,
    Command,
    CommandResult,
    ConfigReloaded,
    Drain,
    DrainProgress,
    DrainState,
    Event,
    Health,
    HealthChanged,
    LogEvent,
    NotifyResult,
    OperatorAction,
    QuorumChanged,
    RealKey,
    RealServerView,
    Reload,
    RemoveReal,
    ServiceKey,
    ServiceView,
    SetWeight,
    Snapshot,
    Stats,
    Undrain,
    VrrpChanged,
    VrrpRunState,
    VrrpView,
)
from lvstui.notify.scripts import ScriptRunner
from lvstui.vrrp.reload import describe as describe_vrrp_reload

__all__ = ["Engine"]


def _family_problem(vs: VirtualServer, kind: LbKind, real: RealKey) -> str:
    """Why `real` cannot serve `vs` for its address family ("" when it can): the loader's
    rule (lvstui.config.fit)."""
    return family_problem(service_key_of(vs).family, real.addr, kind)


log = logging.getLogger("lvstui.engine")

MAX_WEIGHT = 65535
STOP_MAIL_WAIT = 10.0  # seconds a stop waits for queued alert mails


# [lvstui] settings a reload cannot change in place (sockets, files, the dataplane itself)
def _loop_lacks_netlink() -> bool:
    """uvloop refuses pyroute2's netlink endpoints (AF_NETLINK datagrams): the daemon runs on
    it only while it needs no netlink (see daemon.uvloop_fits)."""
    return type(asyncio.get_running_loop()).__module__.split(".")[0] == "uvloop"


_RESTART_SETTINGS = (
    "dataplane",
    "control_socket",
    "control_group",
    "control_read_only_others",
    "state_dir",
    "metrics_listen",
    "metrics_compat",
    "check_concurrency",
    "group",  # [lvstui.group]: the links and the key are set up at start
)


# a refusal that lasts is logged again after these many seconds, then every 10 minutes
REFUSAL_REMINDERS = (10.0, 60.0)
REFUSAL_REMINDER_EVERY = 600.0


def _reminder_due(sent: int) -> float:
    """Seconds after the first refusal at which reminder number `sent` (0-based) is due."""
    if sent < len(REFUSAL_REMINDERS):
        return REFUSAL_REMINDERS[sent]
    return REFUSAL_REMINDERS[-1] + REFUSAL_REMINDER_EVERY * (sent - len(REFUSAL_REMINDERS) + 1)


@dataclass(slots=True)
class _Refusal:
    error: str
    since: float  # clock.now() of the first refusal with this error
    attempts: int
    reminders: int = 0


@dataclass(slots=True)
class _DrainTrack:
    state: DrainState
    since: float  # clock.now() when the drain started
    timeout: float  # seconds; 0 = none
    active: int = 0
    inact: int = 0


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
        mailer: Any = None,
        tick: float = 1.0,
        history: int = 300,
        config_loader: Callable[[str], Config] | None = None,
        dataplane_reason: str = "",
        group: GroupEdge | None = None,
    ) -> None:
        self._config = config
        self._group = group
        self._dp = dataplane
        self._clock: Clock = clock or SystemClock()
        self._monitor = health
        self._checkers: CheckerFactory = checkers or build_checkers
        self._vrrp = vrrp
        self._state = StateFile(state_dir) if state_dir is not None else None
        self._overrides = Overrides()
        self._tick = tick
        self._loader = config_loader
        self._dp_reason = dataplane_reason
        self._bus = EventBus(wall=self._clock.wall)
        self._history = StatsHistory(history)
        self.notifier = notifier or ScriptRunner(
            timeout=config.lvstui.notify_timeout, wall=self._clock.wall
        )
        self.notifier.on_result = self._on_notify_result
        self.mailer = mailer
        if mailer is not None and getattr(mailer, "on_result", None) is None:
            mailer.on_result = self._on_notify_result
        self._health: dict[Pair, RealHealth] = {}
        self._quorum: dict[ServiceKey, bool] = {}
        self._plans: dict[ServiceKey, ServicePlan] = {}
        self._observed: dict[ServiceKey, ObservedService] = {}
        self._drains: dict[Pair, _DrainTrack] = {}
        self._owned: set[ServiceKey] = set()
        self._owned_saved: set[ServiceKey] | None = None
        self._lock = asyncio.Lock()
        self._reload_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._dirty: set[ServiceKey] = set()  # services with health news for the reconciler
        self._full_sync = False
        self._sup: Supervisor | None = None
        self._seq = 0
        self._check_lag = 0.0  # the health scheduler's worst lateness over the last tick
        self._slow = SlowStart()  # slow_start ramps of servers back in service
        # watchdog news since the last tick: (service, real, stale, reason)
        self._stale_news: list[StaleNews] = []
        self._started = False
        self._sync_role = SyncRole.NONE
        self._vrrp_states: dict[str, VrrpRunState] = {}
        self.apply_errors = 0
        self.state_save_failures = 0  # operator changes refused: overrides.toml not saved
        self.last_apply_error = ""
        self._published: Snapshot | None = None
        self._retry = False
        self._expire_warned: set[Pair] = set()
        self._expired: set[Pair] = set()  # drain timed out: dest kept out of the table
        self._suspended: set[Pair] = set()  # ha_suspend: checks paused (VIP not local)
        self._refusal: _Refusal | None = None  # the dataplane's current refusal, if any

    # --- public API ----------------------------------------------------------------------

    @property
    def config(self) -> Config:
        return self._config

    @property
    def overrides(self) -> Overrides:
        return self._overrides

    @property
    def dataplane(self) -> Dataplane:
        return self._dp

    @property
    def bus(self) -> EventBus:
        return self._bus

    async def start(self) -> None:
        """Adopt the dataplane's table, load overrides, reconcile, start the tasks."""
        if self._started:
            return
        if self._state is not None:
            report = await asyncio.to_thread(self._state.load_tolerant)
            self._overrides = self._loaded_overrides(report)
        await self._dp.start()
        vrrp_started = False
        try:
            for line in unmatched_overrides(self._overrides, self._config):
                self._log("warning", f"override: {line}")
            self._owned = {service_key_of(vs) for vs in self._config.virtual_servers}
            self._owned |= {sk for sk, _ in self._overrides.pairs()}
            if self._state is not None:
                self._owned |= await asyncio.to_thread(self._state.load_owned)
            if self._monitor is not None:
                self._monitor.on_change = self._on_health
                self._monitor.on_stale = self._on_stale
                self._register_checks(self._config, None)
            if self._vrrp is not None:
                await self._vrrp.start()
                vrrp_started = True
                for v in self._vrrp.views():
                    self._vrrp_states[v.name] = v.state
            self._update_ha_suspend()
            await self._sync("start", initial=True)
            await self._update_sync_role()
            await self._set_timeouts(None)
        except BaseException:
            # leave nothing half-started behind (the table itself is adopted, never flushed)
            if vrrp_started and self._vrrp is not None:
                with contextlib.suppress(Exception):
                    await self._vrrp.stop(False)
            with contextlib.suppress(Exception):
                await self._dp.close()
            raise
        sup = Supervisor(clock=self._clock, on_crash=self._on_task_crash)
        sup.add("ticker", self._ticker)
        sup.add("reconciler", self._reconciler)
        sup.add("notify", self.notifier.run)
        if self._monitor is not None:
            sup.add("health", self._monitor.run)
        if self._vrrp is not None:
            sup.add("vrrp-events", self._vrrp_events)
        if self.mailer is not None:
            sup.add("mail", self.mailer.run)
        sup.start()
        self._sup = sup
        self._started = True
        self._publish_snapshot()
        self._log("info", f"engine started on the {self._dp.capabilities.name} dataplane")

    def _loaded_overrides(self, report: LoadReport) -> Overrides:
        """Say what was wrong with the state file; drop what the dataplane would refuse."""
        path = self._state.path if self._state is not None else "overrides"
        if report.error and report.moved_to is not None:
            self._log(
                "error",
                f"{path}: {report.error}; moved aside to {report.moved_to}; starting with no "
                "operator overrides (the next change writes a fresh file)",
            )
        elif report.error:
            self._log("error", f"{path}: {report.error}")
        for entry in report.skipped:
            self._log("warning", f"{path}: {entry}: entry skipped, the others apply")
        if report.skipped and report.moved_to is not None:
            self._log("warning", f"{path}: the original file is kept as {report.moved_to}")
        ov = report.overrides
        services = {service_key_of(vs): vs for vs in self._config.virtual_servers}
        for pair, added in list(ov.added.items()):
            vs = services.get(pair[0])
            problem = _family_problem(vs, added.lb_kind or vs.lb_kind, pair[1]) if vs else ""
            if problem:
                self._log("warning", f"{path}: add {pair[1]} on {pair[0]}: {problem}: skipped")
                ov = ov.remove(pair, configured=False)
        return ov

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
            async with self._lock:
                try:
                    observed = await self._dp.observe()
                    ops: list[Op] = [DelService(s.key) for s in observed if s.key in self._owned]
                    if ops:
                        await self._dp.apply(ops)
                    self._owned -= {op.key for op in ops if isinstance(op, DelService)}
                    await self._save_owned()
                except LvstuiError as e:
                    log.error("removing services on stop failed: %s", e)
            for vs in self._config.virtual_servers:
                key = service_key_of(vs)
                # keepalived's omega: the quorum_down of a service that was up runs on stop
                if vs.omega and vs.quorum_down and self._quorum.get(key, False):
                    self.notifier.submit(f"quorum_down {key}", vs.quorum_down)
        if self._sync_role is not SyncRole.NONE:
            with contextlib.suppress(LvstuiError):
                await self._dp.set_sync_role(SyncRole.NONE)
            self._sync_role = SyncRole.NONE
        # the workers still run: let them finish what is queued, within bounds (not the
        # notify_timeout: a hung script must not hold a stop for minutes)
        await self.notifier.finish()
        if self.mailer is not None and hasattr(self.mailer, "flush"):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.mailer.flush(), STOP_MAIL_WAIT)
        if self._sup is not None:
            await self._sup.stop()
            self._sup = None
        await self._dp.close()
        self._bus.close()

    def snapshot(self) -> Snapshot:
        self._seq += 1
        return Snapshot(
            seq=self._seq,
            time=self._clock.wall(),
            router_id=self._config.global_defs.router_id,
            config_path=self._config.path,
            dataplane=self._dp.capabilities.name,
            dataplane_reason=self._dp_reason or self._dp.capabilities.reason,
            directors=self._config.lvstui.directors,
            services=tuple(self._service_view(p) for p in self._plans.values()),
            vrrp=self._vrrp_views(),
            check_lag=self._check_lag,
            group=self._group.view() if self._group is not None else None,
        )

    def published_snapshot(self) -> Snapshot:
        """The last snapshot published (once a second and after every change); safe to
        read from another thread (metrics)."""
        snap = self._published
        return snap if snap is not None else self.snapshot()

    def _publish_snapshot(self, only: set[ServiceKey] | None = None) -> None:
        """Refresh the published snapshot; `only`: rebuild just those services' views."""
        last = self._published
        if only is None or last is None:
            self._published = self.snapshot()
            return
        views = {v.key: v for v in last.services}
        services = tuple(
            self._service_view(plan) if key in only or key not in views else views[key]
            for key, plan in self._plans.items()
        )
        self._seq += 1
        self._published = replace(
            last,
            seq=self._seq,
            time=self._clock.wall(),
            services=services,
            vrrp=self._vrrp_views(),
        )

    def counters(self) -> dict[str, int]:
        """Counters for metrics: scripts, mails, dataplane errors."""
        out = {
            "notify_ok": self.notifier.ok,
            "notify_failed": self.notifier.failed,
            "dataplane_errors": self.apply_errors,
            "state_save_failures": self.state_save_failures,
        }
        if self.mailer is not None:
            out["mail_sent"] = int(getattr(self.mailer, "sent", 0))
            out["mail_failed"] = int(getattr(self.mailer, "failed", 0))
        if self._vrrp is not None:
            for reason, n in self._vrrp.drops().items():
                out[VRRP_DROP_PREFIX + reason] = n
        return out

    def subscribe(self, maxsize: int | None = None) -> Subscription:
        """Events from now on; iterate with `async for`; `close()` to stop."""
        return self._bus.subscribe(maxsize)

    def set_health(
        self,
        service: ServiceKey,
        real: RealKey,
        health: Health,
        weight: int | None = None,
        reason: str = "",
    ) -> None:
        """Feed a health transition (what the HealthMonitor's callback does; tests use it)."""
        self._on_health((service, real), health, weight, reason)

    async def call(self, command: Command, who: str = "local") -> CommandResult:
        """Run one operator command; validation errors come back as ok=False results."""
        try:
            if isinstance(command, Reload):
                result = await self.reload(dry_run=command.dry_run, who=who, force=command.force)
                return result
            before = self._overrides
            result = await self._command(command)
            if self._group is not None and self._overrides is not before:
                # out to the director group: the peers apply it as if typed there
                await self._group.local_change(before, self._overrides, who)
        except CommandError as e:
            result = CommandResult(False, e.message, e.hint)
        except LvstuiError as e:
            result = CommandResult(False, str(e))
        self._publish(
            OperatorAction(
                time=self._clock.wall(),
                who=who,
                action=_describe(command),
                ok=result.ok,
                message=result.message,
            )
        )
        return result

    async def apply_group(self, new: Overrides, actions: Sequence[tuple[str, str]]) -> None:
        """Overrides changed by a peer of the director group (`actions`: what and who, e.g.
        ("drain TCP 198.51.100.9:80 198.51.100.21:80", "uid 0 (root) on lb1")): persisted,
        applied and announced like a command typed here."""
        if new == self._overrides:
            return
        if self._state is not None:
            try:
                await asyncio.to_thread(self._state.save, new)
            except OSError as e:  # applied anyway: the group holds it and will resend it
                self._log("error", f"cannot save {self._state.path}: {e.strerror or e}")
        self._overrides = new
        if self._started:
            await self._sync("group")
        for action, who in actions:
            self._publish(
                OperatorAction(self._clock.wall(), who, action, True, "from the director group")
            )

    def group_alert(self, level: str, message: str) -> None:
        """Something the director group saw (split brain, a peer lost): logged, and mailed
        when it is an error and global_defs.smtp_alert is set."""
        self._log(level, message)
        if level == "error" and self._config.global_defs.smtp_alert:
            name = self._config.global_defs.router_id or "lvstui"
            self._mail(f"[{name}] {message}", message)

    async def reload(
        self,
        new_config: Config | None = None,
        *,
        dry_run: bool = False,
        who: str = "local",
        force: bool = False,
    ) -> CommandResult:
        """Parse (unless given), validate, diff, apply only the difference.

        A broken config leaves the running one in place and returns ok=False with the error;
        so does one that removes every service or more than `reload_max_removal` of them,
        unless `force`.
        """
        async with self._reload_lock:  # SIGHUP and `ctl reload` at once: one after the other
            return await self._reload(new_config, dry_run=dry_run, who=who, force=force)

    async def _reload(
        self, new_config: Config | None, *, dry_run: bool, who: str, force: bool = False
    ) -> CommandResult:
        action = "reload --dry-run" if dry_run else "reload"
        try:
            if new_config is None:
                new_config = await asyncio.to_thread(self._load, self._config.path)
            self._validate(new_config)
            if not force and not dry_run:
                removal_guard(self._config, new_config)
        except LvstuiError as e:
            result = CommandResult(False, f"configuration rejected: {e}", "")
            self._log("error", f"{action}: {result.message}; still running the previous one")
            self._publish(ConfigReloaded(self._clock.wall(), False, str(e)))
            self._publish(OperatorAction(self._clock.wall(), who, action, False, result.message))
            return result
        lines = diff_configs(self._config, new_config)
        unmatched = unmatched_overrides(self._overrides, new_config)
        # what the reload does to each VRRP instance (kept, updated in place, restarted...)
        vrrp_plan = describe_vrrp_reload(self._config, new_config) if self._vrrp is not None else []
        detail = "\n".join(lines + vrrp_plan + [f"! {u}" for u in unmatched])
        if dry_run:
            msg = f"{len(lines)} change(s) (dry run, nothing applied)"
            result = CommandResult(True, msg, detail)
            self._publish(OperatorAction(self._clock.wall(), who, action, True, msg))
            return result
        old = self._config
        self._config = new_config
        self.notifier.timeout = new_config.lvstui.notify_timeout
        if self.mailer is not None and old.global_defs != new_config.global_defs:
            reconfigure = getattr(self.mailer, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(new_config.global_defs)
        for name in _RESTART_SETTINGS:
            if getattr(old.lvstui, name) != getattr(new_config.lvstui, name):
                self._log(
                    "warning", f"[lvstui] {name} changed: it takes effect at the next restart"
                )
        self._owned |= {service_key_of(vs) for vs in new_config.virtual_servers}
        new_keys = {service_key_of(vs) for vs in new_config.virtual_servers}
        for k in list(self._quorum):
            if k not in new_keys:
                del self._quorum[k]
        if self._monitor is not None:
            self._register_checks(new_config, old)
        vrrp_changed = (old.vrrp_instances, old.vrrp_sync_groups, old.vrrp_scripts) != (
            new_config.vrrp_instances,
            new_config.vrrp_sync_groups,
            new_config.vrrp_scripts,
        )
        if self._vrrp is None and vrrp_changed and new_config.vrrp_instances:
            self._log(
                "warning",
                "vrrp_instance settings changed, but this engine runs without VRRP "
                "(a dry run): they are not applied",
            )
        first = not old.vrrp_instances and bool(new_config.vrrp_instances)
        if self._vrrp is not None and vrrp_changed and first and _loop_lacks_netlink():
            self._log(
                "error",
                "vrrp_instance added, but not started: this daemon began without VRRP on the "
                "userspace dataplane and so runs on uvloop, which cannot open the netlink "
                "sockets VRRP needs; restart lvstui to run it",
            )
        elif self._vrrp is not None and vrrp_changed:
            reload_vrrp = getattr(self._vrrp, "reload", None)
            if reload_vrrp is not None:
                try:
                    for line in await reload_vrrp(new_config) or ():
                        self._log("info", f"vrrp reload: {line}")
                except LvstuiError as e:
                    self._log("error", f"VRRP reload failed: {e}")
            else:
                self._log(
                    "warning",
                    "VRRP settings changed: they take effect at the next restart "
                    "(the VRRP driver cannot reload in place)",
                )
        self._update_ha_suspend()
        await self._set_timeouts(old)
        try:
            await self._sync("reload")
        except LvstuiError as e:
            self._log("error", f"applying the reload failed: {e}")
        await self._update_sync_role()
        for line in unmatched:
            self._log("warning", f"override: {line}")
        msg = f"reloaded: {len(lines)} change(s)"
        self._publish(ConfigReloaded(self._clock.wall(), True, msg))
        self._publish(OperatorAction(self._clock.wall(), who, action, True, msg))
        self._log("info", msg + ("\n" + "\n".join(lines) if lines else ""))
        return CommandResult(True, msg, detail)

    # --- commands --------------------------------------------------------------------------

    def _vs(self, key: ServiceKey) -> VirtualServer:
        for vs in self._config.virtual_servers:
            if service_key_of(vs) == key:
                return vs
        known = ", ".join(str(service_key_of(v)) for v in self._config.virtual_servers)
        raise CommandError(
            f"no virtual service {key}",
            hint=f"known services: {known}" if known else "the configuration has no service",
        )

    def _real_exists(self, key: ServiceKey, real: RealKey) -> bool:
        plan = self._plans.get(key)
        return plan is not None and any(r.key == real for r in plan.reals)

    def _need_real(self, key: ServiceKey, real: RealKey) -> None:
        self._vs(key)
        if not self._real_exists(key, real):
            plan = self._plans.get(key)
            known = ", ".join(str(r.key) for r in plan.reals) if plan else ""
            raise CommandError(
                f"{real} is not a real server of {key}",
                hint=f"its real servers: {known}" if known else "it has no real server",
            )

    async def _command(self, cmd: Command) -> CommandResult:
        if isinstance(cmd, Drain):
            self._need_real(cmd.service, cmd.real)
            pair = (cmd.service, cmd.real)
            if cmd.timeout is not None and cmd.timeout < 0:
                raise CommandError("drain timeout must be ≥ 0")
            await self._set_overrides(self._overrides.drain(pair, cmd.timeout), cmd.service)
            track = self._drains.get(pair)
            state = track.state if track else DrainState.DRAINING
            return CommandResult(True, f"draining {cmd.real} of {cmd.service} ({state.value})")
        if isinstance(cmd, Undrain):
            self._need_real(cmd.service, cmd.real)
            pair = (cmd.service, cmd.real)
            if pair not in self._overrides.drained:
                return CommandResult(True, f"{cmd.real} of {cmd.service} was not drained")
            await self._set_overrides(self._overrides.undrain(pair), cmd.service)
            if self._drains.pop(pair, None) is not None:  # said now, not at the next tick
                self._expire_warned.discard(pair)
                self._publish(DrainProgress(self._clock.wall(), *pair, DrainState.NONE, 0, 0))
                self._publish_snapshot({cmd.service})
            return CommandResult(True, f"{cmd.real} of {cmd.service} back in rotation")
        if isinstance(cmd, SetWeight):
            self._need_real(cmd.service, cmd.real)
            if cmd.weight is not None and not 0 <= cmd.weight <= MAX_WEIGHT:
                raise CommandError(f"weight {cmd.weight} out of range 0-{MAX_WEIGHT}")
            await self._set_overrides(
                self._overrides.set_weight((cmd.service, cmd.real), cmd.weight), cmd.service
            )
            what = "configured weight" if cmd.weight is None else f"weight {cmd.weight}"
            return CommandResult(True, f"{cmd.real} of {cmd.service}: {what}")
        if isinstance(cmd, AddReal):
            vs = self._vs(cmd.service)
            kind = cmd.lb_kind or vs.lb_kind
            problem = port_problem(vs.port, vs.fwmark is not None, kind, cmd.real.port)
            if problem:  # the loader's rule: what it refuses cannot come in this way
                raise CommandError(
                    f"cannot add {cmd.real} to {cmd.service}: {problem}",
                    hint=f"give the real server's port, e.g. {cmd.real.addr}:{vs.port}",
                )
            pair = (cmd.service, cmd.real)
            if not 0 <= cmd.weight <= MAX_WEIGHT:
                raise CommandError(f"weight {cmd.weight} out of range 0-{MAX_WEIGHT}")
            if self._real_exists(cmd.service, cmd.real):
                raise CommandError(
                    f"{cmd.real} is already a real server of {cmd.service}",
                    hint="use `ctl weight` to change its weight",
                )
            kind = cmd.lb_kind or vs.lb_kind
            if kind not in self._dp.capabilities.lb_kinds:
                raise CommandError(
                    f"the {self._dp.capabilities.name} dataplane cannot forward with {kind.value}"
                )
            problem = _family_problem(vs, kind, cmd.real)
            if problem:
                raise CommandError(
                    f"cannot add {cmd.real} to {cmd.service}: {problem}",
                    hint="add a real server of the service's address family, or forward "
                    "with TUN (lb_kind)",
                )
            configured = any(
                (r.ip, r.port) == (cmd.real.addr, cmd.real.port) for r in vs.real_servers
            )
            if configured and pair in self._overrides.removed:
                ov = self._overrides.restore(pair)
                cfg_w = next(
                    r.weight
                    for r in vs.real_servers
                    if (r.ip, r.port) == (cmd.real.addr, cmd.real.port)
                )
                if cmd.weight != cfg_w:
                    ov = ov.set_weight(pair, cmd.weight)
                await self._set_overrides(ov, cmd.service)
                return CommandResult(True, f"{cmd.real} restored in {cmd.service}")
            await self._set_overrides(
                self._overrides.add(pair, AddedReal(cmd.weight, cmd.lb_kind)), cmd.service
            )
            return CommandResult(
                True, f"{cmd.real} added to {cmd.service} with weight {cmd.weight}"
            )
        if isinstance(cmd, RemoveReal):
            vs = self._vs(cmd.service)
            self._need_real(cmd.service, cmd.real)
            pair = (cmd.service, cmd.real)
            configured = any(
                (r.ip, r.port) == (cmd.real.addr, cmd.real.port) for r in vs.real_servers
            )
            await self._set_overrides(
                self._overrides.remove(pair, configured=configured), cmd.service
            )
            self._drains.pop(pair, None)
            return CommandResult(True, f"{cmd.real} removed from {cmd.service}")
        raise CommandError(f"unknown command {cmd!r}")

    async def _set_overrides(self, new: Overrides, service: ServiceKey) -> None:
        """Persist new overrides atomically, then swap them in and apply (to that service).
        A save that fails (state dir full, read-only) changes nothing: the command fails
        with the reason, the log says it, and `state_save_failures` counts it."""
        if self._state is not None:
            try:
                await asyncio.to_thread(self._state.save, new)
            except OSError as e:
                self.state_save_failures += 1
                why = e.strerror or str(e)
                self._log(
                    "error",
                    f"cannot save the operator overrides in {self._state.dir}: {why}; "
                    "the change is not applied",
                )
                raise CommandError(
                    f"not applied: the overrides cannot be saved in {self._state.dir}: {why}",
                    hint="free space in the state directory, or make it writable",
                ) from None
        self._overrides = new
        await self._sync("operator", only={service})

    # --- the one path that changes the table ----------------------------------------------

    async def _sync(
        self, why: str, *, initial: bool = False, only: set[ServiceKey] | None = None
    ) -> None:
        async with self._lock:
            await self._sync_locked(why, initial=initial, only=only)

    async def _sync_locked(
        self, why: str, *, initial: bool = False, only: set[ServiceKey] | None = None
    ) -> None:
        """Plan, step quorums, reconcile, apply. `only`: just these services (a health
        transition or a command touches one service: the others keep their plan, and
        reconcile looks at that service alone — each service reconciles independently)."""
        health = self._health
        old_plans = self._plans
        if only is None:
            todo = list(self._config.virtual_servers)
            plans: dict[ServiceKey, ServicePlan] = {}
        else:
            todo = [vs for vs in self._config.virtual_servers if service_key_of(vs) in only]
            plans = dict(old_plans)
        quorum_events: list[tuple[ServicePlan, bool, int]] = []
        now = self._clock.now()
        for vs in todo:
            key = service_key_of(vs)
            prev_up = self._quorum.get(key)
            plan = plan_service(
                vs, self._overrides, health, prev_up if prev_up is not None else True
            )
            if prev_up is None:
                step = initial_quorum(plan.live_weight, vs.quorum, vs.hysteresis)
                self._quorum[key] = step.up
                report = not step.up  # start: only a quorum that starts down is news
            else:
                step = step_quorum(prev_up, plan.live_weight, vs.quorum, vs.hysteresis)
                report = step.changed
                self._quorum[key] = step.up
            if self._quorum[key] != plan.quorum_up:
                plan = plan_service(vs, self._overrides, health, self._quorum[key])
            if report:
                quorum_events.append((plan, step.up, step.threshold))
            plans[key] = self._slow.apply(plan, old_plans.get(key), now, initial=initial)
        self._plans = plans
        touched = {service_key_of(vs) for vs in todo}

        # a drain that timed out keeps its destination out of the kernel table (see _expire)
        self._expired &= set(self._overrides.drained)
        desired = tuple(
            replace(
                plans[k].desired,
                dests=tuple(d for d in plans[k].desired.dests if (k, d.key) not in self._expired),
            )
            if self._expired
            else plans[k].desired
            for k in touched
        )
        observed = await self._dp.observe()
        if only is None:
            ops = reconcile(desired, observed, self._owned)
        else:
            ops = reconcile(desired, [o for o in observed if o.key in only], self._owned & only)
        if ops:
            try:
                await self._dp.apply(ops)
            except LvstuiError as e:
                self.apply_errors += 1
                self.last_apply_error = str(e)
                self._retry = True  # the ticker asks for another (full) reconcile
                self._refused(why, str(e))
            else:
                if only is None:
                    self._retry = False
                    self._accepted()
            observed = await self._dp.observe()
        elif only is None:
            self._retry = False
            self._accepted()
        self._observed = {s.key: s for s in observed}
        if only is None:
            # forget owned keys gone for good (removed from the config and from the table)
            self._owned = {k for k in self._owned if k in plans or k in self._observed}
            self._owned |= {sk for sk, _ in self._overrides.pairs()}
        await self._save_owned()

        self._after_sync(old_plans, {k: plans[k] for k in touched}, quorum_events, initial)
        self._publish_snapshot(None if only is None else touched)

    def _refused(self, why: str, error: str) -> None:
        """Log a refused apply once, then again only when the error changes, with reminders
        after REFUSAL_REMINDERS seconds (then every REFUSAL_REMINDER_EVERY): a permanent
        refusal (a VIP port another process holds) is retried every tick, not logged so."""
        now = self._clock.now()
        r = self._refusal
        if r is None or r.error != error:
            self._refusal = _Refusal(error, now, 1)
            self._log("error", f"dataplane refused ({why}), retrying every tick: {error}")
            return
        r.attempts += 1
        elapsed = now - r.since
        due = _reminder_due(r.reminders)
        if elapsed >= due:
            r.reminders += 1
            self._log(
                "error",
                f"dataplane still refuses after {elapsed:.0f} s ({r.attempts} attempts), "
                f"retrying: {error}",
            )

    def _accepted(self) -> None:
        """A full reconcile went through: end (and say so) a run of refusals."""
        r, self._refusal = self._refusal, None
        if r is not None:
            self._log(
                "info",
                f"dataplane accepted the table after {self._clock.now() - r.since:.0f} s "
                f"and {r.attempts} refused attempt(s); it had refused: {r.error}",
            )

    def _after_sync(
        self,
        old: dict[ServiceKey, ServicePlan],
        new: dict[ServiceKey, ServicePlan],
        quorum_events: list[tuple[ServicePlan, bool, int]],
        initial: bool,
    ) -> None:
        now = self._clock.wall()
        gd = self._config.global_defs
        # real server up/down: notify_up / notify_down, smtp alerts (transitions only)
        for key, plan in new.items():
            before = old.get(key)
            if before is None:
                continue
            prev = {r.key: r for r in before.reals}
            cfg = {(r.ip, r.port): r for r in plan.vs.real_servers}
            for r in plan.reals:
                p = prev.get(r.key)
                if p is None or p.alive == r.alive:
                    continue
                rs = cfg.get((r.key.addr, r.key.port))
                state = "UP" if r.alive else "DOWN"
                self._log("info", f"real server {r.key} of {key} is {state}")
                if rs is not None:
                    script = rs.notify_up if r.alive else rs.notify_down
                    if script:
                        self.notifier.submit(f"notify_{state.lower()} {r.key} ({key})", script)
                    if self._smtp_alert(plan.vs, rs):
                        self._mail(
                            f"Realserver {r.key} of virtual server {key} - {state}",
                            f"=> {'CHECK succeed' if r.alive else 'CHECK failed'} on service "
                            f"<=\n\nreal server {r.key} of {key} is {state}",
                        )
        for plan, up, thr in quorum_events:
            vs = plan.vs
            self._publish(
                QuorumChanged(
                    time=now,
                    service=plan.key,
                    up=up,
                    live_weight=plan.live_weight,
                    quorum=vs.quorum,
                    sorry_active=plan.sorry_active,
                )
            )
            verb = ("Starting with quorum " if initial else "") + ("up" if up else "down")
            if not initial:
                verb = "Gained quorum" if up else "Lost quorum"
            self._log(
                "warning" if not up else "info",
                f"{verb} for {plan.key}: live weight {plan.live_weight}, quorum {vs.quorum} "
                f"± hysteresis {vs.hysteresis} (threshold {thr})"
                + (", sorry server in" if plan.sorry_active else ""),
            )
            script = vs.quorum_up if up else vs.quorum_down
            if script:
                self.notifier.submit(f"quorum_{'up' if up else 'down'} {plan.key}", script)
            alert = vs.smtp_alert if vs.smtp_alert is not None else gd.smtp_alert
            if alert:
                self._mail(
                    f"Virtual Server {plan.key} - {'UP' if up else 'DOWN'}",
                    f"=> {verb} {vs.quorum}+{vs.hysteresis}={thr} <= {plan.live_weight} <=",
                )

    # --- background tasks --------------------------------------------------------------------

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
            self._observed = {s.key: s for s in observed}
            self._history.sample(observed, self._clock.now())
            await self._follow_drains()
            if self._monitor is not None:
                self._check_lag = self._monitor.take_lag()
            self._report_stale()
            self._publish_snapshot()
        ramping = self._slow.ramping()
        if ramping:  # slow start: the next step of each ramp (re-planned once a tick)
            self._dirty |= ramping
            self._wake.set()
        if self._retry:
            self._full_sync = True  # a refused apply is retried (full reconcile) every tick
            self._wake.set()

    async def _follow_drains(self) -> None:
        now = self._clock.now()
        wanted = set(self._overrides.drained)
        for pair in list(self._drains):
            if pair not in wanted:
                del self._drains[pair]
                self._expire_warned.discard(pair)
                svc, real = pair
                self._publish(DrainProgress(self._clock.wall(), svc, real, DrainState.NONE, 0, 0))
        for pair, timeout in self._overrides.drained.items():
            svc, real = pair
            if svc not in self._plans:
                continue
            track = self._drains.get(pair)
            if track is None:
                t = timeout if timeout is not None else self._config.lvstui.drain_timeout
                track = _DrainTrack(DrainState.DRAINING, now, t or 0.0)
                self._drains[pair] = track
                self._publish(DrainProgress(self._clock.wall(), svc, real, track.state, 0, 0))
            obs = self._observed.get(svc)
            dest = next((d for d in obs.dests if d.key == real), None) if obs else None
            active = dest.active_conns if dest else 0
            inact = dest.inact_conns if dest else 0
            old_state = track.state
            if track.state is DrainState.EXPIRED:
                pass  # stays expired (and out of the kernel table) until undrained
            elif active + inact == 0:
                track.state = DrainState.SAFE
            elif track.state is DrainState.SAFE:
                track.state = DrainState.DRAINING
            elif (
                track.state is DrainState.DRAINING
                and track.timeout > 0
                and now - track.since >= track.timeout
                and dest is not None
            ) and await self._expire(svc, dest.key):
                track.state = DrainState.EXPIRED
            changed = (active, inact) != (track.active, track.inact)
            track.active, track.inact = active, inact
            if track.state is not old_state or changed:
                self._publish(
                    DrainProgress(self._clock.wall(), svc, real, track.state, active, inact)
                )

    async def _expire(self, svc: ServiceKey, real: RealKey) -> bool:
        """Drain timeout: end the connections that remain. True when done.

        A dataplane that offers `expire_connections(service, real)` (an optional extension
        of the contract) does it its own way. On the kernel, the destination is deleted and
        kept out of the table while the drain lasts: its remaining connections become
        unusable at once (their packets are dropped, or the entries expired at their next
        packet with the `net.ipv4.vs.expire_nodest_conn` sysctl). It is *not* added back at
        weight 0 right away: the kernel would take the deleted destination back from its
        trash, connections included. `undrain` puts it back. The userspace forwarder offers
        `expire_connections` (TCP aborted both ways, UDP flows dropped; the destination stays
        at weight 0); a dataplane named "userspace" without it (an older one) lets a deleted
        destination's connections finish, so there the drain keeps waiting.
        """
        expire = getattr(self._dp, "expire_connections", None)
        try:
            if expire is not None:
                await expire(svc, real)
            elif self._dp.capabilities.name == "userspace":
                if (svc, real) not in self._expire_warned:
                    self._expire_warned.add((svc, real))
                    self._log(
                        "warning",
                        f"drain timeout of {real} on {svc}: the userspace dataplane cannot "
                        "expire connections; they are left to finish",
                    )
                return False
            else:
                await self._dp.apply([DelDest(svc, real)])
                self._expired.add((svc, real))
        except LvstuiError as e:
            self._log("error", f"expiring connections of {real} on {svc} failed: {e}")
            return False
        self._log("warning", f"drain timeout: remaining connections of {real} on {svc} expired")
        return True

    # --- health / vrrp / notify callbacks -------------------------------------------------------

    def _on_health(self, key: Any, health: Health, weight: int | None, reason: str) -> None:
        try:
            svc, real = key
        except (TypeError, ValueError):
            return
        self._health[(svc, real)] = RealHealth(health, weight)
        self._dirty.add(svc)
        self._publish(
            HealthChanged(
                time=self._clock.wall(),
                service=svc,
                real=real,
                health=health,
                reason=reason,
                weight=weight if weight is not None else self._config_weight(svc, real),
            )
        )
        self._wake.set()

    def _on_stale(self, key: Any, stale: bool, reason: str) -> None:
        """The health watchdog: a check of this real server has not completed a run in
        2 x (period + run budget), or runs again. Shown in the snapshot at once; logged
        (an event every client sees) and mailed where smtp_alert is set at the next tick,
        in one summary when many change together (a stalled host must not send a mail
        per server)."""
        try:
            svc, real = key
        except (TypeError, ValueError):
            return
        self._stale_news.append((svc, real, stale, reason))
        self._dirty.add(svc)
        self._wake.set()

    def _report_stale(self) -> None:
        news, self._stale_news = self._stale_news, []
        if not news:
            return
        logs, mails = stale_report(news, self._alerted)
        for level, line in logs:
            self._log(level, line)
        for subject, body in mails:
            self._mail(subject, body)

    def _alerted(self, svc: ServiceKey, real: RealKey) -> bool:
        """Whether a real server's changes are mailed (smtp_alert, inherited)."""
        plan = self._plans.get(svc)
        if plan is None:
            return False
        for rs in plan.vs.real_servers:
            if (rs.ip, rs.port) == (real.addr, real.port):
                return self._smtp_alert(plan.vs, rs)
        return False

    def _smtp_alert(self, vs: VirtualServer, rs: RealServer) -> bool:
        """smtp_alert of a real server: its own, else its service's, else global_defs'."""
        alert = rs.smtp_alert
        if alert is None:
            alert = vs.smtp_alert
        if alert is None:
            alert = self._config.global_defs.smtp_alert
        return bool(alert)

    async def _vrrp_events(self) -> None:
        """Relay the VRRP driver's events; follow the sync daemon; mail on transitions."""
        assert self._vrrp is not None
        async for ev in self._vrrp.events():
            if isinstance(ev, VrrpChanged):
                await self._on_vrrp(ev)
            else:
                self._publish(ev)

    async def _on_vrrp(self, ev: VrrpChanged) -> None:
        # notify_master/backup/fault/stop and `notify` are run by the VRRP driver itself
        # (give it runner=engine.notifier so they queue behind the engine's scripts)
        self._vrrp_states[ev.instance] = ev.new
        self._publish(ev)
        changed = self._update_ha_suspend()
        if changed:
            self._publish_snapshot(changed)
        inst = next((i for i in self._config.vrrp_instances if i.name == ev.instance), None)
        if inst is not None:
            alert = inst.smtp_alert
            if alert is None:
                alert = self._config.global_defs.smtp_alert
            if alert:
                self._mail(
                    f"VRRP Instance {ev.instance} - Entering {ev.new.value} state",
                    f"=> VRRP Instance is now {ev.new.value} (was {ev.old.value}) <=\n\n"
                    f"{ev.reason}",
                )
        sd = self._config.global_defs.lvs_sync_daemon
        if sd is not None and sd.instance == ev.instance:
            await self._update_sync_role()

    def _carriers(self) -> list[Carrier]:
        """Each VRRP instance's state and the addresses it carries (excluded VIPs too)."""
        excluded = {
            i.name: tuple(v.address for v in i.virtual_ipaddress_excluded)
            for i in self._config.vrrp_instances
        }
        return [(v.state, (*v.vips, *excluded.get(v.name, ()))) for v in self._vrrp_views()]

    def _update_ha_suspend(self) -> set[ServiceKey]:
        """ha_suspend: pause the checks of services whose VIP is on no MASTER instance here,
        resume them when it comes back (see `hasuspend`). Returns the services changed."""
        mon = self._monitor
        # suspend/resume/is_suspended: HealthMonitor has them; a HealthSource may not
        suspend = getattr(mon, "suspend", None)
        resume = getattr(mon, "resume", None)
        is_suspended = getattr(mon, "is_suspended", None)
        if suspend is None or resume is None or is_suspended is None or self._vrrp is None:
            return set()
        if not self._config.vrrp_instances:
            return set()  # no VRRP configured: nothing decides where the VIPs are
        carriers: list[Carrier] | None = None
        wanted: set[Pair] = set()
        for vs in self._config.virtual_servers:
            if not vs.ha_suspend:
                continue
            if carriers is None:
                carriers = self._carriers()
            if ha_suspended(True, vs.ip, carriers):
                sk = service_key_of(vs)
                wanted |= {(sk, RealKey(r.ip, r.port)) for r in vs.real_servers if r.checks}
        changed: set[ServiceKey] = set()
        for pair in wanted | self._suspended:
            want = pair in wanted
            try:
                if want == is_suspended(pair):
                    continue
                (suspend if want else resume)(pair)
            except KeyError:  # its checks are gone (reload)
                continue
            changed.add(pair[0])
        self._suspended = {p for p in wanted if is_suspended(p)}
        for sk in sorted(changed, key=str):
            now = any(p[0] == sk for p in self._suspended)
            self._log(
                "info",
                f"health checks of {sk} "
                + (
                    "suspended (ha_suspend: no VRRP instance carrying its VIP is MASTER here)"
                    if now
                    else "resumed (ha_suspend: its VIP is local)"
                ),
            )
        return changed

    async def _update_sync_role(self) -> None:
        """The IPVS sync daemon follows the VRRP instance named in lvs_sync_daemon."""
        sd = self._config.global_defs.lvs_sync_daemon
        if sd is None:
            role = SyncRole.NONE
        else:
            state = self._vrrp_states.get(sd.instance)
            role = SyncRole.MASTER if state is VrrpRunState.MASTER else SyncRole.BACKUP
        if role is self._sync_role:
            return
        try:
            await self._dp.set_sync_role(role, sd.interface if sd else "", sd.syncid if sd else 0)
            self._sync_role = role
            self._log("info", f"IPVS sync daemon: {role.value}")
        except LvstuiError as e:
            self._log("error", f"cannot set the IPVS sync daemon to {role.value}: {e}")

    def _on_notify_result(self, result: NotifyResult) -> None:
        self._publish(result)

    def _on_task_crash(self, name: str, exc: BaseException, delay: float) -> None:
        self._log(
            "error",
            f"task {name} crashed ({type(exc).__name__}: {exc}); restarting in {delay:.1f}s",
        )

    def _mail(self, subject: str, body: str) -> None:
        if self.mailer is None:
            return
        try:
            self.mailer.send(subject, body)
        except Exception as e:
            self._log("error", f"cannot queue mail alert: {e}")

    # --- helpers ---------------------------------------------------------------------------------

    def _load(self, path: str) -> Config:
        if self._loader is not None:
            return self._loader(path)
        try:
            from lvstui.config.load import load_config
        except ImportError as e:  # the loader is written in parallel; say so clearly
            raise ConfigError("this build cannot read configuration files yet", file=path) from e
        cfg: Config = load_config(path)
        return cfg

    def _validate(self, config: Config) -> None:
        """What the dataplane cannot do is an error before anything is applied."""
        caps = self._dp.capabilities
        seen: set[ServiceKey] = set()
        for vs in config.virtual_servers:
            key = service_key_of(vs)
            if key in seen:
                raise ConfigError(f"virtual server {key} is defined twice", file=config.path)
            seen.add(key)
            if vs.lb_algo not in caps.schedulers:
                raise ConfigError(
                    f"{key}: the {caps.name} dataplane has no scheduler {vs.lb_algo!r}",
                    file=config.path,
                    hint="available: " + " ".join(sorted(caps.schedulers)),
                )
            kinds = {vs.lb_kind} | {r.lb_kind for r in vs.real_servers if r.lb_kind}
            for k in kinds:
                if k not in caps.lb_kinds:
                    raise ConfigError(
                        f"{key}: the {caps.name} dataplane cannot forward with {k.value}",
                        file=config.path,
                    )

    def _register_checks(self, new: Config, old: Config | None) -> None:
        mon = self._monitor
        if mon is None:
            return
        wanted: set[Pair] = set()
        for vs in new.virtual_servers:
            sk = service_key_of(vs)
            for rs in vs.real_servers:
                if not rs.checks:
                    continue
                pair = (sk, RealKey(rs.ip, rs.port))
                wanted.add(pair)
                checkers = self._checkers(rs, vs)
                if old is None:
                    mon.add(pair, checkers, alpha=vs.alpha)
                else:
                    mon.update(pair, checkers, alpha=vs.alpha)
                with contextlib.suppress(KeyError):
                    self._health[pair] = RealHealth(mon.health(pair), mon.dynamic_weight(pair))
        for key in list(mon.keys()):
            if key not in wanted:
                mon.remove(key)
                self._health.pop(key, None)

    async def _save_owned(self) -> None:
        """Record the services we own (only when that set changed)."""
        if self._state is None or self._owned == self._owned_saved:
            return
        snapshot = set(self._owned)
        try:
            await asyncio.to_thread(self._state.save_owned, snapshot)
            self._owned_saved = snapshot
        except OSError as e:
            self._log("warning", f"cannot record owned services in {self._state.dir}: {e}")

    def _config_weight(self, svc: ServiceKey, real: RealKey) -> int:
        plan = self._plans.get(svc)
        r = next((r for r in plan.reals if r.key == real), None) if plan else None
        return r.weight_config if r else 0

    def _health_map(self) -> HealthMap:
        return dict(self._health)

    def _publish(self, event: Event) -> None:
        self._bus.publish(event)

    def log(self, level: str, message: str) -> None:
        """Log `message` and publish it as a LogEvent (the console's and clients' log)."""
        self._log(level, message)

    async def _set_timeouts(self, old: Config | None) -> None:
        """global_defs.lvs_timeouts (ipvsadm --set): at start, and on a reload that changes
        them. Timeouts a reload removes stay as they are (the kernel has no "default")."""
        want = self._config.global_defs.lvs_timeouts
        if want is None or (old is not None and old.global_defs.lvs_timeouts == want):
            return
        if not isinstance(self._dp, TimeoutSetter):
            self._log(
                "warning",
                f"lvs_timeouts: the {self._dp.capabilities.name} dataplane has no IPVS "
                "timeouts; ignored (udp_idle_timeout is its UDP one)",
            )
            return
        try:
            await self._dp.set_timeouts(want.tcp, want.tcpfin, want.udp)
        except LvstuiError as e:  # DataplaneError, named
            self._log("error", str(e))

    def _log(self, level: str, message: str) -> None:
        getattr(log, "warning" if level == "warning" else level, log.info)(message)
        self._publish(LogEvent(self._clock.wall(), level, message))

    def _vrrp_views(self) -> tuple[VrrpView, ...]:
        if self._vrrp is None:
            return ()
        try:
            return tuple(self._vrrp.views())
        except Exception:
            return ()

    def _ramp_until(self, plan: ServicePlan, real: RealKey) -> float | None:
        """Slow start: the wall time the server's ramp ends (None: not ramping)."""
        until = self._slow.until(plan.key, real, plan)
        if until is None:
            return None
        return self._clock.wall() + (until - self._clock.now())

    def _service_view(self, plan: ServicePlan) -> ServiceView:
        vs = plan.vs
        obs = self._observed.get(plan.key)
        odests = {d.key: d for d in obs.dests} if obs else {}
        reals: list[RealServerView] = []
        for r in plan.reals:
            d = odests.get(r.key)
            pair = (plan.key, r.key)
            track = self._drains.get(pair)
            drain = (
                track.state if track else (DrainState.DRAINING if r.drained else DrainState.NONE)
            )
            checks: tuple[CheckView, ...] = ()
            if self._monitor is not None:
                with contextlib.suppress(KeyError):
                    checks = self._monitor.views(pair)
                if pair in self._suspended:
                    checks = tuple(
                        replace(
                            c,
                            last_reason=SUSPENDED_REASON
                            + (f"; last: {c.last_reason}" if c.last_reason else ""),
                        )
                        for c in checks
                    )
            reals.append(
                RealServerView(
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
                    checks=checks,
                    history=self._history.real(plan.key, r.key),
                    ramp_until=self._ramp_until(plan, r.key),
                )
            )
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
                    history=self._history.real(plan.key, s.key),
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
            history=self._history.service(plan.key),
        )


def _describe(cmd: Command) -> str:
    match cmd:
        case Drain(service=s, real=r, timeout=t):
            return f"drain {s} {r}" + (f" timeout {t:g}s" if t is not None else "")
        case Undrain(service=s, real=r):
            return f"undrain {s} {r}"
        case SetWeight(service=s, real=r, weight=w):
            return f"weight {s} {r} {'config' if w is None else w}"
        case AddReal(service=s, real=r, weight=w, lb_kind=k):
            return f"add {s} {r} weight {w}" + (f" {k.value}" if k else "")
        case RemoveReal(service=s, real=r):
            return f"remove {s} {r}"
        case Reload(dry_run=d, force=f):
            return "reload --dry-run" if d else ("reload --force" if f else "reload")
