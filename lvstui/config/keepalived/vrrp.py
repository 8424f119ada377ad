"""keepalived's VRRP blocks (`vrrp_script`, `vrrp_sync_group`, `vrrp_instance`) → our tables,
and what keepalived decides per instance after reading the whole file (version, weights)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lvstui.config.keepalived.notes import Out
from lvstui.config.keepalived.routes import route_list
from lvstui.config.keepalived.strict import no_accept_line, use_vmac_line
from lvstui.config.keepalived.tree import Node
from lvstui.config.keepalived.values import (
    FLAG,
    INT,
    NUM,
    STR,
    Conv,
    bare_address,
    fill,
    joined,
    list_block,
    to_number,
    user_line,
)
from lvstui.config.locate import KeyPath
from lvstui.errors import ConfigError
from lvstui.netutil import is_ipv6

# --- VRRP

NOTIFY = {
    k: STR for k in ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify")
}


def named_block(out: Out, node: Node, section: str) -> tuple[dict[str, Any], KeyPath] | None:
    if len(node.args) != 1 or node.children is None:
        out.note(node, f"expected `{section} NAME {{ ... }}`; left out")
        return None
    name = node.args[0]
    tables = out.data.setdefault(section, {})
    if name in tables:
        raise ConfigError(
            f"{section} {name!r} is defined twice",
            file=node.file,
            line=node.line,
            hint="give each one its own name",
        )
    path: KeyPath = (section, name)
    out.mark(path, node)
    tables[name] = {}
    return tables[name], path


Block = Callable[[Out, Node, dict[str, Any], KeyPath], None]


def named_fill(
    out: Out, node: Node, section: str, simple: dict[str, Conv], blocks: dict[str, Block]
) -> None:
    """A `SECTION NAME { ... }` block of simple directives and sub-handlers → its table."""
    got = named_block(out, node, section)
    if got is not None:
        table, path = got
        fill(out, node.children or [], table, path, simple, blocks, f"{section} {node.args[0]}: ")


def vrrp_script_block(out: Out, node: Node) -> None:
    named_fill(
        out,
        node,
        "vrrp_script",
        {"script": STR, "interval": NUM, "timeout": NUM, "weight": INT, "rise": INT, "fall": INT},
        {"user": user_line, "init_fail": init_fail_line},
    )


def init_fail_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """keepalived's `init_fail` is documented as "the script starts as failed", but every
    instance's `track_script` entry puts the script back in its init state (vrrp_track.c),
    so keepalived runs it as if absent (checked in the lab: tests/vrrp/test_lab_parity.py).
    Left out, to run as keepalived does; lvstui's own `init_fail = true` applies it."""
    if node.args or node.children is not None:
        out.note(node, "`init_fail` takes no value; left out")
        return
    out.note(
        node,
        "keepalived does not apply it to a tracked script (the track_script entry resets the "
        "script to its init state); left out to run the same. lvstui's init_fail = true "
        "would start it failed",
    )


def preempt_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """keepalived's `preempt` clears an earlier `nopreempt` (preempting is the default)."""
    if node.args or node.children is not None:
        out.note(node, "`preempt` takes no value; left out")
        return
    if table.pop("nopreempt", None):
        out.lines.pop((*path, "nopreempt"), None)
        out.note(node, "clears the nopreempt above, as in keepalived")
    else:
        out.mark((*path, "preempt"), node)  # the default: nothing to write


def sync_group_block(out: Out, node: Node) -> None:
    got = named_block(out, node, "vrrp_sync_group")
    if got is None:
        return
    table, path = got
    children = node.children or []
    if not any(c.key == "group" for c in children):
        # keepalived 1.x's `vrrp_sync_group VG { VI_1 VI_2 }`: keepalived 2 reads the names
        # as unknown keywords and removes the group ("has no virtual router(s)")
        del out.data["vrrp_sync_group"][node.args[0]]
        out.note(
            node,
            "no `group { ... }` inside: keepalived 2 reads the names as unknown keywords and "
            "removes this sync group, so does the import; wrap the names in `group { }` to "
            "keep it",
        )
        return
    fill(
        out,
        children,
        table,
        path,
        {**NOTIFY, "smtp_alert": FLAG},
        {
            "group": lambda o, n, t, p: list_block(o, n, t, p),
            "sync_group_tracking_weight": tracking_weight_line,
            "global_tracking": tracking_weight_line,
        },
        f"vrrp_sync_group {node.args[0]}: ",
    )


