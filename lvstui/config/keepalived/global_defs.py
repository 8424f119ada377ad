"""keepalived's `global_defs` block → our `global_defs` table."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from lvstui.config.keepalived.notes import Out
from lvstui.config.keepalived.tree import Node
from lvstui.config.keepalived.values import (
    FLAG,
    INT,
    NUM,
    STR,
    Conv,
    command_and_user,
    fill,
    list_block,
    to_flag,
    to_number,
)
from lvstui.config.locate import KeyPath
from lvstui.config.schema import VrrpInstance
from lvstui.netutil import bracket_host


def global_defs_block(out: Out, node: Node) -> None:
    table = out.data.setdefault("global_defs", {})
    path: KeyPath = ("global_defs",)
    out.mark(path, node)
    fill(
        out,
        node.children or [],
        table,
        path,
        {
            "notification_email_from": STR,
            "router_id": STR,
            "smtp_connect_timeout": NUM,
            "smtp_alert": FLAG,
            "vrrp_version": INT,
            "vrrp_startup_delay": NUM,
            "vrrp_garp_interval": NUM,
            "vrrp_gna_interval": NUM,
            "enable_script_security": FLAG,
            "lvs_flush": FLAG,
            "vrrp_strict": FLAG,
            "vrrp_skip_check_adv_addr": FLAG,
            **{f"{kind}notify_fifo": STR for kind in ("", "vrrp_", "lvs_")},
        },
        {
            "notification_email": lambda o, n, t, p: list_block(o, n, t, p),
            "smtp_server": smtp_server_line,
            "lvs_sync_daemon": sync_daemon_line,
            "lvs_timeouts": lvs_timeouts_line,
            **{f"vrrp_{key}": garp_default for key in GARP_DEFAULTS},
            **{key: unprefixed_garp for key in GARP_DEFAULTS},
            "vrrp_min_garp": min_garp_line,
            "script_user": script_user_line,
            **{f"{kind}notify_fifo_script": fifo_script_line for kind in ("", "vrrp_", "lvs_")},
            "lvs_flush_on_stop": flush_on_stop_line,
            "lvs_flush_onstop": flush_on_stop_line,  # keepalived's spelling before 2.1.5
        },
        "global_defs.",
    )


# keepalived's global_defs defaults for the gratuitous ARPs of every instance; lvstui has the
# same keys on each instance only, so the import writes them there.
GARP_DEFAULTS: dict[str, Conv] = {
    "garp_master_delay": NUM,
    "garp_master_repeat": INT,
    "garp_master_refresh": NUM,
    "garp_master_refresh_repeat": INT,
}


def unprefixed_garp(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """`garp_master_delay` in global_defs: keepalived has it there only as
    `vrrp_garp_master_delay` ("Unknown keyword" otherwise) and ignores the line."""
    out.note(
        node,
        f"keepalived does not know `{node.key}` in global_defs (it takes vrrp_{node.key}) and "
        "ignores it; so does the import",
    )


def garp_default(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    key = node.key.removeprefix("vrrp_")
    if node.children is not None or len(node.args) != 1:
        out.note(node, f"expected `{node.key} VALUE`; left out")
        return
    out.garp_defaults[key] = (GARP_DEFAULTS[key](node.args), node)


def script_user_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """`script_user USER [GROUP]`: the user; lvstui runs a script with its user's own groups."""
    if node.children is not None or not 1 <= len(node.args) <= 2:
        out.note(node, "expected `script_user USER [GROUP]`; left out")
        return
    table["script_user"] = node.args[0]
    out.mark((*path, "script_user"), node)
    if len(node.args) == 2:
        out.note(
            node,
            f"group {node.args[1]!r} left out: scripts run with {node.args[0]!r}'s own groups",
        )


def fifo_script_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """`notify_fifo_script "CMD" [USER [GROUP]]`: the command, and the user it runs as
    (`*_script_user`); the group is left out (the user's own groups), as for script_user."""
    if node.children is not None or not node.args:
        out.note(node, f"expected `{node.key} COMMAND [USER [GROUP]]`; left out")
        return
    command_and_user(out, node, table, path, node.key)
    out.mark((*path, node.key), node)


