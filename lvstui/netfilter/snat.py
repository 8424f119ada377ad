"""Source NAT for IPVS NAT services (`source_nat`): the nftables table that rewrites the
source of what IPVS forwards to a service's real servers to the director's address.

Pure: `snat_table` turns the wanted targets into the one table lvstui owns for this
(`inet lvstui_snat`, a nat chain on postrouting). IPVS NAT alone rewrites only the
destination, so a real server answers the client directly and needs the director as its
route back; with the source rewritten too it answers the director, which needs no route
change on the server (the kernel's conntrack must see IPVS traffic: net.ipv4.vs.conntrack=1,
set by the caller).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lvstui.netfilter.nft import Chain, TableSpec
from lvstui.netutil import is_ipv6

__all__ = ["FAMILY", "TABLE", "SnatTarget", "snat_table"]

FAMILY = "inet"  # one table for IPv4 and IPv6
TABLE = "lvstui_snat"
CHAIN = "postrouting"
SRCNAT = 100  # the kernel's NF_IP_PRI_NAT_SRC


@dataclass(frozen=True, slots=True, order=True)
class SnatTarget:
    """One real server of a `source_nat` service: traffic IPVS sends to addr (proto, port;
    port 0: any port, as for a fwmark service) leaves with the director's source address,
    `to` when set, else the outgoing interface's (masquerade)."""

    addr: str
    proto: str  # "tcp", "udp", "sctp"; "" for a fwmark service (any protocol)
    port: int
    to: str = ""


def _match(v6: bool, with_port: bool, elems: list[Any]) -> dict[str, Any]:
    daddr = {"payload": {"protocol": "ip6" if v6 else "ip", "field": "daddr"}}
    left: Any = daddr
    if with_port:
        l4 = {"meta": {"key": "l4proto"}}
        left = {"concat": [daddr, l4, {"payload": {"protocol": "th", "field": "dport"}}]}
    return {"match": {"op": "==", "left": left, "right": {"set": elems}}}


def snat_table(targets: Iterable[SnatTarget]) -> TableSpec | None:
    """The table for these targets; None when there are none (the table goes away)."""
    groups: dict[tuple[bool, bool, str], list[Any]] = {}
    for t in sorted(set(targets)):
        with_port = bool(t.proto) and t.port != 0
        elem: Any = {"concat": [t.addr, t.proto, t.port]} if with_port else t.addr
        groups.setdefault((is_ipv6(t.addr), with_port, t.to), []).append(elem)
    if not groups:
        return None
    rules = []
    for (v6, with_port, to), elems in sorted(groups.items()):
        # `ip daddr` / `ip6 daddr` in an inet table match that family only
        action: dict[str, Any] = (
            {"snat": {"family": "ip6" if v6 else "ip", "addr": to}} if to else {"masquerade": None}
        )
        rules.append((CHAIN, (_match(v6, with_port, elems), action)))
    chain = Chain(CHAIN, "nat", "postrouting", SRCNAT)
    return TableSpec(FAMILY, TABLE, chains=(chain,), rules=tuple(rules))
