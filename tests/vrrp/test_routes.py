"""virtual_routes / virtual_rules follow the MASTER state; static_* stay from start to stop;
a reload adds and removes the difference. On the in-memory twins (the lab test runs them
against keepalived on real netlink: tests/vrrp/test_lab_netconf.py)."""

from __future__ import annotations

from dataclasses import replace

from lvstui.clock import FakeClock
from lvstui.config.routes import parse_route, parse_rule
from lvstui.config.schema import Config, GlobalDefs, VipAddress, VrrpInstance
from lvstui.model import VrrpRunState as S
from lvstui.vrrp.transport import MemoryHub
from tests.vrrp.test_node import Director, inst, run_for, until

ROUTE = "203.0.113.0/24 via 198.51.100.1 dev eth0"
RULE = "from 198.51.100.9/32 priority 200 table 100"
STATIC = GlobalDefs(
    static_ipaddress=(VipAddress("192.0.2.5", 24, dev="eth1"),),
    static_routes=(parse_route("192.0.2.128/25 via 192.0.2.1"),),
    static_rules=(parse_rule("from 192.0.2.0/24 table 101 priority 201"),),
)


def routed(prio: int, **kw: object) -> VrrpInstance:
    return inst(prio, virtual_routes=(parse_route(ROUTE),), virtual_rules=(parse_rule(RULE),), **kw)


class Side(Director):
    def virtual(self) -> bool:
        return ROUTE in self.routes.routes and RULE in self.routes.rules


async def test_virtual_routes_follow_master_and_statics_stay() -> None:
    hub, clock = MemoryHub(), FakeClock()
    a = Side(hub, clock, "198.51.100.11", Config(vrrp_instances=(routed(150),)))
    b = Side(hub, clock, "198.51.100.12", Config(global_defs=STATIC, vrrp_instances=(routed(100),)))
    await b.group.start()
    # the static ones at once, before any election
    assert b.routes.routes == {"192.0.2.128/25 via 192.0.2.1"}
    assert b.routes.rules == {"from 192.0.2.0/24 priority 201 table 101"}
    assert b.addrs.addrs["eth1"] == {"192.0.2.5/24"}
    await until(clock, lambda: b.state() == S.MASTER)
    await run_for(clock, 0.2)
    assert b.virtual()
    # the VIP first, then the route, then the rule; the reverse on the way out
    ops = [op for op, _ in b.routes.log]
    assert ops[-2:] == ["add route", "add rule"]
    await a.group.start()
    try:
        await until(clock, lambda: a.state() == S.MASTER and b.state() == S.BACKUP)
        await run_for(clock, 0.2)
        assert a.virtual() and not b.virtual()
        assert [op for op, _ in b.routes.log][-2:] == ["remove rule", "remove route"]
        assert "192.0.2.128/25 via 192.0.2.1" in b.routes.routes  # static: whatever the state
    finally:
        await a.group.stop()
        await b.group.stop()
    assert not b.routes.routes and not b.routes.rules and not b.addrs.addrs["eth1"]
    assert not a.routes.routes and not a.routes.rules


async def test_reload_adds_and_removes_only_the_difference() -> None:
    hub, clock = MemoryHub(), FakeClock()
    a = Side(hub, clock, "198.51.100.11", Config(global_defs=STATIC, vrrp_instances=(routed(150),)))
    await a.group.start()
    try:
        await until(clock, lambda: a.state() == S.MASTER)
        await run_for(clock, 0.2)
        other = parse_route("blackhole 198.18.0.0/15")
        new = routed(150)
        new = replace(new, virtual_routes=(*new.virtual_routes, other), virtual_rules=())
        gd = replace(STATIC, static_rules=())
        before = len(a.routes.log)
        lines = await a.group.reload(Config(global_defs=gd, vrrp_instances=(new,)))
        done = a.routes.log[before:]
        assert done == [
            ("remove rule", RULE),
            ("add route", "blackhole 198.18.0.0/15"),
            ("remove rule", "from 192.0.2.0/24 priority 201 table 101"),
        ]
        assert "vrrp_instance VI_1: rule removed: " + RULE + " (MASTER)" in lines
        assert "static rule removed: from 192.0.2.0/24 priority 201 table 101" in lines
        assert a.state() == S.MASTER  # routes changed, not the state
        assert a.routes.routes == {ROUTE, "blackhole 198.18.0.0/15", "192.0.2.128/25 via 192.0.2.1"}
    finally:
        await a.group.stop()


async def test_a_failing_route_is_logged_and_the_rest_still_goes() -> None:
    hub, clock = MemoryHub(), FakeClock()
    a = Side(hub, clock, "198.51.100.11", Config(global_defs=STATIC, vrrp_instances=(routed(150),)))
    await a.group.start()
    await until(clock, lambda: a.state() == S.MASTER)
    await run_for(clock, 0.2)
    a.routes.fail = True
    await a.group.stop()
    # routes would not go: logged; the addresses still went
    assert not a.addrs.addrs["eth0"] and not a.addrs.addrs["eth1"]