def flush_on_stop_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """`lvs_flush_on_stop [VS]`: alone, every IPVS service on stop ("full"); `VS`, each
    service keepalived created ("vs"); any other word keepalived reports and ignores."""
    if node.children is not None or len(node.args) > 1 or node.args not in ([], ["VS"]):
        out.note(node, f"keepalived knows `{node.key}` or `{node.key} VS` only; left out")
        return
    table["lvs_flush_on_stop"] = "vs" if node.args else "full"
    out.mark((*path, "lvs_flush_on_stop"), node)
    if node.key == "lvs_flush_onstop":
        out.note(node, "keepalived's older spelling: written as lvs_flush_on_stop")


def min_garp_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """keepalived's `vrrp_min_garp [true]`: one gratuitous ARP/NA on becoming master, no
    second batch, no refresh: the garp defaults it implies, unless the file sets them."""
    flag = to_flag(node.args)
    if flag is not True:
        if flag is not False:
            out.note(node, f"expected `vrrp_min_garp [true|false]`; left out: {node.args[0]!r}")
        return
    for key, value in (("garp_master_repeat", 1), ("garp_master_delay", 0.0)):
        out.garp_defaults.setdefault(key, (value, node))


def garp_defaults(out: Out) -> None:
    """Carry global_defs vrrp_garp_master_* into each instance that does not set its own
    (what keepalived does with them); a value equal to lvstui's default needs nothing."""
    instances = out.data.get("vrrp_instance", {})
    defaults = {f.name: f.default for f in fields(VrrpInstance)}
    for key, (value, node) in out.garp_defaults.items():
        if value == defaults[key]:
            out.note(node, f"same as lvstui's default {key} ({value!r}); nothing to carry over")
            continue
        names = [n for n, inst in instances.items() if key not in inst]
        for name in names:
            instances[name][key] = value
            out.lines[("vrrp_instance", name, key)] = (node.file, node.line)
        if names:
            out.note(
                node,
                f"a global default in keepalived: set as `{key} = {value!r}` on each "
                f"vrrp_instance without its own ({', '.join(map(str, names))})",
            )
        else:
            out.note(node, "no vrrp_instance without its own value to carry it to; left out")


def smtp_server_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    if node.children is not None or not node.args:
        out.note(node, "expected `smtp_server HOST [PORT]`; left out")
        return
    host = node.args[0]
    if len(node.args) > 1:
        host = f"{bracket_host(host)}:{node.args[1]}"
    table["smtp_server"] = host
    out.lines[(*path, "smtp_server")] = (node.file, node.line)


def lvs_timeouts_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """`lvs_timeouts tcp 7200 tcpfin 120 udp 300` (any of the three, in any order)."""
    words = list(node.args)
    timeouts: dict[str, Any] = {}
    while len(words) >= 2 and words[0] in ("tcp", "tcpfin", "udp"):
        key, value = words.pop(0), words.pop(0)
        timeouts[key] = to_number(value, True)
        out.lines[(*path, "lvs_timeouts", key)] = (node.file, node.line)
    if words:
        left = " ".join(words)
        out.note(node, f"expected `lvs_timeouts [tcp N] [tcpfin N] [udp N]`; left out: {left}")
    if timeouts:
        table["lvs_timeouts"] = timeouts
        out.lines[(*path, "lvs_timeouts")] = (node.file, node.line)


def sync_daemon_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    args = list(node.args)
    if len(args) < 2:
        out.note(node, "expected `lvs_sync_daemon INTERFACE INSTANCE [id N] ...`; left out")
        return
    sync: dict[str, Any] = {"interface": args[0], "instance": args[1]}
    rest = args[2:]
    names = {"id": "syncid", "maxlen": "maxlen", "port": "port", "ttl": "ttl", "group": "group"}
    while rest:
        word = rest.pop(0)
        if word in names and rest:
            value = rest.pop(0)
            sync[names[word]] = value if word == "group" else to_number(value, True)
        else:
            out.note(node, f"option {word!r} not supported; left out")
    table["lvs_sync_daemon"] = sync
    for key in ("lvs_sync_daemon", *[("lvs_sync_daemon", k) for k in sync]):
        out.lines[(*path, *((key,) if isinstance(key, str) else key))] = (node.file, node.line)


def fill_more_global(out: Out, node: Node) -> None:
    out.note(node, "second global_defs block: merged into the first")
    global_defs_block(out, node)
