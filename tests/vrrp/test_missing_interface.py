"""An instance whose interface is missing (or has no address) waits in FAULT, like
keepalived 2.x, instead of stopping the director; it elects once the interface is usable,
and goes back to FAULT (VIPs released) when the interface disappears."""

from __future__ import annotations

from lvstui.clock import FakeClock
from lvstui.config.schema import Config, VipAddress, VrrpSyncGroup
from lvstui.model import Event, LogEvent
from lvstui.model import VrrpRunState as S
from lvstui.vrrp import fsm
from lvstui.vrrp.group import VrrpGroup
from lvstui.vrrp.node import OPEN_RETRY
from lvstui.vrrp.transport import MemoryHub
from tests.vrrp.test_node import Director, inst, run_for, until

VIP2 = VipAddress("198.51.100.20", 24)


def events(group: VrrpGroup) -> list[Event]:
    out: list[Event] = []
    while not group._events.empty():
        out.append(group._events.get_nowait())
    return out


def warnings(evs: list[Event]) -> list[str]:
    return [e.message for e in evs if isinstance(e, LogEvent) and e.level == "warning"]


def two_instances(**sync: object) -> Config:
    groups = (VrrpSyncGroup("G", ("VI_1", "VI_2")),) if sync else ()
    return Config(
        vrrp_instances=(
            inst(150, interface="eth9"),
            inst(150, name="VI_2", virtual_router_id=52, virtual_ipaddress=(VIP2,)),
        ),
        vrrp_sync_groups=groups,
    )


def test_startup_fault_reason_names_the_cause() -> None:
    p = fsm.FsmParams(
        vrid=1, version=3, advert_int=1.0, vips=("198.51.100.9",), primary_addr="198.51.100.1"
    )
    st, acts = fsm.step(p, fsm.FsmState(faulted=True), fsm.Startup("interface 'eth9' not found"), 0)
    assert st.state == S.FAULT
    assert st.reason == "fault at startup: interface 'eth9' not found"
    assert acts == [fsm.Notify(S.INIT, S.FAULT, st.reason)]
    st, _ = fsm.step(p, fsm.FsmState(faulted=True), fsm.Startup(), 0)
    assert st.reason == "fault at startup"


async def test_missing_interface_faults_then_elects_when_it_appears_and_again() -> None:
    hub, clock = MemoryHub(), FakeClock()
    d = Director(hub, clock, "198.51.100.11", two_instances())
    d.links.remove("eth9")
    g = d.group
    await g.start()  # does not raise: the rest of the group runs
    try:
        await run_for(clock, 0.05)
        assert d.state("VI_1") == S.FAULT
        assert "eth9" in (g.nodes["VI_1"].view().reason or "")
        assert any("interface 'eth9' not found" in w for w in warnings(events(g)))
        assert d.transports[0].opens == 0  # never opened on a missing interface
        # the other instance elects normally (alone: MASTER)
        await until(clock, lambda: d.state("VI_2") == S.MASTER)
        await run_for(clock, 1.0)
        assert d.state("VI_1") == S.FAULT  # still waiting, and quiet about it
        assert not warnings(events(g))
        # the VLAN is created: the transport opens, BACKUP, then MASTER (no peer)
        d.links.add("eth9")
        await until(clock, lambda: d.state("VI_1") == S.BACKUP, 0.5)
        await until(clock, lambda: d.state("VI_1") == S.MASTER, 1.0)
        assert "198.51.100.9/24" in d.addrs.addrs["eth9"]
        assert d.transports[0].opens == 1
        # deleted while MASTER: FAULT, VIP released, socket closed; no error logged
        d.links.remove("eth9")
        await until(clock, lambda: d.state("VI_1") == S.FAULT, 0.5)
        assert "198.51.100.9/24" not in d.addrs.addrs["eth9"]
        assert d.transports[0].closed
        evs = events(g)
        assert any("interface 'eth9' gone" in w for w in warnings(evs))
        assert not [e for e in evs if isinstance(e, LogEvent) and e.level == "error"]
        assert d.state("VI_2") == S.MASTER  # not in a sync group: untouched
        # created again (a new ifindex): opened anew, elected again
        d.links.add("eth9")
        await until(clock, lambda: d.state("VI_1") == S.MASTER, 1.5)
        assert d.transports[0].opens == 2
        assert "198.51.100.9/24" in d.addrs.addrs["eth9"]
    finally:
        await g.stop()


async def test_recreated_between_two_looks_reopens() -> None:
    hub, clock = MemoryHub(), FakeClock()
    d = Director(hub, clock, "198.51.100.11", Config(vrrp_instances=(inst(150),)))
    await d.group.start()
    try:
        await until(clock, lambda: d.state() == S.MASTER)
        # deleted and created again faster than the link loop looks: a new index
        d.links.remove("eth0")
        d.links.add("eth0")
        await until(clock, lambda: d.transports[0].opens == 2, 0.5)
        assert any("created again" in w for w in warnings(events(d.group)))
        await until(clock, lambda: d.state() == S.MASTER, 1.5)
    finally:
        await d.group.stop()


async def test_interface_without_address_retries_until_it_has_one() -> None:
    hub, clock = MemoryHub(), FakeClock()
    d = Director(hub, clock, "198.51.100.11", Config(vrrp_instances=(inst(150),)))
    # the link exists but has no IPv4 address yet (the transport cannot pick a source)
    d.group.nodes["VI_1"].transport.unavailable = "interface eth0 has no IPv4 address"  # type: ignore[attr-defined]
    await d.group.start()
    try:
        await run_for(clock, 0.05)
        assert d.state() == S.FAULT
        assert "no IPv4 address" in (d.group.views()[0].reason or "")
        await run_for(clock, 3 * OPEN_RETRY)
        assert d.state() == S.FAULT
        # logged once, not once per retry
        assert len([w for w in warnings(events(d.group)) if "no IPv4 address" in w]) == 1
        d.transports[0].unavailable = None
        await until(clock, lambda: d.state() == S.BACKUP, OPEN_RETRY + 0.2)
        await until(clock, lambda: d.state() == S.MASTER, 1.0)
        assert d.has_vip()
    finally:
        await d.group.stop()


async def test_sync_group_follows_a_member_waiting_for_its_interface() -> None:
    hub, clock = MemoryHub(), FakeClock()
    d = Director(hub, clock, "198.51.100.11", two_instances(sync=True))
    d.links.remove("eth9")
    await d.group.start()
    try:
        # keepalived: one FAULT member makes the whole group FAULT
        await run_for(clock, 0.5)
        assert d.state("VI_1") == S.FAULT and d.state("VI_2") == S.FAULT
        assert not d.addrs.addrs.get("eth0")
        d.links.add("eth9")
        await until(clock, lambda: d.state("VI_1") == d.state("VI_2") == S.MASTER, 1.5)
        assert "198.51.100.20/24" in d.addrs.addrs["eth0"]
    finally:
        await d.group.stop()
