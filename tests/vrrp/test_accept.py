"""Accept mode on the in-memory nftables twin: the VIPs of a non-owner MASTER with
accept = false are dropped while it holds them, and only then (the lab test runs it against
keepalived in strict mode: tests/vrrp/test_lab_netconf.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lvstui.clock import FakeClock
from lvstui.config.schema import Config, VipAddress
from lvstui.errors import VrrpError
from lvstui.model import VrrpRunState as S
from lvstui.netfilter.nft import MemoryNft
from lvstui.vrrp.accept import FAMILY, TABLE, VipDrops, drop_table
from lvstui.vrrp.transport import MemoryHub
from tests.vrrp.test_node import Director, inst, run_for, until


def test_the_table_drops_to_and_from_the_vips_and_lets_nd_through() -> None:
    spec = drop_table(["198.51.100.9", "2001:db8::9", "198.51.100.9"])
    assert spec is not None and (spec.family, spec.name) == (FAMILY, TABLE)
    assert {s.name: s.elements for s in spec.sets} == {
        "vips4": ("198.51.100.9",),
        "vips6": ("2001:db8::9",),
    }
    assert [c.prio for c in spec.chains] == [-1, -1]
    for chain, field in (("in", "daddr"), ("out", "saddr")):
        exprs = [e for c, e in spec.rules if c == chain]
        assert exprs[0][1] == {"accept": None}  # neighbour discovery first
        assert exprs[1][0]["match"]["left"]["payload"] == {"protocol": "ip", "field": field}
        assert exprs[1][1] == {"drop": None}
    assert drop_table([]) is None


class Dropping(Director):
    def __init__(self, hub: MemoryHub, clock: FakeClock, addr: str, cfg: Config) -> None:
        super().__init__(hub, clock, addr, cfg)
        self.nft = MemoryNft()
        self.group.vip_drops = VipDrops(self.nft)
        for node in self.group.nodes.values():
            node.vips.drops = self.group.vip_drops

    def dropped(self) -> set[str]:
        t = self.nft.tables.get((FAMILY, TABLE))
        if t is None:
            return set()
        return {e for s in t.sets.values() for e in s.get("elem", [])}


EXCLUDED = VipAddress("203.0.113.9", 32)


async def test_a_no_accept_master_drops_its_vips_while_it_holds_them() -> None:
    hub, clock = MemoryHub(), FakeClock()
    cfg = Config(vrrp_instances=(inst(100, accept=False, virtual_ipaddress_excluded=(EXCLUDED,)),))
    b = Dropping(hub, clock, "198.51.100.12", cfg)
    await b.group.start()
    await until(clock, lambda: b.state() == S.MASTER)
    await run_for(clock, 0.1)
    assert b.dropped() == {"198.51.100.9", "203.0.113.9"} and b.has_vip()
    a = Dropping(hub, clock, "198.51.100.11", Config(vrrp_instances=(inst(150),)))
    await a.group.start()
    try:
        await until(clock, lambda: b.state() == S.BACKUP)
        await run_for(clock, 0.1)
        assert b.dropped() == set() and (FAMILY, TABLE) not in b.nft.tables
        assert a.nft.batches == 0  # accept (the default): nftables never called
    finally:
        await a.group.stop()
        await b.group.stop()


@pytest.mark.parametrize("kw", [{"accept": True}, {"accept": False, "priority": 255}])
async def test_accept_or_the_owner_drops_nothing(kw: dict[str, object]) -> None:
    hub, clock = MemoryHub(), FakeClock()
    one = replace(inst(100), **kw)
    a = Dropping(hub, clock, "198.51.100.11", Config(vrrp_instances=(one,)))
    await a.group.start()
    try:
        await until(clock, lambda: a.state() == S.MASTER)
        await run_for(clock, 0.1)
        assert a.nft.batches == 0 and a.has_vip()
    finally:
        await a.group.stop()


async def test_a_refused_drop_is_an_error_naming_accept_mode() -> None:
    nft = MemoryNft()
    nft.refuse = "Operation not permitted"
    drops = VipDrops(nft)
    with pytest.raises(VrrpError, match=r"accept mode \(no_accept\): nftables refused"):
        await drops.hold("VI_1", ["198.51.100.9"])
