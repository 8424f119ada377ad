"""keepalived's `track_file NAME { file "PATH"; weight W [reverse]; init_file [V] [overwrite] }`
(and its deprecated synonym `vrrp_track_file`) → `[track_file.NAME]`, which FILE_CHECK names."""

from __future__ import annotations

from typing import Any

from lvstui.config.keepalived.checks import weight_line
from lvstui.config.keepalived.notes import Out
from lvstui.config.keepalived.tree import Node
from lvstui.config.keepalived.values import STR, to_number
from lvstui.config.keepalived.vrrp import named_fill
from lvstui.config.locate import KeyPath


def track_file_block(out: Out, node: Node) -> None:
    named_fill(
        out, node, "track_file", {"file": STR}, {"weight": weight_line, "init_file": _init_file}
    )


def _init_file(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """`init_file [VALUE] [overwrite]`: VALUE defaults to 0."""
    args = list(node.args)
    overwrite = bool(args) and args[-1] == "overwrite"
    if overwrite:
        args.pop()
    if len(args) > 1:
        out.note(node, "expected `init_file [VALUE] [overwrite]`; left out")
        return
    table["init_file"] = to_number(args[0], True) if args else 0
    out.lines[(*path, "init_file")] = (node.file, node.line)
    if overwrite:
        table["init_overwrite"] = True
        out.lines[(*path, "init_overwrite")] = (node.file, node.line)
