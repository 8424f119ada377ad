"""What the import tells the operator: a note per directive left out or changed (with why, for
the common ones), collected with the TOML data and its key-path → line map as it is built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lvstui.config.keepalived.tree import Node
from lvstui.config.locate import KeyPath


@dataclass(frozen=True, slots=True)
class ImportNote:
    """Something the operator must know: an unsupported directive, a changed value."""

    file: str
    line: int
    directive: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.directive}: {self.message}"


# Why common keepalived directives have no lvstui equivalent, so the note helps the operator
# decide whether it matters for them.
WHY_NOT = {
    # global_defs settings that lvstui imports there; anywhere else keepalived does not know
    # them either ("Unknown keyword")
    **{
        key: "keepalived knows it in global_defs only, where the import takes it"
        for key in ("vrrp_garp_interval", "vrrp_gna_interval", "vrrp_min_garp")
    },
    "garp_interval": "keepalived does not know it here either: global_defs vrrp_garp_interval",
    "gna_interval": "keepalived does not know it here either: global_defs vrrp_gna_interval",
    "lvs_sync_daemon_inteface": "a misspelling keepalived does not know either",
    "max_auto_priority": "keepalived's real-time scheduling; lvstui runs at normal priority",
    "lvs_id": "keepalived 1.x's name for router_id",
    "mcast_src_ip": "adverts leave from the interface's primary address",
    "nat_mask": "keepalived 2 no longer knows it either",
    "net_mask": "not a keepalived directive",
    "static_route": "not a keepalived keyword: static_routes",
    "dont_track_primary": "the instance's interface is always tracked",
    # keepalived's sync group tracks these for every member; lvstui per instance only
    **{
        key: f"lvstui tracks it per vrrp_instance only: list it in each member's {key}"
        for key in ("track_file", "track_script", "track_interface", "track_process")
    },
}


class Out:
    """The TOML data being built, the key-path → line map, and the notes."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.lines: dict[KeyPath, tuple[str, int]] = {}
        self.notes: list[ImportNote] = []
        self._seen: set[ImportNote] = set()
        self.groups: dict[str, Node] = {}  # virtual_server_group NAME -> its block
        self.groups_used: set[str] = set()
        # track_script NAME weight N: script -> [(instance, weight, node)]
        # checker defaults set on a virtual_server or real_server: path -> key -> (value, node)
        self.defaults: dict[KeyPath, dict[str, tuple[Any, Node]]] = {}
        # global_defs vrrp_garp_master_*: instance key -> (value, node), for every instance
        self.garp_defaults: dict[str, tuple[Any, Node]] = {}
        # keepalived numbers rules without a preference from 16384 down, per family
        self.rule_priority: dict[int, int] = {4: 16384, 6: 16384}

    def note(self, node: Node, message: str, where: str = "") -> None:
        note = ImportNote(node.file, node.line, where or node.key, message)
        if note not in self._seen:  # a group's block is read once per entry: say it once
            self._seen.add(note)
            self.notes.append(note)

    def unsupported(self, node: Node, where: str) -> None:
        if node.key == "include":
            self.note(node, f"{' '.join(node.args)!r} matches no file: nothing included")
            return
        reason = WHY_NOT.get(node.key, "")
        self.note(
            node,
            f"not supported by lvstui; left out{f' ({reason})' if reason else ''}",
            f"{where}{node.key}",
        )

    def mark(self, path: KeyPath, node: Node) -> None:
        self.lines.setdefault(path, (node.file, node.line))
