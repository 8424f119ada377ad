"""keepalived's strict mode (`vrrp_strict`, `strict_mode`) as it corrects an instance when it
loads the file, done the same way by the import and said in a note: authentication and
preempt_delay are dropped, MASTER goes with priority 255 only, and accept mode is off on
VRRPv2 for a non-owner. Unicast peers it refuses outright (the instance does not run), and
so does lvstui's loader. Also the instance lines `no_accept` and `use_vmac`."""

from __future__ import annotations

from typing import Any

from lvstui.config.keepalived.corrections import node_at as at
from lvstui.config.keepalived.notes import Out
from lvstui.config.keepalived.tree import Node
from lvstui.config.locate import KeyPath

__all__ = ["strict_corrections"]


def strict_corrections(out: Out) -> None:
    default = out.data.get("global_defs", {}).get("vrrp_strict") is True
    for name, inst in out.data.get("vrrp_instance", {}).items():
        if inst.get("strict_mode", default) is not True:
            continue
        path: KeyPath = ("vrrp_instance", name)
        where = f"vrrp_instance {name}: "
        owner = inst.get("priority") == 255
        for key, why in (
            ("authentication", "strict mode does not support authentication"),
            ("preempt_delay", "preempt_delay is incompatible with strict mode"),
        ):
            if key in inst:
                del inst[key]
                out.note(at(out, (*path, key), key), f"{why}: keepalived ignores it, so does "
                         "the import", where + key)  # fmt: skip
        state = inst.get("state")
        if state is not None and (state == "MASTER") != owner:
            inst["state"] = "MASTER" if owner else "BACKUP"
            out.note(at(out, (*path, "state"), "state"), f"strict mode: state MASTER goes with "
                     f"the address owner (priority 255); keepalived starts it as {inst['state']}, "
                     "so does the import", where + "state")  # fmt: skip
        version = inst.get("version", out.data.get("global_defs", {}).get("vrrp_version", 2))
        if inst.get("accept") is True and not owner and version == 2:
            inst["accept"] = False
            out.note(at(out, (*path, "accept"), "accept"), "accept mode for VRRPv2 does not "
                     "comply with RFC 3768: keepalived resets it, so does the import",
                     where + "accept")  # fmt: skip


def no_accept_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    table["accept"] = False
    out.mark((*path, "accept"), node)


def use_vmac_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """`use_vmac [NAME]` (lvstui/vrrp/vmac.py), run as keepalived does (adverts of either
    family from the VMAC, from the base interface with vmac_xmit_base)."""
    if node.children is not None or len(node.args) > 1:
        out.note(node, "expected `use_vmac [NAME]`; left out")
        return
    table["use_vmac"] = node.args[0] if node.args else True
    out.mark((*path, "use_vmac"), node)
