"""keepalived's `virtual_server` and `virtual_server_group` blocks → our `virtual_server` list:
one service per block, or per group entry, with its real servers."""

from __future__ import annotations

import ipaddress
from typing import Any

from lvstui.config.keepalived.checks import (
    CHECK_DEFAULTS,
    CHECK_KINDS,
    RS_CHECK_DEFAULTS,
    apply_check_defaults,
    check_block,
    check_default,
)
from lvstui.config.keepalived.notes import Out
from lvstui.config.keepalived.tree import Node
from lvstui.config.keepalived.values import FLAG, INT, NUM, STR, fill, joined, to_flag, to_number
from lvstui.config.locate import KeyPath
from lvstui.errors import ConfigError
from lvstui.netutil import is_ipv6


def virtual_server_block(out: Out, node: Node) -> None:
    args = node.args
    if node.children is None:
        out.note(node, "expected a block `virtual_server IP PORT { ... }`; left out")
        return
    if len(args) == 2 and args[0] == "fwmark":
        one_virtual_server(out, node, {"fwmark": to_number(args[1], True)}, node)
    elif len(args) == 2 and args[0] == "group":
        group_virtual_servers(out, node, args[1])
    elif len(args) >= 2 and args[0] not in ("fwmark", "group"):
        if len(args) > 2:
            out.note(
                node,
                f"keepalived reads `virtual_server IP PORT` and ignores the words after it "
                f"({joined(args[2:])}); so does the import",
            )
        one_virtual_server(out, node, {"ip": args[0], "port": to_number(args[1], True)}, node)
    elif len(args) == 1:
        out.note(
            node,
            "a service without a port (keepalived's all-ports persistent service) is not "
            "supported; block left out (a fwmark service does the same)",
        )
    else:
        out.note(
            node,
            "expected `virtual_server IP PORT`, `virtual_server fwmark N` or "
            "`virtual_server group NAME`; block left out",
        )


# A group is expanded into one service per entry; a range of 256 addresses is keepalived's
# own limit for one entry (the last byte), and a cap on the total keeps a typo from
# generating thousands of services.
MAX_GROUP_SERVICES = 1024


def group_virtual_servers(out: Out, node: Node, name: str) -> None:
    group = out.groups.get(name)
    if group is None:
        known = ", ".join(sorted(out.groups)) or "none is defined"
        out.note(node, f"unknown virtual_server_group {name!r} ({known}); block left out")
        return
    out.groups_used.add(name)
    out.lines.setdefault(("virtual_server_group", name), (group.file, group.line))
    idents: list[tuple[dict[str, Any], Node]] = []
    for entry in group.children or []:
        idents.extend(group_entry(out, entry))
    if len(idents) > MAX_GROUP_SERVICES:
        out.note(
            group,
            f"expands to {len(idents)} services, more than {MAX_GROUP_SERVICES}; group left out",
        )
        return
    if not idents:
        out.note(node, f"virtual_server_group {name!r} has no usable entry; block left out")
        return
    out.note(
        node,
        f"virtual_server_group {name!r} expanded into {len(idents)} virtual servers with "
        "this block's settings (lvstui checks each real server once per service)",
        "virtual_server group",
    )
    for ident, entry in idents:
        one_virtual_server(out, node, ident, entry)


def group_entry(out: Out, entry: Node) -> list[tuple[dict[str, Any], Node]]:
    """`IP PORT`, `IP-LAST PORT` (a range on the last byte, or last 16 bits for IPv6), or
    `fwmark N` → the identities of the services it stands for."""
    words = [entry.key, *entry.args]
    if entry.children is not None:
        out.note(entry, "a block inside virtual_server_group; left out")
        return []
    if words[0] == "fwmark":
        if len(words) != 2:
            out.note(entry, "expected `fwmark N`; left out")
            return []
        return [({"fwmark": to_number(words[1], True)}, entry)]
    if len(words) != 2:
        out.note(entry, "expected `IP PORT` or `IP-LAST PORT` (keepalived's range form); left out")
        return []
    first, dash, last = words[0].rpartition("-") if "-" in words[0] else (words[0], "", "")
    port = to_number(words[1], True)
    if not dash:
        return [({"ip": words[0], "port": port}, entry)]
    try:
        start = ipaddress.ip_address(first)
        if start.version == 4:
            stop_part = int(last)
            shift = 8
        else:
            stop_part = int(last, 16)
            shift = 16
    except ValueError:
        out.note(entry, f"bad address range {words[0]!r}; left out")
        return []
    low = int(start) & ((1 << shift) - 1)
    if not low <= stop_part < (1 << shift):
        out.note(entry, f"range {words[0]!r} ends below its start; left out")
        return []
    base = int(start) - low
    return [
        ({"ip": str(ipaddress.ip_address(base + n)), "port": port}, entry)
        for n in range(low, stop_part + 1)
    ]


