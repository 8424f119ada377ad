"""The shared conversion of directives: values (numbers, flags, command lines), the generic
`fill` of a table from `key value` lines and its dispatch to block handlers, and list blocks."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from lvstui.config.keepalived.notes import Out
from lvstui.config.keepalived.tree import Node
from lvstui.config.locate import KeyPath
from lvstui.config.schema import KERNEL_SCHEDULERS


def to_number(text: str, integer: bool) -> Any:
    try:
        return (
            int(text) if integer else (int(text) if re.fullmatch(r"-?\d+", text) else float(text))
        )
    except ValueError:
        return text  # the loader reports "expected a number" with this line


def to_flag(args: list[str]) -> Any:
    if not args:
        return True
    word = args[0].lower()
    if word in ("true", "yes", "on", "1"):
        return True
    if word in ("false", "no", "off", "0"):
        return False
    return args[0]


def joined(args: list[str]) -> str:
    return " ".join(args)


# Commands that keep keepalived's `KEY "CMD" USER [GROUP]` as `KEY_user` (the others note it).
NOTIFY_COMMANDS = {
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_up",
    "notify_down",
}
WITH_USER = NOTIFY_COMMANDS | {f"{k}notify_fifo_script" for k in ("", "vrrp_", "lvs_")}
# Directives whose value is a command line.
COMMANDS = {"script", "misc_path", "quorum_up", "quorum_down", *NOTIFY_COMMANDS}
SHELL = re.compile(r"[|;&<>`]|\$\(")


def command_line(out: Out, node: Node) -> str:
    """A command directive as keepalived 2 reads it: the first word (a quoted string, or one
    bare word) is the command line; after it, notify and quorum commands take the user (and
    group) to run as, and `script` / `misc_path` ignore the rest. keepalived 1.x took the
    whole line instead, and configs of that era rely on it, so an unquoted command followed
    by more words is imported whole, with a note saying what keepalived 2 makes of it."""
    args = node.args
    if len(args) <= 1:
        return joined(args)
    runs_as = node.key not in ("script", "misc_path")
    if node.quoted[:1] == [True]:
        if node.key in WITH_USER:
            pass  # command_and_user keeps the user
        elif runs_as:
            out.note(
                node,
                f"runs as user {joined(args[1:])!r} in keepalived; lvstui has no per-command "
                "user for this directive: it runs as lvstui's user",
            )
        else:
            out.note(
                node, f"keepalived ignores the words after the quoted command: {joined(args[1:])}"
            )
        return args[0]
    what = (
        f"runs {args[0]!r} as user {joined(args[1:])!r} (and skips the command when no such "
        "user exists)"
        if runs_as
        else f"runs {args[0]!r} alone (the other words are dropped)"
    )
    out.note(
        node,
        f"unquoted command with arguments: keepalived 2 {what}; keepalived 1.x and this import "
        f'take the whole line. Quote it in keepalived.conf: "{joined(args)}"',
    )
    return joined(args)


def command_and_user(out: Out, node: Node, table: dict[str, Any], path: KeyPath, key: str) -> None:
    """`KEY "CMD" [USER [GROUP]]`: table[KEY] = CMD, table[KEY_user] = USER. The group is
    left out, noted (the command gets the user's own groups, as for script_user)."""
    table[key] = command_line(out, node)
    table.pop(f"{key}_user", None)  # a repeated line replaces the user too
    if node.quoted[:1] != [True] or len(node.args) < 2:
        return
    table[f"{key}_user"] = node.args[1]
    out.mark((*path, f"{key}_user"), node)
    if len(node.args) > 2:
        out.note(
            node,
            f"group {joined(node.args[2:])!r} left out: the script runs with "
            f"{node.args[1]!r}'s own groups",
        )


def shell_syntax_note(out: Out, node: Node, command: str) -> None:
    """keepalived 2 splits a command into words and runs it without a shell, and so does
    lvstui: pipes, redirections and `;` are passed as plain arguments. Say so at import."""
    if SHELL.search(command):
        out.note(
            node,
            "uses shell syntax, but the command runs without a shell (as in keepalived 2): "
            "write it as /bin/sh -c '...' if that is meant",
        )


def lb_kind(out: Out, node: Node, value: str) -> str:
    """keepalived matches NAT/DR/TUN case-sensitively: `lb_kind dr` is "unknown routing
    method" there, and the service runs as NAT ("no forwarding method set, setting default
    NAT"); the import does the same and says so. TUN may carry a tunnel type (`TUN type gue
    port 6080`): lvstui tunnels with IP-in-IP."""
    words = value.split()
    if len(words) > 1 and words[0] == "TUN":
        out.note(node, f"tunnel options `{joined(words[1:])}` not supported: plain IP-in-IP TUN")
        return "TUN"
    if value not in ("NAT", "DR", "TUN"):
        upper = value.upper()
        meant = f"; write {upper} if that is meant" if upper in ("DR", "TUN") else ""
        out.note(
            node,
            f"keepalived does not know {value!r} (it takes NAT, DR or TUN in capitals) and "
            f"runs this as NAT; so does the import{meant}",
        )
        return "NAT"
    return value


def lb_algo(out: Out, node: Node, table: dict[str, Any], name: str) -> None:
    """keepalived ignores a scheduler the kernel does not have (`RR`, `loadbalance`) and
    runs its default, wlc (also lvstui's default): the import leaves the key out."""
    if table[name] not in KERNEL_SCHEDULERS:
        out.note(
            node,
            f"keepalived ignores the unknown scheduler {table[name]!r} (names are lower case) "
            "and runs wlc; so does the import",
        )
        del table[name]


# value converters by kind
Conv = Callable[[list[str]], Any]
INT: Conv = lambda a: to_number(a[0], True) if a else ""  # noqa: E731
NUM: Conv = lambda a: to_number(a[0], False) if a else ""  # noqa: E731
STR: Conv = joined
FLAG: Conv = to_flag


RENAME = {"nb_get_retry": "retry", "lvs_sched": "lb_algo", "lvs_method": "lb_kind"}


def fill(
    out: Out,
    nodes: list[Node],
    table: dict[str, Any],
    path: KeyPath,
    simple: dict[str, Conv],
    blocks: dict[str, Callable[[Out, Node, dict[str, Any], KeyPath], None]],
    where: str,
) -> None:
    """Map simple `key value` directives and dispatch known blocks; note the rest."""
    for node in nodes:
        key = node.key
        if key in simple and node.children is None:
            name = RENAME.get(key, key)
            if name in table:
                out.note(
                    node,
                    f"repeated; replaces line {out.lines.get((*path, name), ('', '?'))[1]}",
                )
            conv = simple[key]
            if conv is not STR and len(node.args) > 1:
                out.note(node, f"takes one value; left out: {joined(node.args[1:])}")
            if name in WITH_USER:
                command_and_user(out, node, table, path, name)
            else:
                table[name] = command_line(out, node) if name in COMMANDS else conv(node.args)
            out.lines[(*path, name)] = (node.file, node.line)
            if name in COMMANDS:
                shell_syntax_note(out, node, table[name])
            if name == "lb_kind":
                table[name] = lb_kind(out, node, table[name])
            elif name == "lb_algo":
                lb_algo(out, node, table, name)
        elif key in blocks:
            blocks[key](out, node, table, path)
        else:
            out.unsupported(node, where)


def list_items(node: Node) -> list[Node]:
    """A list block `{ a \\n b }`, or the inline form `key a b`: one node per item."""
    if node.children is None:
        return [Node(a, [], node.file, node.line) for a in node.args]
    return node.children


def list_block(
    out: Out, node: Node, table: dict[str, Any], path: KeyPath, *, whole_line: bool = False
) -> None:
    if node.key in table:
        first = out.lines.get((*path, node.key), ("", "?"))[1]
        out.note(node, f"second {node.key} block: merged with the one at line {first}")
    values = table.setdefault(node.key, [])
    out.mark((*path, node.key), node)
    for item in list_items(node):
        if item.children is not None:
            out.note(item, "a block inside a list; left out")
            continue
        value: str | None = item.key
        if item.args and not whole_line:
            value = list_item_words(out, node.key, item)
        if whole_line:
            value = vip_words(out, item)
        elif node.key == "unicast_peer":
            value = bare_address(out, item, item.key, "unicast peer")
        if value is None:
            continue
        out.lines[(*path, node.key, len(values))] = (item.file, item.line)
        values.append(value)


def list_item_words(out: Out, key: str, item: Node) -> str:
    """`eth1 weight -10 [reverse]` in track_interface, `chk weight 5` in track_script
    (keepalived 2): kept as written, lvstui reads the same words. Anything else is noted and
    the name alone is kept."""
    words = list(item.args)
    reverse = bool(words) and words[-1] == "reverse"
    if words and words[-1] in ("reverse", "noreverse", "no_reverse"):
        words = words[:-1]
    if (
        key in ("track_interface", "track_script", "track_process", "track_file")
        and len(words) == 2
        and words[0] == "weight"
    ):
        weight = to_number(words[1], True)
        if isinstance(weight, int) and -253 <= weight <= 253:
            return f"{item.key} weight {weight}" + (" reverse" if reverse else "")
    out.note(item, f"extra words after {item.key!r} not supported; left out: {joined(item.args)}")
    return item.key


# keepalived's virtual_ipaddress options: the ones we carry, and the others (with or
# without a value) that are noted and left out rather than failing the whole address.
VIP_KEPT = {"dev", "label", "scope", "brd", "broadcast"}
VIP_VALUED = {"peer", "preferred_lft", "track_group"}


def bare_address(out: Out, node: Node, text: str, what: str) -> str | None:
    """keepalived reads a unicast address up to a `/prefix` it ignores, and skips one it
    cannot parse (a template's `XX.XX.XX.116`) with an error it runs on after: so do we."""
    addr, slash, _plen = text.partition("/")
    try:
        ip = str(ipaddress.ip_address(addr))
    except ValueError:
        out.note(node, f"keepalived skips the {what} {text!r}, not an address; so does the import")
        return None
    if slash:
        out.note(node, f"keepalived ignores the prefix length of {what} {text}; written as {ip}")
    return ip


def _broadcast(address: str, word: str) -> str | None:
    """iproute2's `brd +` (host bits set) and `brd -` (host bits clear) for ADDR/PLEN."""
    try:
        net = ipaddress.ip_interface(address).network
    except ValueError:
        return None
    return str(net.broadcast_address if word == "+" else net.network_address)


def vip_words(out: Out, item: Node) -> str | None:
    try:
        ipaddress.ip_interface(item.key)
    except ValueError:
        out.note(
            item,
            f'keepalived skips {item.key!r}, not an address ("VRRP parsed invalid IP"); '
            "so does the import",
        )
        return None
    words = [item.key]
    rest = list(item.args)
    while rest:
        word = rest.pop(0)
        if word in ("brd", "broadcast") and rest and rest[0] in ("+", "-"):
            sign = rest.pop(0)
            value = _broadcast(item.key, sign)
            if value is not None:
                out.note(item, f"`{word} {sign}` written as brd {value} (iproute2's meaning)")
                words += ["brd", value]
                continue
        if word in VIP_KEPT and rest:
            words += [word, rest.pop(0)]
            continue
        dropped = word
        if word in VIP_VALUED and rest:
            dropped += " " + rest.pop(0)
        out.note(item, f"address option `{dropped}` not supported; left out")
    return " ".join(words)


def user_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    if not node.args:
        out.note(node, "expected `user USER`; left out")
        return
    if len(node.args) > 1:
        out.note(node, f"group {node.args[1]!r} not supported (the user's own group is used)")
    table["user"] = node.args[0]
    out.lines[(*path, "user")] = (node.file, node.line)
