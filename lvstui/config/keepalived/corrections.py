"""What keepalived corrects in VRRP after reading the whole file, done the same way by the
import and said in a note: an instance without a usable virtual_router_id is not run,
`nopreempt` is cleared where it cannot work, a vrrp_script without `script` is removed and
a track_script naming no script is ignored."""

from __future__ import annotations

from typing import Any

from lvstui.config.keepalived.notes import Out
from lvstui.config.keepalived.tree import Node
from lvstui.config.locate import KeyPath


def node_at(out: Out, path: KeyPath, key: str) -> Node:
    file, line = out.lines.get(path, ("<string>", 0))
    return Node(key, [], file, line)


def vrrp_corrections(out: Out) -> None:
    scripts: dict[str, Any] = out.data.get("vrrp_script", {})
    for name in [n for n, t in scripts.items() if "script" not in t]:
        del scripts[name]
        out.note(
            node_at(out, ("vrrp_script", name), "vrrp_script"),
            "no `script`: keepalived removes this vrrp_script, so does the import",
            f"vrrp_script {name}",
        )
    instances: dict[str, Any] = out.data.get("vrrp_instance", {})
    for name in list(instances):
        inst = instances[name]
        path: KeyPath = ("vrrp_instance", name)
        vrid = inst.get("virtual_router_id")
        if not isinstance(vrid, int) or not 1 <= vrid <= 255:
            del instances[name]
            out.note(
                node_at(out, path, "vrrp_instance"),
                'no virtual_router_id of 1-255: keepalived does not run this instance ("the '
                'virtual router id must be set"), so the import leaves it out',
                f"vrrp_instance {name}",
            )
            continue
        if inst.get("nopreempt") is True:
            why = ""
            if inst.get("state") == "MASTER":
                why = "with initial state MASTER"
            elif inst.get("priority") == 255:
                why = "with priority 255 (the address owner always takes over)"
            if why:
                inst["nopreempt"] = False
                out.note(
                    node_at(out, (*path, "nopreempt"), "nopreempt"),
                    f"nopreempt does not work {why}: keepalived clears it, so does the import; "
                    "use state BACKUP on every director for nopreempt",
                    f"vrrp_instance {name}: nopreempt",
                )
        tracked = inst.get("track_script")
        if isinstance(tracked, list):
            kept, kept_lines = [], []
            for i, entry in enumerate(tracked):
                where = out.lines.pop((*path, "track_script", i), None)
                script = entry.split()[0] if isinstance(entry, str) and entry.split() else entry
                if script in scripts:
                    kept.append(entry)
                    kept_lines.append(where)
                    continue
                file, line = where or out.lines.get(path, ("<string>", 0))
                out.note(
                    Node("track_script", [], file, line),
                    f"no vrrp_script {script!r}: keepalived ignores this track_script entry, "
                    "so does the import",
                    f"vrrp_instance {name}: track_script",
                )
            inst["track_script"] = kept
            for i, where in enumerate(kept_lines):  # the line map follows the shorter list
                if where is not None:
                    out.lines[(*path, "track_script", i)] = where