def one_virtual_server(out: Out, node: Node, ident: dict[str, Any], where: Node) -> None:
    """One service from a `virtual_server` block; `ident` (ip+port or fwmark) and its line
    `where` come from the block's own line or from a virtual_server_group entry."""
    assert node.children is not None
    vss = out.data.setdefault("virtual_server", [])
    path: KeyPath = ("virtual_server", len(vss))
    table: dict[str, Any] = dict(ident)
    vss.append(table)
    out.mark(path, node)
    for key in table:
        out.lines[(*path, key)] = (where.file, where.line)
    defaults = {k: (lambda o, n, t, p: check_default(o, n, p)) for k in CHECK_DEFAULTS}
    fill(
        out,
        node.children,
        table,
        path,
        {
            "delay_loop": NUM,
            "lb_algo": STR,
            "lvs_sched": STR,
            "lb_kind": STR,
            "lvs_method": STR,
            "protocol": STR,
            "persistence_granularity": STR,
            "virtualhost": STR,
            "quorum": INT,
            "hysteresis": INT,
            "quorum_up": STR,
            "quorum_down": STR,
            "inhibit_on_failure": FLAG,
            "alpha": FLAG,
            "omega": FLAG,
            "ha_suspend": FLAG,
            "smtp_alert": FLAG,
        },
        {
            **defaults,
            "persistence_timeout": persistence_line,
            "sorry_server": sorry_server,
            "sorry_server_inhibit": sorry_option,
            "sorry_server_lvs_method": sorry_option,
            "real_server": real_server_block,
            "ip_family": ip_family_line,
            **{
                flag: lb_flag
                for flag in ("sh-port", "sh-fallback", "mh-port", "mh-fallback", "ops")
            },
        },
        f"virtual_server {joined(node.args)}: ",
    )
    if "fwmark" not in table and "protocol" not in table:
        # keepalived 2 sets UDP explicitly ("no protocol set - defaulting to UDP"), since
        # that is what the kernel does with protocol 0: the imported service does the same.
        table["protocol"] = "UDP"
        out.lines[(*path, "protocol")] = (node.file, node.line)
        out.note(
            node,
            "no `protocol`: keepalived then runs this service as UDP, and so does the "
            "import; add `protocol TCP` to the keepalived block if TCP was meant",
            "virtual_server protocol",
        )
    apply_check_defaults(out, table, path)
    fwmark_family(out, node, table, path)
    real_server_ports(out, table, path)


def real_server_ports(out: Out, vs: dict[str, Any], path: KeyPath) -> None:
    """What keepalived does with a real or sorry server's port on an IP:PORT service: port 0
    is the service's port, and with DR or TUN (which cannot change the port) a different
    port is reset to the service's ("ports don't match - resetting")."""
    if "fwmark" in vs or not isinstance(vs.get("port"), int):
        return
    port = vs["port"]
    servers = [(rs, (*path, "real_server", i)) for i, rs in enumerate(vs.get("real_server", []))]
    if isinstance(vs.get("sorry_server"), dict):
        servers.append((vs["sorry_server"], (*path, "sorry_server")))
    for rs, rs_path in servers:
        have = rs.get("port")
        if not isinstance(have, int) or have == port:
            continue
        kind = rs.get("lb_kind") or vs.get("lb_kind") or "NAT"
        file, line = out.lines.get(rs_path, ("<string>", 0))
        where = Node(rs_path[-1] if isinstance(rs_path[-1], str) else "real_server", [], file, line)
        if have == 0:
            why = "port 0 means the service's port in keepalived"
        elif kind in ("DR", "TUN"):
            why = f'{kind} cannot change the port: keepalived resets it ("ports don\'t match")'
        else:
            continue
        rs["port"] = port
        out.note(where, f"{why}; written as {port}")


