"""keepalived's accept mode: a MASTER that is not the address owner and runs with
`accept = false` (keepalived's `no_accept`, the default in strict mode) holds its VIPs but
takes no packet for them: nftables drops what comes in to a VIP and what leaves from one,
while the VIPs are on (keepalived sets the same drop when it adds the addresses and removes
it with them). Neighbour discovery still passes, so the VIP answers for its MAC address;
ARP is not IP and is not filtered.

One table, `inet lvstui_vrrp`, holds the VIPs of every instance that drops, replaced whole
on each change through the shared nftables edge (lvstui/netfilter/nft.py); it goes away
when no instance drops. The chains run at priority -1, before IPVS (which takes packets
for a virtual service at LOCAL_IN): an IPVS service on a dropping VIP is unreachable, as
it is under keepalived."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from lvstui.errors import DataplaneError, VrrpError
from lvstui.netfilter.nft import Chain, MemoryNft, Nft, NftSet, TableSpec, delete_table
from lvstui.netfilter.nft import replace_table as replace
from lvstui.netutil import is_ipv6

__all__ = ["FAMILY", "TABLE", "DropSet", "VipDrops", "drop_table"]

FAMILY = "inet"
TABLE = "lvstui_vrrp"
PRIO = -1  # before the filter tables at 0 and IPVS, as keepalived's chains
_ND = ["nd-neighbor-solicit", "nd-neighbor-advert"]


class DropSet(Protocol):
    async def hold(self, instance: str, addrs: Iterable[str]) -> None:
        """Drop packets to and from `addrs` for this instance (none: stop dropping)."""
        ...

    async def close(self) -> None: ...


def _match(proto: str, field: str, right: Any) -> dict[str, Any]:
    return {"match": {"op": "==", "left": {"payload": {"protocol": proto, "field": field}},
                      "right": right}}  # fmt: skip


def drop_table(addrs: Iterable[str]) -> TableSpec | None:
    """The table dropping traffic to and from `addrs`; None when there are none."""
    wanted = sorted(set(addrs))
    if not wanted:
        return None
    v4 = tuple(a for a in wanted if not is_ipv6(a))
    v6 = tuple(a for a in wanted if is_ipv6(a))
    nd = (_match("icmpv6", "type", {"set": _ND}), {"accept": None})
    rules: list[tuple[str, tuple[dict[str, Any], ...]]] = []
    for chain, field in (("in", "daddr"), ("out", "saddr")):
        rules.append((chain, nd))
        rules.append((chain, (_match("ip", field, "@vips4"), {"drop": None})))
        rules.append((chain, (_match("ip6", field, "@vips6"), {"drop": None})))
    return TableSpec(
        FAMILY,
        TABLE,
        chains=(Chain("in", "filter", "input", PRIO), Chain("out", "filter", "output", PRIO)),
        sets=(NftSet("vips4", ("ipv4_addr",), v4), NftSet("vips6", ("ipv6_addr",), v6)),
        rules=tuple(rules),
    )


class VipDrops:
    """The dropped VIPs of every instance, kept in one nftables table."""

    def __init__(self, nft: Nft | None = None) -> None:
        self.nft: Nft = nft or MemoryNft()
        self.held: dict[str, tuple[str, ...]] = {}
        self._on = False  # the table is there (this run made it)

    async def hold(self, instance: str, addrs: Iterable[str]) -> None:
        wanted = tuple(addrs)
        if self.held.get(instance, ()) == wanted:
            return
        if wanted:
            self.held[instance] = wanted
        else:
            self.held.pop(instance, None)
        await self._apply()

    async def _apply(self) -> None:
        spec = drop_table(a for addrs in self.held.values() for a in addrs)
        try:
            if spec is not None:
                await self.nft.run(replace(spec))
                self._on = True
            elif self._on:
                await self.nft.run(delete_table(FAMILY, TABLE))
                self._on = False
        except DataplaneError as exc:
            raise VrrpError(f"accept mode (no_accept): {exc.message}", hint=exc.hint) from exc

    async def close(self) -> None:
        self.held.clear()
        await self._apply()
