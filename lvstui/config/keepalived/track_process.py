"""keepalived's `vrrp_track_process NAME { process NAME [PARAMS...]; param_match [initial|
partial]; weight W [reverse]; quorum N; quorum_max N; delay S; fork_delay S;
terminate_delay S; full_command }` → `[vrrp_track_process.NAME]` (lvstui/vrrp/process.py)."""

from __future__ import annotations

from typing import Any

from lvstui.config.keepalived.notes import Out
from lvstui.config.keepalived.tree import Node
from lvstui.config.keepalived.values import FLAG, INT, NUM, to_number
from lvstui.config.keepalived.vrrp import named_fill
from lvstui.config.locate import KeyPath


def track_process_block(out: Out, node: Node) -> None:
    named_fill(
        out,
        node,
        "vrrp_track_process",
        {
            "quorum": INT,
            "quorum_max": INT,
            "delay": NUM,
            "fork_delay": NUM,
            "terminate_delay": NUM,
            "full_command": FLAG,
        },
        {"process": _process, "param_match": _param_match, "weight": _weight},
    )


def _process(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """`process NAME [PARAMS...]`: parameters are matched exactly unless param_match says."""
    if node.children is not None or not node.args:
        out.note(node, "expected `process NAME [PARAMETERS...]`; left out")
        return
    table["process"] = node.args[0]
    out.mark((*path, "process"), node)
    if len(node.args) > 1:
        table["params"] = list(node.args[1:])


def _param_match(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """`param_match` alone: exact (and no parameters if none are given); `initial`,
    `partial`; another word keepalived reports and ignores."""
    if (
        node.children is not None
        or len(node.args) > 1
        or node.args[:1] not in ([], ["initial"], ["partial"])
    ):
        out.note(node, "keepalived knows `param_match [initial|partial]` only; left out")
        return
    table["param_match"] = node.args[0] if node.args else "exact"
    out.mark((*path, "param_match"), node)


def _weight(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    args = list(node.args)
    weight = to_number(args[0], True) if args else None
    if (
        node.children is not None
        or not isinstance(weight, int)
        or not -254 <= weight <= 254
        or args[1:] not in ([], ["reverse"])
    ):
        out.note(node, "expected `weight W [reverse]` with W in -254..254; left out")
        return
    table["weight"] = weight
    out.mark((*path, "weight"), node)
    if args[1:]:
        table["reverse"] = True
