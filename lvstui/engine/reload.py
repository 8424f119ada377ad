"""A reload: validate the new configuration, diff it (both pure), apply the difference.

    validate_config(new, dataplane.capabilities)     # ConfigError: nothing is applied
    plan = plan_reload(old, new, overrides, vrrp=True)
    plan.detail                                      # what `ctl reload --dry-run` prints
    await reloader.apply(plan, old, new)             # once the engine runs `new`

Applying re-registers the checks, reloads VRRP in place when its settings changed and syncs
the table: only the difference reaches the dataplane, since reconcile compares tables.
`Reloader.run` runs the three steps and says what happened; `Engine.reload` runs one
reload at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lvstui.config.diff import diff_configs, restart_settings_changed
from lvstui.config.removal import removal_guard
from lvstui.config.schema import Config
from lvstui.config.state import Overrides, service_key_of, unmatched_overrides
from lvstui.dataplane.base import Capabilities, Dataplane
from lvstui.engine.alerts import Alerts
from lvstui.engine.bus import Journal
from lvstui.engine.checks import register_checks
from lvstui.engine.edges import CheckerFactory, HealthSource
from lvstui.engine.ha import Ha
from lvstui.engine.persist import StateDir
from lvstui.engine.runtime import RuntimeTable
from lvstui.engine.table import TableSync
from lvstui.errors import ConfigError, LvstuiError
from lvstui.model import CommandResult, ConfigReloaded, ServiceKey
from lvstui.vrrp.reload import describe as describe_vrrp_reload

__all__ = ["ReloadPlan", "Reloader", "plan_reload", "validate_config"]


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    changes: tuple[str, ...]  # the configuration's difference, one change a line
    detail: str  # changes, what happens to each VRRP instance, unmatched overrides
    unmatched: tuple[str, ...]  # overrides the new configuration has no place for
    restart_settings: tuple[str, ...]  # [lvstui] settings that wait for a restart
    vrrp_changed: bool  # instances, sync groups, scripts or static_* differ
    global_defs_changed: bool


def validate_config(config: Config, caps: Capabilities, *, previous: Config | None = None) -> None:
    """What the dataplane cannot do is an error before anything is applied; so is, from a
    `previous` configuration, removing every service or more than reload_max_removal."""
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
    if previous is not None:
        removal_guard(previous, config)


def plan_reload(old: Config, new: Config, overrides: Overrides, *, vrrp: bool) -> ReloadPlan:
    """The difference from `old` to `new`; `vrrp`: VRRP runs here (say what it will do)."""
    changes = diff_configs(old, new)
    unmatched = unmatched_overrides(overrides, new)
    # what the reload does to each VRRP instance (kept, updated in place, restarted...)
    vrrp_plan = describe_vrrp_reload(old, new) if vrrp else []
    vrrp_changed = _vrrp_part(old) != _vrrp_part(new)
    return ReloadPlan(
        changes=tuple(changes),
        detail="\n".join(changes + vrrp_plan + [f"! {u}" for u in unmatched]),
        unmatched=tuple(unmatched),
        restart_settings=tuple(restart_settings_changed(old, new)),
        vrrp_changed=vrrp_changed,
        global_defs_changed=old.global_defs != new.global_defs,
    )


def _vrrp_part(c: Config) -> tuple[object, ...]:
    """What the VRRP driver applies on reload: instances, groups, scripts, and the static
    addresses, routes and rules it keeps on the host (lvstui/vrrp/statics.py)."""
    gd = c.global_defs
    statics = (gd.static_ipaddress, gd.static_routes, gd.static_rules)
    return (c.vrrp_instances, c.vrrp_sync_groups, c.vrrp_scripts, statics)


class Reloader:
    """The apply step: what a new configuration changes in the running engine's parts."""

    def __init__(
        self,
        loader: Callable[[str], Config],
        dataplane: Dataplane,
        runtime: RuntimeTable,
        state: StateDir,
        alerts: Alerts,
        ha: Ha,
        table: TableSync,
        monitor: HealthSource | None,
        checkers: CheckerFactory,
        journal: Journal,
        sync: Callable[[str], Awaitable[None]],
    ) -> None:
        self._loader = loader
        self._dp = dataplane
        self._rt = runtime
        self._state = state
        self._alerts = alerts
        self._ha = ha
        self._table = table
        self._monitor = monitor
        self._checkers = checkers
        self._journal = journal
        self._sync = sync

    async def run(
        self,
        current: Config,
        new: Config | None,
        overrides: Overrides,
        swap: Callable[[Config], None],
        *,
        dry_run: bool,
        force: bool,
        who: str,
    ) -> CommandResult:
        """Load `new` (unless given), validate, diff, and unless `dry_run` swap it in
        (`swap`) and apply it. A broken configuration changes nothing; so does one that
        removes every service or more than reload_max_removal of them, unless `force`."""
        j = self._journal
        action = "reload --dry-run" if dry_run else "reload"
        try:
            if new is None:
                new = await asyncio.to_thread(self._loader, current.path)
            guarded = None if force or dry_run else current  # too many services gone?
            validate_config(new, self._dp.capabilities, previous=guarded)
        except LvstuiError as e:
            result = CommandResult(False, f"configuration rejected: {e}", "")
            if dry_run:
                return j.operator(who, action, result)
            # one event says it (ConfigReloaded names who asked); the process log keeps it
            j.note("error", f"{action} by {who}: {result.message}; still running the previous one")
            j.publish(ConfigReloaded(j.wall(), False, str(e), who))
            return result
        plan = plan_reload(current, new, overrides, vrrp=self._ha.has_driver)
        if dry_run:
            msg = f"{len(plan.changes)} change(s) (dry run, nothing applied)"
            return j.operator(who, action, CommandResult(True, msg, plan.detail))
        swap(new)
        await self.apply(plan, current, new)
        msg = f"reloaded: {len(plan.changes)} change(s)"
        j.publish(ConfigReloaded(j.wall(), True, msg, who))
        j.note("info", f"{msg} by {who}" + "".join(f"\n{line}" for line in plan.changes))
        return CommandResult(True, msg, plan.detail)

    async def apply(self, plan: ReloadPlan, old: Config, new: Config) -> None:
        say = self._journal.log
        self._alerts.reconfigure(new, plan.global_defs_changed)
        for name in plan.restart_settings:
            say("warning", f"[lvstui] {name} changed: it takes effect at the next restart")
        if fifo_settings(old) != fifo_settings(new):
            say("warning", "global_defs notify FIFOs changed: they take effect at the next restart")
        keys = {service_key_of(vs) for vs in new.virtual_servers}
        self._state.owned |= keys
        for rec in self._rt:
            if rec.key not in keys:
                rec.quorum_up = None  # a service that comes back starts its quorum afresh
        if self._monitor is not None:
            register_checks(self._monitor, self._checkers, self._rt, new, reload=True)
        await self._ha.reload(old, new, plan.vrrp_changed)
        self._ha.update_suspend(new, self._rt)
        await self._table.set_timeouts(new, old)
        try:
            await self._sync("reload")
        except LvstuiError as e:
            say("error", f"applying the reload failed: {e}")
        await self._ha.update_sync_role(new)
        for line in plan.unmatched:
            say("warning", f"override: {line}")


def fifo_settings(c: Config) -> tuple[str, ...]:
    """The notify FIFOs and their scripts: opened and started once, at start."""
    g = c.global_defs
    return (
        g.notify_fifo,
        g.notify_fifo_script,
        g.vrrp_notify_fifo,
        g.vrrp_notify_fifo_script,
        g.lvs_notify_fifo,
        g.lvs_notify_fifo_script,
    )
