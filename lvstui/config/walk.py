"""The schema walk: the top-level tables in order, each to its section reader, then the checks
between tables (sync group members, tracked scripts, duplicate services)."""

from __future__ import annotations

from lvstui.config.announce import AnnounceMode
from lvstui.config.locate import KeyPath
from lvstui.config.schema import Config, GlobalDefs, LvstuiSettings
from lvstui.config.sections.checks import read_track_file
from lvstui.config.sections.global_defs import read_global_defs, read_lvstui
from lvstui.config.sections.virtual_server import read_virtual_server
from lvstui.config.sections.vrrp import (
    read_instance,
    read_sync_group,
    read_track_process,
    read_vrrp_script,
)
from lvstui.config.suggest import did_you_mean
from lvstui.config.table import Ctx, Table

_TOP = (
    "global_defs",
    "lvstui",
    "vrrp_script",
    "vrrp_track_process",
    "track_file",
    "vrrp_sync_group",
    "vrrp_instance",
    "virtual_server",
)


def build(ctx: Ctx, root: Table) -> Config:
    gt = root.sub("global_defs")
    gd = read_global_defs(gt) if gt else GlobalDefs()
    lt = root.sub("lvstui")
    settings = read_lvstui(lt) if lt else LvstuiSettings()
    ctx.dataplane = settings.dataplane
    scripts = tuple(read_vrrp_script(name, t) for name, t in root.named("vrrp_script"))
    procs = tuple(read_track_process(name, t) for name, t in root.named("vrrp_track_process"))
    groups = tuple(read_sync_group(name, t) for name, t in root.named("vrrp_sync_group"))
    instances = tuple(read_instance(name, t, gd) for name, t in root.named("vrrp_instance"))
    tracks = tuple(read_track_file(name, t) for name, t in root.named("track_file"))
    ctx.track_files = {tf.name: tf for tf in tracks}
    vss = tuple(read_virtual_server(t) for t in root.subs("virtual_server"))
    root.known.update(_TOP)
    root.finish()
    cfg = Config(
        path=ctx.file,
        global_defs=gd,
        lvstui=settings,
        vrrp_scripts=scripts,
        vrrp_track_processes=procs,
        vrrp_sync_groups=groups,
        vrrp_instances=instances,
        virtual_servers=vss,
        track_files=tracks,
    )
    cross_checks(ctx, cfg)
    return cfg


# --- relations between tables ----------------------------------------------------------


def cross_checks(ctx: Ctx, cfg: Config) -> None:
    names = {i.name for i in cfg.vrrp_instances}
    owner: dict[str, str] = {}
    for g in cfg.vrrp_sync_groups:
        for i, member in enumerate(g.group):
            path: KeyPath = ("vrrp_sync_group", g.name, "group", i)
            if member not in names:
                ctx.err(
                    path,
                    f"sync group member {member!r} is not a vrrp_instance",
                    did_you_mean(member, sorted(names)) or "define [vrrp_instance.NAME] first",
                )
            elif member in owner:
                ctx.err(path, f"instance {member!r} is already in sync group {owner[member]!r}")
            else:
                owner[member] = g.name
    scripts = {s.name for s in cfg.vrrp_scripts}
    procs = {p.name for p in cfg.vrrp_track_processes}
    files = {f.name for f in cfg.track_files}
    for inst in cfg.vrrp_instances:
        for key, tracked, known, table in (
            ("track_script", inst.track_script, scripts, "vrrp_script"),
            ("track_process", inst.track_process, procs, "vrrp_track_process"),
            ("track_file", inst.track_file, files, "track_file"),
        ):
            for i, name in enumerate(tracked):
                if name not in known:
                    ctx.err(
                        ("vrrp_instance", inst.name, key, i),
                        f"unknown {table} {name!r}",
                        did_you_mean(name, sorted(known)) or f"define it as [{table}.NAME]",
                    )
    sync = cfg.global_defs.lvs_sync_daemon
    if sync is not None and sync.instance and sync.instance not in names:
        ctx.err(
            ("global_defs", "lvs_sync_daemon", "instance"),
            f"unknown vrrp_instance {sync.instance!r}",
            did_you_mean(sync.instance, sorted(names)) or "name one of the [vrrp_instance.NAME]",
        )
    _announce_modes(ctx, cfg)
    seen: dict[tuple[object, ...], int] = {}
    for i, vs in enumerate(cfg.virtual_servers):
        ident: tuple[object, ...] = (
            ("fwmark", vs.fwmark, vs.family)
            if vs.fwmark is not None
            else (vs.protocol, vs.ip, vs.port)
        )
        if vs.fwmark is None and vs.ip is None:
            continue
        if ident in seen:
            ctx.err(
                ("virtual_server", i, "fwmark" if vs.fwmark is not None else "ip"),
                f"duplicate virtual server {vs.label} (also virtual_server[{seen[ident]}])",
            )
        else:
            seen[ident] = i


def _announce_modes(ctx: Ctx, cfg: Config) -> None:
    """A route announces an address, not a service: every service on one VIP must agree on
    how it is announced, and a fwmark service has no address to announce."""
    default = cfg.lvstui.announce.mode
    first: dict[str, tuple[int, AnnounceMode]] = {}
    for i, vs in enumerate(cfg.virtual_servers):
        mode = vs.announce or default
        if vs.fwmark is not None:
            if vs.announce is AnnounceMode.BGP:
                ctx.err(
                    ("virtual_server", i, "announce"),
                    "a fwmark service has no address to announce over BGP",
                    "announce each VIP with a virtual_server on its address (docs/bgp.md)",
                )
            continue
        if vs.ip is None:
            continue
        if vs.ip not in first:
            first[vs.ip] = (i, mode)
            continue
        j, other = first[vs.ip]
        if other is not mode:
            ctx.err(
                ("virtual_server", i, "announce"),
                f"{vs.ip} is announced by {other.value} in virtual_server[{j}] "
                f"but by {mode.value} here",
                "every service on one VIP uses the same announce mode",
            )
