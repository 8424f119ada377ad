"""The tree → the dict that config.toml would parse to, plus a map from our key paths back to
keepalived lines, and the notes: each top-level block to its section's handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lvstui.config.keepalived.corrections import vrrp_corrections
from lvstui.config.keepalived.global_defs import fill_more_global, garp_defaults, global_defs_block
from lvstui.config.keepalived.notes import ImportNote, Out
from lvstui.config.keepalived.routes import net_namespace_line, static_block
from lvstui.config.keepalived.strict import strict_corrections
from lvstui.config.keepalived.track_file import track_file_block
from lvstui.config.keepalived.track_process import track_process_block
from lvstui.config.keepalived.tree import Node
from lvstui.config.keepalived.virtual_server import virtual_server_block, virtual_server_group_block
from lvstui.config.keepalived.vrrp import (
    sync_group_block,
    vrrp_instance_block,
    vrrp_script_block,
    vrrp_versions,
)
from lvstui.config.locate import KeyPath

TOP: dict[str, Callable[[Out, Node], None]] = {
    "global_defs": global_defs_block,
    "vrrp_script": vrrp_script_block,
    "vrrp_sync_group": sync_group_block,
    "vrrp_instance": vrrp_instance_block,
    "virtual_server": virtual_server_block,
    "track_file": track_file_block,
    "vrrp_track_file": track_file_block,  # keepalived's deprecated synonym
    "vrrp_track_process": track_process_block,
    "static_ipaddress": static_block,
    "static_routes": static_block,
    "static_rules": static_block,
    "net_namespace": net_namespace_line,
}


def to_toml_data(
    nodes: list[Node],
) -> tuple[dict[str, Any], dict[KeyPath, tuple[str, int]], list[ImportNote]]:
    out = Out()
    for node in nodes:  # groups first: keepalived resolves them after reading the file
        if node.key == "virtual_server_group":
            virtual_server_group_block(out, node)
    # the first global_defs block (static_* and net_namespace also write [global_defs])
    first_global = next((n for n in nodes if n.key == "global_defs"), None)
    for node in nodes:
        handler = TOP.get(node.key)
        if node.key == "virtual_server_group":
            continue
        if handler is None:
            out.unsupported(node, "")
        elif node.key == "global_defs" and node is not first_global:
            fill_more_global(out, node)
        else:
            handler(out, node)
    for name, group in out.groups.items():
        if name not in out.groups_used:
            out.note(group, f"no `virtual_server group {name}` uses it; left out")
    vrrp_corrections(out)
    vrrp_versions(out)
    strict_corrections(out)
    garp_defaults(out)
    return out.data, out.lines, out.notes
