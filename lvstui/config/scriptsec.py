"""Scripts keepalived would not run, left out at load as keepalived does; the rest runs.

keepalived 2.2.7 disables a script it cannot run at all (not found, in PATH for a bare name,
not a file, or not executable for the user it runs as), with or without
`enable_script_security`, and with that setting also each insecure script.

keepalived 2.2.7 does not refuse a config with an insecure script (a root script that a
non-root user could change, `lvstui.config.scripts.insecure`); it leaves that script out and
logs why. What "left out" means depends on the kind of script (read in keepalived's
vrrp.c `check_vrrp_script_security`, check_misc.c `check_misc_script_security`,
lib/notify.c `check_notify_script_secure`):

- a `vrrp_script`: removed, and so is every `track_script` entry naming it, in instances and
  sync groups: the instance runs as if it had never tracked the script (no FAULT, no weight);
- a `MISC_CHECK`: the checker is removed; the real server's state comes from its other
  checks, and a server left with none is up (as with any server without checks);
- a notify script (`notify*`, `notify_up` / `notify_down`, `quorum_up` / `quorum_down`, the
  notify FIFOs' `*_script`): simply not run.

`disable_scripts(config)` returns the config with those scripts left out and one
`Disabled` per script (where it was and why), for check-config and the daemon's log.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import stat
from dataclasses import dataclass
from typing import TypeVar

from lvstui.child import resolve_user
from lvstui.config.globaldefs import GlobalDefs
from lvstui.config.locate import KeyPath, LineOf, format_key
from lvstui.config.schema import (
    Config,
    MiscCheck,
    RealServer,
    VirtualServer,
    VrrpInstance,
    VrrpSyncGroup,
)
from lvstui.config.scripts import script_problems, scripts

__all__ = ["Disabled", "disable_scripts", "unrunnable"]


@dataclass(frozen=True, slots=True)
class Disabled:
    path: KeyPath  # where the script is in the config
    command: str
    why: str  # which file or directory is at fault
    insecure: bool = True  # False: keepalived cannot run it at all

    def message(self) -> str:
        if self.path[-1] == "misc_path":
            kind, effect = "MISC_CHECK", "the check is removed; the server's other checks decide"
        elif self.path[0] == "vrrp_script":
            kind, effect = "vrrp_script", "it is not run and every track_script on it is dropped"
        else:
            kind, effect = "notify script", "it is not run"
        rule = "enable_script_security, " if self.insecure else ""
        return f"{kind} disabled ({rule}as keepalived does): {self.why}; {effect}"

    def line(self, config_file: str, line_of: LineOf) -> str:
        n = line_of(self.path)
        where = f"{config_file}:{n}" if n is not None else config_file
        return f"{where}: {format_key(self.path)}: warning: {self.message()}"


def disable_scripts(config: Config) -> tuple[Config, tuple[Disabled, ...]]:
    """`config` without the scripts keepalived would not run here, and which they were:
    those it cannot run at all, and with enable_script_security the insecure ones (without
    it keepalived runs them, and so do we; check-config warns)."""
    found: list[Disabled] = []
    if config.global_defs.enable_script_security:
        found += [Disabled(s.path, s.command, why) for s, why in script_problems(config)]
    judged = {d.path for d in found}
    for script in scripts(config):
        if script.path not in judged and (why := unrunnable(script.command, script.user)):
            found.append(Disabled(script.path, script.command, why, insecure=False))
    if not found:
        return config, ()
    paths = {d.path for d in found}
    gone_scripts = {d.path[1] for d in found if d.path[0] == "vrrp_script"}
    vrrp_scripts = tuple(s for s in config.vrrp_scripts if s.name not in gone_scripts)
    instances = tuple(
        dataclasses.replace(
            _without_notify(i, ("vrrp_instance", i.name), paths),
            track_script=tuple(n for n in i.track_script if n not in gone_scripts),
            track_script_weight=tuple(
                w for w in i.track_script_weight if w.name not in gone_scripts
            ),
        )
        for i in config.vrrp_instances
    )
    groups = tuple(
        _without_notify(g, ("vrrp_sync_group", g.name), paths) for g in config.vrrp_sync_groups
    )
    servers = tuple(_server(vs, i, paths) for i, vs in enumerate(config.virtual_servers))
    fixed = dataclasses.replace(
        config,
        global_defs=_without_fifo_scripts(config.global_defs, paths),
        vrrp_scripts=vrrp_scripts,
        vrrp_instances=instances,
        vrrp_sync_groups=groups,
        virtual_servers=servers,
    )
    return fixed, tuple(found)


def unrunnable(command: str, user: str | None) -> str | None:
    """Why keepalived could not run `command` as `user` (None: our own) at all, or None."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return None  # the loader refused it already
    if not argv:
        return None
    program = argv[0]
    found = program if "/" in program else shutil.which(program)
    if found is None:
        return f"{program} is not found in PATH"
    try:
        st = os.stat(found)
    except OSError as exc:
        return f"{found} cannot be accessed: {exc.strerror}"
    if not stat.S_ISREG(st.st_mode):
        return f"{found} is not a file"
    try:
        who = resolve_user(user) if user else None
    except KeyError:
        return None  # an error of its own at load (unknown_user_errors)
    uid, gid = (who.uid, who.gid) if who else (os.geteuid(), os.getegid())
    if not _executable(st, uid, gid):
        return f"{found} is not executable for uid {uid}"
    return None


