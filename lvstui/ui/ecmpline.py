"""ECMP consistency as the BGP pane shows it (docs/bgp.md "The same hashing table on every
director"): one line saying whether the directors of the group build the same mh/sh table
for the services of the bgp VIPs — "mh tables: same on lb1, lb2" — or which directors
differ (in red: a flow the router moves between them would reach another real server).

A pure function of the snapshot: this director's services carry their table digest
(`ServiceView.hash_table`), and each group peer the services whose digest differs from
ours (`GroupPeerView.hash_differ`, compared when the peer's status arrived).
"""

from __future__ import annotations

import ipaddress

from lvstui.model import ServiceView, Snapshot
from lvstui.ui.bgpdrain import PaneLine

__all__ = ["ecmp_line"]

DIFFER_STYLE = "bold red"


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a == b


def _bgp_services(snap: Snapshot) -> list[ServiceView]:
    """The services on the bgp VIPs: only they are behind the routers' ECMP."""
    vips = [v.vip for v in snap.announce.vips] if snap.announce is not None else []
    return [s for s in snap.services if any(_same_ip(s.key.addr, v) for v in vips)]


def ecmp_line(snap: Snapshot) -> PaneLine | None:
    """The line, or None without bgp VIPs."""
    if snap.announce is None:
        return None
    services = _bgp_services(snap)
    hashed = [s for s in services if s.hash_table]
    if not hashed:
        if not services:
            return None  # nothing decided yet: the VIP lines say so
        return PaneLine(
            "tables: no mh/sh service on the bgp VIPs: a flow ECMP moves breaks",
            "bold yellow",
        )
    label = "/".join(sorted({s.scheduler for s in hashed})) + " tables"
    group = snap.group
    if group is None or not group.peers:
        return PaneLine(f"{label}: no other director to compare with (docs/group.md)")
    mine = {str(s.key) for s in hashed}
    same = [group.name or "here"]
    differ: list[str] = []
    differing: set[str] = set()  # the services whose table differs somewhere
    unheard: list[str] = []
    for p in group.peers:
        name = p.name or p.address
        bad = set(p.hash_differ) & mine
        if bad:
            differ.append(name)
            differing |= bad
        elif p.config_same is None or not p.reachable:
            unheard.append(name)
        else:
            same.append(name)
    if differ:  # the directors first: the pane is narrow and cuts the end
        text = f"{label}: DIFFERENT on {', '.join(differ)}"
        text += f"; same on {', '.join(same)}" if len(same) > 1 else ""
        text += _unheard(unheard) + f" ({', '.join(sorted(differing))})"
        return PaneLine(text, DIFFER_STYLE)
    return PaneLine(f"{label}: same on {', '.join(same)}" + _unheard(unheard))


def _unheard(names: list[str]) -> str:
    return f"; not compared: {', '.join(names)}" if names else ""