def tracking_weight_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """`sync_group_tracking_weight`: the members keep their tracking weights (see
    lvstui/config/syncweights.py); keepalived 1.x's `global_tracking` is its old name."""
    if node.args or node.children is not None:
        out.note(node, f"`{node.key}` takes no value; left out")
        return
    table["sync_group_tracking_weight"] = True
    out.mark((*path, "sync_group_tracking_weight"), node)
    if node.key == "global_tracking":
        out.note(node, "deprecated (keepalived says so too): sync_group_tracking_weight")


def state_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    value = joined(node.args)
    if value.upper() == "SLAVE":
        out.note(node, "`state SLAVE` means BACKUP (the tutorial's wording); written as BACKUP")
        value = "BACKUP"
    elif value not in ("MASTER", "BACKUP"):
        # keepalived 2 takes these two words in capitals only: "unknown state ..., defaulting
        # to BACKUP" (a lower-case `master`, a template's placeholder)
        out.note(
            node,
            f"keepalived knows only MASTER and BACKUP, in capitals: it runs {value!r} as "
            "BACKUP, so does the import",
        )
        value = "BACKUP"
    table["state"] = value
    out.lines[(*path, "state")] = (node.file, node.line)


def priority_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    if len(node.args) > 1:
        out.note(node, f"takes one value; left out: {joined(node.args[1:])}")
    value = to_number(node.args[0], True) if node.args else None
    if not isinstance(value, int) or not 1 <= value <= 255:
        # keepalived: "Priority not valid! must be between 1 & 255. Using default 100"
        out.note(
            node,
            f"priority {joined(node.args[:1])!r} is not 1-255: keepalived uses its default "
            "100, so does the import",
        )
        return
    table["priority"] = value
    out.lines[(*path, "priority")] = (node.file, node.line)