def fwmark_family(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """keepalived gives a fwmark service the address family of its real servers, and
    clears their ports ("has port specified - clearing"): the mark selects the packets and
    NAT keeps each packet's own port. The port still names what the checks connect to."""
    if "fwmark" not in table:
        return
    reals = table.get("real_server", [])
    ips = [rs.get("ip", "") for rs in reals]
    if "family" not in table and ips and all(is_ipv6(ip) for ip in ips):
        table["family"] = 6
        out.lines[(*path, "family")] = (node.file, node.line)
    for i, rs in enumerate(reals):
        port = rs.get("port")
        if not isinstance(port, int) or port == 0:
            continue
        rs_path = (*path, "real_server", i)
        file, line = out.lines.get(rs_path, (node.file, node.line))
        for kind in ("tcp_check", "http_get", "ssl_get"):
            for j, check in enumerate(rs.get(kind, [])):
                if "connect_port" not in check:
                    check["connect_port"] = port
                    out.lines[(*rs_path, kind, j, "connect_port")] = (file, line)
        rs["port"] = 0
        out.note(
            Node("real_server", [], file, line),
            f"keepalived clears a real server's port on a fwmark service; port 0 here, "
            f"and {port} kept as the checks' connect_port",
            "real_server port",
        )


def persistence_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    if len(node.args) > 1:
        out.note(node, f"takes one value; left out: {joined(node.args[1:])}")
    table["persistence_timeout"] = to_number(node.args[0], True) if node.args else True
    out.lines[(*path, "persistence_timeout")] = (node.file, node.line)


def ip_family_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    fam = {"inet": 4, "inet6": 6}.get(joined(node.args))
    if fam is None:
        out.note(node, "expected inet or inet6; left out")
        return
    if "fwmark" in table:
        table["family"] = fam
        out.lines[(*path, "family")] = (node.file, node.line)


def lb_flag(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    if node.args:
        out.note(node, f"a flag takes no value; left out: {joined(node.args)}")
    flags = table.setdefault("lb_flags", [])
    out.lines[(*path, "lb_flags", len(flags))] = (node.file, node.line)
    flags.append(node.key)


def sorry_server(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    if len(node.args) not in (1, 2):
        out.note(node, "expected `sorry_server IP [PORT]`; left out")
        return
    sorry = table.setdefault("sorry_server", {})
    sorry["ip"] = node.args[0]
    if len(node.args) == 2:  # without: the virtual server's port, as in keepalived 2
        sorry["port"] = to_number(node.args[1], True)
    p = (*path, "sorry_server")
    out.lines[p] = (node.file, node.line)
    out.lines[(*p, "ip")] = out.lines[(*p, "port")] = (node.file, node.line)


def sorry_option(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    sorry = table.setdefault("sorry_server", {})
    key = "inhibit_on_failure" if node.key == "sorry_server_inhibit" else "lb_kind"
    sorry[key] = to_flag(node.args) if key == "inhibit_on_failure" else joined(node.args)
    out.lines[(*path, "sorry_server", key)] = (node.file, node.line)


def real_server_block(out: Out, node: Node, vs: dict[str, Any], vs_path: KeyPath) -> None:
    reals = vs.setdefault("real_server", [])
    path: KeyPath = (*vs_path, "real_server", len(reals))
    if len(node.args) not in (1, 2):
        out.note(node, "expected `real_server IP PORT`; left out")
        return
    table: dict[str, Any] = {"ip": node.args[0]}
    if len(node.args) > 1:  # without a port: the virtual server's (fwmark: none)
        table["port"] = to_number(node.args[1], True)
    reals.append(table)
    out.mark(path, node)
    out.lines[(*path, "ip")] = out.lines[(*path, "port")] = (node.file, node.line)
    fill(
        out,
        node.children or [],
        table,
        path,
        {
            "weight": INT,
            "inhibit_on_failure": FLAG,
            "notify_up": STR,
            "notify_down": STR,
            "smtp_alert": FLAG,
            "uthreshold": INT,
            "lthreshold": INT,
            "lb_kind": STR,
            "lvs_method": STR,
        },
        {
            **{name: check_block for name in CHECK_KINDS},
            **{k: (lambda o, n, t, p: check_default(o, n, p)) for k in RS_CHECK_DEFAULTS},
        },
        f"real_server {joined(node.args)}: ",
    )
    dropped = [
        c for c in node.children or [] if c.key.endswith("_CHECK") and c.key not in CHECK_KINDS
    ]
    if dropped and not any(kind in table for kind in CHECK_KINDS.values()):
        out.note(
            node,
            f"no supported check left ({', '.join(c.key for c in dropped)} left out): this real "
            "server counts as always alive, as in keepalived without a checker",
        )


def virtual_server_group_block(out: Out, node: Node) -> None:
    if len(node.args) != 1 or node.children is None:
        out.note(node, "expected `virtual_server_group NAME { ... }`; left out")
        return
    name = node.args[0]
    if name in out.groups:
        raise ConfigError(
            f"virtual_server_group {name!r} is defined twice",
            file=node.file,
            line=node.line,
            hint="give each one its own name",
        )
    out.groups[name] = node