def _executable(st: os.stat_result, uid: int, gid: int) -> bool:
    """keepalived's test: root needs any x bit; otherwise the owner's, group's or others' bit
    (the primary group only)."""
    mode = st.st_mode
    if uid == 0:
        return bool(mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    if uid == st.st_uid:
        return bool(mode & stat.S_IXUSR)
    if gid == st.st_gid:
        return bool(mode & stat.S_IXGRP)
    return bool(mode & stat.S_IXOTH)


def _without_fifo_scripts(gd: GlobalDefs, paths: set[KeyPath]) -> GlobalDefs:
    """keepalived frees an insecure FIFO script too (check_notify_script_secure)."""
    at: KeyPath = ("global_defs",)
    return dataclasses.replace(
        gd,
        notify_fifo_script=_kept(gd.notify_fifo_script, (*at, "notify_fifo_script"), paths) or "",
        vrrp_notify_fifo_script=_kept(
            gd.vrrp_notify_fifo_script, (*at, "vrrp_notify_fifo_script"), paths
        )
        or "",
        lvs_notify_fifo_script=_kept(
            gd.lvs_notify_fifo_script, (*at, "lvs_notify_fifo_script"), paths
        )
        or "",
    )


def _kept(cmd: str | None, at: KeyPath, paths: set[KeyPath]) -> str | None:
    return None if at in paths else cmd


_Notifying = TypeVar("_Notifying", VrrpInstance, VrrpSyncGroup)


def _without_notify(who: _Notifying, at: KeyPath, paths: set[KeyPath]) -> _Notifying:
    """`who` (an instance or sync group) with its disabled notify commands unset."""
    return dataclasses.replace(
        who,
        notify_master=_kept(who.notify_master, (*at, "notify_master"), paths),
        notify_backup=_kept(who.notify_backup, (*at, "notify_backup"), paths),
        notify_fault=_kept(who.notify_fault, (*at, "notify_fault"), paths),
        notify_stop=_kept(who.notify_stop, (*at, "notify_stop"), paths),
        notify=_kept(who.notify, (*at, "notify"), paths),
    )


def _server(vs: VirtualServer, i: int, paths: set[KeyPath]) -> VirtualServer:
    at: KeyPath = ("virtual_server", i)
    real = tuple(_real(rs, (*at, "real_server", j), paths) for j, rs in enumerate(vs.real_servers))
    return dataclasses.replace(
        vs,
        real_servers=real,
        quorum_up=_kept(vs.quorum_up, (*at, "quorum_up"), paths),
        quorum_down=_kept(vs.quorum_down, (*at, "quorum_down"), paths),
    )


def _real(rs: RealServer, at: KeyPath, paths: set[KeyPath]) -> RealServer:
    checks = []
    n = 0  # the misc checks are numbered among themselves (lvstui.config.scripts.scripts)
    for check in rs.checks:
        if isinstance(check, MiscCheck):
            gone = (*at, check.kind.value, n, "misc_path") in paths
            n += 1
            if gone:
                continue
        checks.append(check)
    return dataclasses.replace(
        rs,
        checks=tuple(checks),
        notify_up=_kept(rs.notify_up, (*at, "notify_up"), paths),
        notify_down=_kept(rs.notify_down, (*at, "notify_down"), paths),
    )
