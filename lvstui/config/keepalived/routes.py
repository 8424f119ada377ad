"""keepalived's top-level blocks that lvstui keeps in [global_defs] (`net_namespace` too),
and its route and rule lists (`virtual_routes`, `virtual_rules` in a vrrp_instance;
`static_routes`, `static_rules`, `static_ipaddress` at the top level, which lvstui keeps in
[global_defs]): each line kept as written when lvstui takes all of its words, noted and
left out otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lvstui.config.keepalived.notes import Out
from lvstui.config.keepalived.tree import Node
from lvstui.config.keepalived.values import list_items, vip_words
from lvstui.config.locate import KeyPath
from lvstui.config.routes import IpRule, parse_route, parse_rule

__all__ = ["net_namespace_line", "route_list", "static_block"]

# keepalived's default_interface: where a static address without `dev` goes
DEFAULT_INTERFACE = "eth0"


def _entry_words(out: Out, item: Node, virtual: bool) -> tuple[str, bool]:
    """The line without keepalived's own words: (text, whether it said no_track)."""
    words = [item.key, *item.args]
    no_track = "no_track" in words
    words = [w for w in words if w != "no_track"]
    if "track_group" in words:
        i = words.index("track_group")
        out.note(item, f"track_group {' '.join(words[i + 1 : i + 2])} left out: lvstui does "
                 "not watch static entries")  # fmt: skip
        del words[i : i + 2]
    return " ".join(words), no_track or not virtual


def route_list(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """virtual_routes / virtual_rules / static_routes / static_rules → a list of strings."""
    rules = node.key.endswith("rules")
    parse: Callable[[str], object] = parse_rule if rules else parse_route
    values = table.setdefault(node.key, [])
    out.mark((*path, node.key), node)
    tracked = False
    for item in list_items(node):
        if item.children is not None:
            out.note(item, "a block inside a list; left out")
            continue
        text, untracked = _entry_words(out, item, node.key.startswith("virtual_"))
        tracked |= not untracked
        try:
            parsed = parse(text)
        except ValueError as exc:
            out.note(item, f"{exc}; left out", f"{node.key}: {item.key}")
            continue
        if isinstance(parsed, IpRule) and parsed.priority is None:
            prio = out.rule_priority[parsed.family]
            out.rule_priority[parsed.family] = prio - 1
            text += f" priority {prio}"
            out.note(item, f"no preference: written as priority {prio}, the one keepalived "
                     "gives it (the next from 16384 down)", node.key)  # fmt: skip
        out.lines[(*path, node.key, len(values))] = (item.file, item.line)
        values.append(text)
    if tracked:
        out.note(
            node,
            "without no_track keepalived leaves MASTER when one of these is deleted from "
            "outside; lvstui does not watch them (they come back at the next takeover)",
        )


def static_block(out: Out, node: Node) -> None:
    """A top-level static_* block, into [global_defs]."""
    table = out.data.setdefault("global_defs", {})
    path: KeyPath = ("global_defs",)
    if node.key != "static_ipaddress":
        route_list(out, node, table, path)
        return
    values = table.setdefault(node.key, [])
    out.mark((*path, node.key), node)
    for item in list_items(node):
        text = vip_words(out, item) if item.children is None else None
        if text is None:
            continue
        if " dev " not in f" {text} ":
            out.note(item, f"no dev: on keepalived's default_interface, {DEFAULT_INTERFACE}")
            text += f" dev {DEFAULT_INTERFACE}"
        out.lines[(*path, node.key, len(values))] = (item.file, item.line)
        values.append(text)


def net_namespace_line(out: Out, node: Node) -> None:
    """The top-level `net_namespace NAME`, into [global_defs] (lvstui/netns.py)."""
    if node.children is not None or len(node.args) != 1:
        out.note(node, "expected `net_namespace NAME`; left out")
        return
    out.data.setdefault("global_defs", {})["net_namespace"] = node.args[0]
    out.mark(("global_defs", "net_namespace"), node)