def authentication(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    auth: dict[str, Any] = {}
    table["authentication"] = auth
    p = (*path, "authentication")
    out.mark(p, node)
    fill(
        out,
        node.children or [],
        auth,
        p,
        {"auth_type": STR, "auth_pass": STR},
        {},
        "authentication.",
    )
    if auth.get("auth_type") not in (None, "PASS", "AH"):
        # keepalived: "unknown authentication type" and the instance runs without one
        del table["authentication"]
        out.note(
            node,
            f"keepalived knows auth_type PASS or AH only: it runs without authentication on "
            f"{auth['auth_type']!r}, so does the import",
        )
        return
    if "auth_type" in auth and not auth.get("auth_pass"):
        # keepalived: "Authentication specified but no password given. Ignoring"
        del table["authentication"]
        out.note(
            node,
            "no auth_pass: keepalived ignores this authentication block, so does the import",
        )
        return
    if isinstance(auth.get("auth_pass"), str) and len(auth["auth_pass"]) > 8:
        out.note(
            node, "auth_pass is longer than 8 characters; keepalived uses the first 8, so do we"
        )
        auth["auth_pass"] = auth["auth_pass"][:8]


def vrrp_instance_block(out: Out, node: Node) -> None:
    got = named_block(out, node, "vrrp_instance")
    if got is None:
        return
    table, path = got
    lists = {
        key: (lambda o, n, t, p, w=whole: list_block(o, n, t, p, whole_line=w))
        for key, whole in (
            ("virtual_ipaddress", True),
            ("virtual_ipaddress_excluded", True),
            ("unicast_peer", False),
            ("track_interface", False),
            ("track_script", False),
            ("track_process", False),
            ("track_file", False),
        )
    }
    fill(
        out,
        node.children or [],
        table,
        path,
        {
            **NOTIFY,
            "interface": STR,
            "virtual_router_id": INT,
            "advert_int": NUM,
            "version": INT,
            "nopreempt": FLAG,
            "preempt_delay": NUM,
            "smtp_alert": FLAG,
            "accept": FLAG,
            "strict_mode": FLAG,
            "vmac_xmit_base": FLAG,
            "skip_check_adv_addr": FLAG,
            "garp_master_delay": NUM,
            "garp_master_repeat": INT,
            "garp_master_refresh": NUM,
            "garp_master_refresh_repeat": INT,
        },
        {
            **lists,
            "state": state_line,
            "priority": priority_line,
            "unicast_src_ip": unicast_src_ip,
            "authentication": authentication,
            "lvs_sync_daemon_interface": sync_daemon_interface,
            "no_accept": no_accept_line,
            "use_vmac": use_vmac_line,
            "preempt": preempt_line,
            "virtual_routes": route_list,
            "virtual_rules": route_list,
        },
        f"vrrp_instance {node.args[0]}: ",
    )


def unicast_src_ip(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    ip = bare_address(out, node, joined(node.args), "unicast_src_ip")
    if ip is not None:
        table["unicast_src_ip"] = ip
        out.lines[(*path, "unicast_src_ip")] = (node.file, node.line)


def sync_daemon_interface(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """keepalived 1.x's per-instance `lvs_sync_daemon_interface IF` (still read, deprecated,
    by keepalived 2): the sync daemon on IF follows this instance."""
    gd = out.data.setdefault("global_defs", {})
    if len(node.args) != 1 or "lvs_sync_daemon" in gd:
        out.note(node, "expected one interface, and one sync daemon in the whole file; left out")
        return
    gd["lvs_sync_daemon"] = {"interface": node.args[0], "instance": path[-1]}
    for key in (
        ("lvs_sync_daemon",),
        ("lvs_sync_daemon", "interface"),
        ("lvs_sync_daemon", "instance"),
    ):
        out.lines[("global_defs", *key)] = (node.file, node.line)
    out.note(
        node,
        "deprecated in keepalived 2: written as global_defs.lvs_sync_daemon "
        f"(interface {node.args[0]}, instance {path[-1]})",
    )


# value converters by kind


def vrrp_versions(out: Out) -> None:
    """Do what keepalived does with the version of each instance: IPv6 addresses make it
    VRRPv3 (VRRPv2 carries IPv4 only), and a VRRPv2 advert interval is rounded to whole
    seconds. Done after the whole file is read, since global_defs may come last."""
    default = out.data.get("global_defs", {}).get("vrrp_version", 2)
    for name, inst in out.data.get("vrrp_instance", {}).items():
        path: KeyPath = ("vrrp_instance", name)
        file, line = out.lines.get(path, ("<string>", 0))
        where = Node("vrrp_instance", [name], file, line)
        version = inst.get("version", default)
        vips = inst.get("virtual_ipaddress", [])
        first = vips[0].split()[0] if vips and isinstance(vips[0], str) and vips[0] else ""
        if is_ipv6(first) and "version" not in inst and version == 2:
            inst["version"] = version = 3
            out.lines[(*path, "version")] = (file, line)
            out.note(
                where,
                "IPv6 addresses: keepalived runs this instance as VRRPv3, so does the import "
                "(version = 3)",
                f"vrrp_instance {name}: version",
            )
        advert = inst.get("advert_int")
        if (
            version == 2
            and isinstance(advert, float)
            and math.isfinite(advert)
            and advert > 0
            and advert != int(advert)
        ):
            rounded = max(1, int(advert + 0.5))
            inst["advert_int"] = rounded
            adv_file, adv_line = out.lines.get((*path, "advert_int"), (file, line))
            out.note(
                Node("advert_int", [], adv_file, adv_line),
                f"VRRPv2 adverts are whole seconds: keepalived rounds {advert:g} to "
                f"{rounded}, so does the import; use version 3 for sub-second adverts",
                f"vrrp_instance {name}: advert_int",
            )
