"""The scripts a config runs, who runs them, and keepalived's script security rule.

- `with_script_user(config)`: `global_defs.script_user` is the user of every vrrp_script and
  MISC_CHECK that names none (keepalived's default script user), filled in once at load so
  the run-time code sees one `user` field.
- `scripts(config)`: every command the config may run (notify FIFO scripts, notify,
  vrrp_script, MISC_CHECK, quorum_up/down), with its key path and the user it runs as.
- `insecure(path, as_root)`: keepalived's `enable_script_security` rule. A script that runs
  as root (or is set-uid/set-gid root) is insecure when the file, or any directory on the
  way to it from `/`, belongs to a non-root user, or is writable by a group other than root
  or by everyone (a directory with the sticky bit, like /tmp, is not writable that way).
  Reading the file system is check-config's part; the rule itself takes `stat` results.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from lvstui.child import Credentials, resolve_user
from lvstui.config.locate import KeyPath, LineOf, format_key
from lvstui.config.schema import Config, MiscCheck, VrrpInstance, VrrpSyncGroup
from lvstui.errors import ConfigError

__all__ = [
    "Script",
    "insecure",
    "script_credentials",
    "script_problems",
    "scripts",
    "unknown_user_errors",
    "unsafe_mode",
    "with_script_user",
]

_NOTIFY_KEYS = ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify")


@dataclass(frozen=True, slots=True)
class Script:
    path: KeyPath  # where the command is in the config
    command: str  # as written: split like a shell would, never run by one
    user: str | None  # None: lvstui's own user


def with_script_user(config: Config) -> Config:
    """`config` with `global_defs.script_user` given to each script that names no user."""
    user = config.global_defs.script_user
    if not user:
        return config
    vrrp_scripts = tuple(
        s if s.user else dataclasses.replace(s, user=user) for s in config.vrrp_scripts
    )
    servers = tuple(
        dataclasses.replace(
            vs,
            real_servers=tuple(
                dataclasses.replace(
                    rs,
                    checks=tuple(
                        dataclasses.replace(c, user=user)
                        if isinstance(c, MiscCheck) and not c.user
                        else c
                        for c in rs.checks
                    ),
                )
                for rs in vs.real_servers
            ),
        )
        for vs in config.virtual_servers
    )
    return dataclasses.replace(config, vrrp_scripts=vrrp_scripts, virtual_servers=servers)


def scripts(config: Config) -> Iterator[Script]:
    """Every command the config runs; notify and quorum scripts run as script_user too."""
    default = config.global_defs.script_user or None
    gd = config.global_defs
    for fifo_key, fifo_cmd, fifo_user in (
        ("notify_fifo_script", gd.notify_fifo_script, gd.notify_fifo_script_user),
        ("vrrp_notify_fifo_script", gd.vrrp_notify_fifo_script, gd.vrrp_notify_fifo_script_user),
        ("lvs_notify_fifo_script", gd.lvs_notify_fifo_script, gd.lvs_notify_fifo_script_user),
    ):
        if fifo_cmd:
            yield Script(("global_defs", fifo_key), fifo_cmd, fifo_user or default)
    for s in config.vrrp_scripts:
        yield Script(("vrrp_script", s.name, "script"), s.script, s.user)
    notifying: list[tuple[str, VrrpSyncGroup | VrrpInstance]] = [
        *(("vrrp_sync_group", g) for g in config.vrrp_sync_groups),
        *(("vrrp_instance", i) for i in config.vrrp_instances),
    ]
    for table, who in notifying:
        notify = (who.notify_master, who.notify_backup, who.notify_fault, who.notify_stop)
        users = (who.notify_master_user, who.notify_backup_user, who.notify_fault_user)
        users_all = (*users, who.notify_stop_user, who.notify_user)
        for key, cmd, user in zip(_NOTIFY_KEYS, (*notify, who.notify), users_all, strict=True):
            if cmd:
                yield Script((table, who.name, key), cmd, user or default)
    for i, vs in enumerate(config.virtual_servers):
        for key, cmd in (("quorum_up", vs.quorum_up), ("quorum_down", vs.quorum_down)):
            if cmd:
                yield Script(("virtual_server", i, key), cmd, default)
        for j, rs in enumerate(vs.real_servers):
            rpath: KeyPath = ("virtual_server", i, "real_server", j)
            for key, cmd, user in (
                ("notify_up", rs.notify_up, rs.notify_up_user),
                ("notify_down", rs.notify_down, rs.notify_down_user),
            ):
                if cmd:
                    yield Script((*rpath, key), cmd, user or default)
            n = 0
            for check in rs.checks:
                if isinstance(check, MiscCheck):
                    yield Script(
                        (*rpath, check.kind.value, n, "misc_path"), check.misc_path, check.user
                    )
                    n += 1


def unsafe_mode(st: os.stat_result) -> str | None:
    """Why a file or directory on a root script's path is unsafe (keepalived's test)."""
    if st.st_uid != 0:
        return f"owned by uid {st.st_uid}, not root"
    sticky_dir = stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX
    if sticky_dir:
        return None
    if st.st_gid != 0 and st.st_mode & stat.S_IWGRP:
        return f"writable by group {st.st_gid}"
    if st.st_mode & stat.S_IWOTH:
        return "writable by everyone"
    return None


def insecure(program: str, as_root: bool) -> str | None:
    """Why running `program` (a path, or a name looked up in PATH) is insecure, or None.

    Only scripts that run as root, or whose file is set-uid/set-gid root, need protecting
    (keepalived's rule). A program that is not there is not judged here: it fails when run,
    with its own error (and may be installed after the config was written)."""
    found = program if "/" in program else shutil.which(program)
    if found is None:
        return None
    full = os.path.abspath(found)
    try:
        st = os.stat(full)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot access {full}: {exc.strerror}"
    setid_root = (st.st_uid == 0 and st.st_mode & stat.S_ISUID and st.st_mode & stat.S_IXUSR) or (
        st.st_gid == 0 and st.st_mode & stat.S_ISGID and st.st_mode & stat.S_IXGRP
    )
    if not as_root and not setid_root:
        return None
    parts = full.split("/")
    for k in range(1, len(parts) + 1):
        step = "/".join(parts[:k]) or "/"
        if k > 1 and not parts[k - 1]:
            continue  # a doubled slash
        try:
            why = unsafe_mode(os.stat(step))
        except OSError as exc:
            return f"cannot access {step}: {exc.strerror}"
        if why:
            return f"{step} is {why}: a non-root user could change what runs as root"
    return None


def script_problems(config: Config) -> Iterator[tuple[Script, str]]:
    """Each script keepalived's enable_script_security would refuse to run here, and why."""
    own_root = os.geteuid() == 0
    for script in scripts(config):
        try:
            argv = shlex.split(script.command)
        except ValueError:
            continue  # the loader already refused it
        if not argv:
            continue
        as_root = own_root
        if script.user:
            try:
                as_root = resolve_user(script.user).uid == 0
            except KeyError:
                # keepalived leaves such a script out before judging it: nothing runs as
                # root; check-config warns about the user (config/hostlint.py)
                continue
        if why := insecure(argv[0], as_root):
            yield script, why


def script_credentials(config: Config) -> Credentials | None:
    """Who notify and quorum scripts run as: script_user, resolved (None: our own user)."""
    user = config.global_defs.script_user
    if not user:
        return None
    try:
        return resolve_user(user)
    except KeyError as exc:
        raise ConfigError(
            str(exc.args[0]), file=config.path, key="global_defs.script_user"
        ) from None


def unknown_user_errors(config: Config, line_of: LineOf) -> list[ConfigError]:
    """script_user must name a user of this host: a reload that would break every script
    is refused before anything changes."""
    path: KeyPath = ("global_defs", "script_user")
    try:
        script_credentials(config)
    except ConfigError as exc:
        return [ConfigError(exc.detail, file=config.path, line=line_of(path), key=exc.key)]
    gd = config.global_defs
    out = []
    for key, user in (
        ("notify_fifo_script_user", gd.notify_fifo_script_user),
        ("vrrp_notify_fifo_script_user", gd.vrrp_notify_fifo_script_user),
        ("lvs_notify_fifo_script_user", gd.lvs_notify_fifo_script_user),
    ):
        try:
            if user:
                resolve_user(user)
        except KeyError as e:
            where: KeyPath = ("global_defs", key)
            out.append(
                ConfigError(
                    str(e.args[0]), file=config.path, line=line_of(where), key=format_key(where)
                )
            )
    return out
