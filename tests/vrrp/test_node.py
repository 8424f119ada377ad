"""The VRRP driver on in-memory edges: a hub for a LAN, a fake clock, memory addresses."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from lvstui.clock import FakeClock
from lvstui.config.schema import (
    AuthType,
    Config,
    GlobalDefs,
    TrackWeight,
    VipAddress,
    VrrpInstance,
    VrrpScript,
    VrrpState,
    VrrpSyncGroup,
)
from lvstui.model import VrrpChanged
from lvstui.model import VrrpRunState as S
from lvstui.vrrp import fsm
from lvstui.vrrp.addresses import MemoryAddresses
from lvstui.vrrp.garp import MemoryAnnouncer
from lvstui.vrrp.group import VrrpGroup
from lvstui.vrrp.packet import Advert, encode
from lvstui.vrrp.process import MemoryProcesses
from lvstui.vrrp.routes import MemoryRoutes
from lvstui.vrrp.track import MemoryLinks, ScriptTracker, tracked_weight
from lvstui.vrrp.transport import Datagram, MemoryHub, MemoryTransport

VIP = VipAddress("198.51.100.9", 24)


def inst(prio: int, **kw) -> VrrpInstance:
    base = dict(
        name="VI_1",
        interface="eth0",
        virtual_router_id=51,
        priority=prio,
        advert_int=0.1,
        version=3,
        virtual_ipaddress=(VIP,),
    )
    base.update(kw)
    return VrrpInstance(**base)


class Director:
    def __init__(
        self,
        hub: MemoryHub,
        clock: FakeClock,
        addr: str,
        cfg: Config,
        proc_table: MemoryProcesses | None = None,
    ) -> None:
        self.addr = addr
        self.addrs = MemoryAddresses()
        self.routes = MemoryRoutes()
        self.garp = MemoryAnnouncer()
        self.links = MemoryLinks()
        self.transports: list[MemoryTransport] = []

        def factory(i: VrrpInstance) -> MemoryTransport:
            t = hub.transport(addr)
            self.transports.append(t)
            return t

        self.group = VrrpGroup(
            cfg,
            clock,
            factory,
            self.addrs,
            announcer=self.garp,
            links=self.links,
            routes=self.routes,
            proc_table=proc_table or MemoryProcesses(),
        )

    def state(self, name: str = "VI_1") -> S:
        return self.group.nodes[name].state.state

    def has_vip(self) -> bool:
        return "198.51.100.9/24" in self.addrs.addrs.get("eth0", set())

    def cut(self) -> None:
        """A crash, as seen from the LAN: nothing more comes out or goes in."""
        for t in self.transports:
            t.link_up = False


async def run_for(clock: FakeClock, seconds: float, step: float = 0.005) -> None:
    for _ in range(round(seconds / step)):
        clock.advance(step)
        for _ in range(5):
            await asyncio.sleep(0)


async def until(clock: FakeClock, cond, limit: float = 5.0, step: float = 0.005) -> float:
    """Advance fake time until cond(); return the fake seconds it fake_s."""
    t0 = clock.now()
    while not cond():
        if clock.now() - t0 > limit:
            raise AssertionError(f"not reached within {limit} fake seconds")
        await run_for(clock, step, step)
    return clock.now() - t0


@pytest.fixture
def lan():
    return MemoryHub(), FakeClock()


async def test_election_failover_and_graceful_handover(lan) -> None:
    hub, clock = lan
    a = Director(hub, clock, "198.51.100.11", Config(vrrp_instances=(inst(150),)))
    b = Director(hub, clock, "198.51.100.12", Config(vrrp_instances=(inst(100),)))
    await a.group.start()
    await b.group.start()
    try:
        await until(clock, lambda: a.state() == S.MASTER and b.state() == S.BACKUP)
        await run_for(clock, 1.0)
        assert a.has_vip() and not b.has_vip()  # the VIP lives on exactly one director
        assert a.garp.sent.count(("eth0", "198.51.100.9")) == 5  # first GARP batch
        assert b.group.views()[0].master_addr == "198.51.100.11"
        # crash of the master: the backup waits 3 × advert + skew
        a.cut()
        fake_s = await until(clock, lambda: b.state() == S.MASTER)
        assert 0.26 <= fake_s <= 0.37, fake_s  # 0.36 s after the last advert heard
        assert b.has_vip()
        # the old master comes back and preempts (150 > 100)
        for t in a.transports:
            t.link_up = True
        await until(clock, lambda: b.state() == S.BACKUP and a.state() == S.MASTER)
        assert not b.has_vip()
        # graceful stop: priority 0, the backup takes over after the skew only
        await a.group.stop(graceful=True)
        assert not a.has_vip() and a.state() == S.STOP
        fake_s = await until(clock, lambda: b.state() == S.MASTER)
        assert fake_s <= 0.08, fake_s  # skew at prio 100, 0.1 s: 0.061 s
        # the counters the metrics serve (keepalived's advert_sent, pri_zero_*, become_master)
        va, vb = a.group.nodes["VI_1"].view(), b.group.nodes["VI_1"].view()
        assert va.priority_zero_sent >= 1 and vb.priority_zero_received >= 1
        assert va.priority_zero_received == 0 and vb.priority_zero_sent == 0
        assert 0 < vb.adverts_received <= va.adverts_sent  # some were sent into a cut link
        assert va.become_master >= 1 and vb.become_master >= 1
        # keepalived's release_master: b left MASTER once (preempted by a), a at its stop
        assert vb.release_master == 1 and va.release_master >= 1
        assert va.vip_devs == ("",) * len(va.vips)  # the instance's interface
    finally:
        await a.group.stop()
        await b.group.stop()


async def test_nopreempt_keeps_the_current_master(lan) -> None:
    hub, clock = lan
    b = Director(hub, clock, "198.51.100.12", Config(vrrp_instances=(inst(100),)))
    await b.group.start()
    await until(clock, lambda: b.state() == S.MASTER)
    a = Director(hub, clock, "198.51.100.11", Config(vrrp_instances=(inst(150, nopreempt=True),)))
    await a.group.start()
    try:
        await run_for(clock, 2.0)
        assert b.state() == S.MASTER and a.state() == S.BACKUP
    finally:
        await a.group.stop()
        await b.group.stop()


async def test_split_brain_is_detected_and_the_lower_address_yields(lan) -> None:
    hub, clock = lan
    a = Director(hub, clock, "198.51.100.11", Config(vrrp_instances=(inst(100),)))
    b = Director(hub, clock, "198.51.100.12", Config(vrrp_instances=(inst(100),)))
    a.cut()
    b.cut()
    await a.group.start()
    await b.group.start()
    try:
        await until(clock, lambda: a.state() == S.MASTER and b.state() == S.MASTER)
        for d in (a, b):
            for t in d.transports:
                t.link_up = True
        await until(clock, lambda: a.state() == S.BACKUP)
        assert b.state() == S.MASTER  # .12 > .11: the higher address keeps the role
        splits = a.group.nodes["VI_1"].split_brains + b.group.nodes["VI_1"].split_brains
        assert splits >= 1
    finally:
        await a.group.stop()
        await b.group.stop()


async def test_drops_are_counted_by_reason(lan) -> None:
    hub, clock = lan
    a = Director(
        hub,
        clock,
        "198.51.100.11",
        Config(
            vrrp_instances=(
                inst(100, version=2, advert_int=1.0, auth_type=AuthType.PASS, auth_pass="1111"),
            )
        ),
    )
    await a.group.start()
    try:
        t = a.transports[0]
        good = Advert(2, 51, 200, 1.0, ("198.51.100.9",), 4)
        wrong_pw = Advert(2, 51, 200, 1.0, ("198.51.100.9",), 4, auth_data=b"2222")
        from lvstui.vrrp.packet import AuthType as WireAuth

        wrong_pw = Advert(2, 51, 200, 1.0, ("198.51.100.9",), 4, WireAuth.PASS, b"2222")
        t.inject_payload(encode(wrong_pw), src="198.51.100.20", dst="224.0.0.18")
        t.inject_payload(encode(good), src="198.51.100.20", dst="224.0.0.18")
        ok_pw = Advert(2, 51, 200, 1.0, ("198.51.100.9",), 4, WireAuth.PASS, b"1111")
        t.inject_payload(encode(ok_pw), src="198.51.100.20", dst="224.0.0.18", ttl=64)
        t.inject(Datagram(b"\x45\x00", 4, "198.51.100.20"))
        await run_for(clock, 0.05)
        assert a.group.drops() == {"bad_auth": 1, "auth_type_mismatch": 1, "ttl": 1, "too_short": 1}
        # per instance too (the keepalived exporter's error counters are made of these)
        assert dict(a.group.nodes["VI_1"].view().drops) == a.group.drops()
        assert a.state() == S.BACKUP  # none of them counted as a master
        # a right one does
        t.inject_payload(encode(ok_pw), src="198.51.100.20", dst="224.0.0.18")
        await run_for(clock, 0.05)
        assert a.group.views()[0].master_addr == "198.51.100.20"
    finally:
        await a.group.stop()


async def test_track_interface_fault_and_recovery(lan) -> None:
    hub, clock = lan
    a = Director(
        hub, clock, "198.51.100.11", Config(vrrp_instances=(inst(100, track_interface=("eth1",)),))
    )
    await a.group.start()
    try:
        await until(clock, lambda: a.state() == S.MASTER)
        assert a.has_vip()
        a.links.down.add("eth1")
        await until(clock, lambda: a.state() == S.FAULT)
        assert not a.has_vip()
        a.links.down.clear()
        await until(clock, lambda: a.state() == S.MASTER)
    finally:
        await a.group.stop()


async def test_sync_group_members_move_together(lan) -> None:
    hub, clock = lan
    i1 = inst(100, name="VI_1", track_interface=("eth1",))
    i2 = inst(
        100, name="VI_2", virtual_router_id=52, virtual_ipaddress=(VipAddress("198.51.100.8", 24),)
    )
    cfg = Config(vrrp_instances=(i1, i2), vrrp_sync_groups=(VrrpSyncGroup("G", ("VI_1", "VI_2")),))
    a = Director(hub, clock, "198.51.100.11", cfg)
    await a.group.start()
    try:
        await until(clock, lambda: a.state("VI_1") == S.MASTER and a.state("VI_2") == S.MASTER)
        a.links.down.add("eth1")  # only VI_1 tracks eth1, VI_2 follows it into FAULT
        await until(clock, lambda: a.state("VI_1") == S.FAULT and a.state("VI_2") == S.FAULT)
        assert a.addrs.addrs["eth0"] == set()
        a.links.down.clear()
        await until(clock, lambda: a.state("VI_1") == S.MASTER and a.state("VI_2") == S.MASTER)
        assert a.group.views()[1].sync_group == "G"
    finally:
        await a.group.stop()


def notify_recorder(tmp_path: Path) -> tuple[str, Path]:
    """A notify command that appends its arguments as a line to the file returned."""
    out = tmp_path / "notify.log"
    script = tmp_path / "n.py"
    script.write_text(
        "import sys\nwith open(sys.argv[1], 'a') as f: f.write(' '.join(sys.argv[2:]) + '\\n')\n"
    )
    return f"{sys.executable} {script} {out}", out


async def test_notify_scripts_get_keepalived_arguments_in_order(lan, tmp_path: Path) -> None:
    hub, clock = lan
    cmd, out = notify_recorder(tmp_path)
    i1 = inst(100, notify=cmd, notify_master=f"{cmd} master-only")
    cfg = Config(
        vrrp_instances=(i1,), vrrp_sync_groups=(VrrpSyncGroup("G", ("VI_1",), notify=cmd),)
    )
    a = Director(hub, clock, "198.51.100.11", cfg)
    events: list[VrrpChanged] = []
    await a.group.start()

    async def collect() -> None:
        async for ev in a.group.events():
            if isinstance(ev, VrrpChanged):
                events.append(ev)

    task = asyncio.create_task(collect())
    try:
        await until(clock, lambda: a.state() == S.MASTER)
    finally:
        await a.group.stop()
        task.cancel()
    lines = out.read_text().splitlines()
    # in order per source (the instance, the sync group); the two sources run independently
    assert [line for line in lines if not line.startswith("GROUP")] == [
        "INSTANCE VI_1 BACKUP 100",
        "master-only",
        "INSTANCE VI_1 MASTER 100",
        "INSTANCE VI_1 STOP 100",
    ]
    assert [line for line in lines if line.startswith("GROUP")] == [
        "GROUP G BACKUP 0",
        "GROUP G MASTER 0",
        "GROUP G STOP 0",
    ]
    assert [(e.old, e.new) for e in events][:2] == [(S.INIT, S.BACKUP), (S.BACKUP, S.MASTER)]


async def test_track_script_weight_changes_priority(lan, tmp_path: Path) -> None:
    hub, clock = lan
    flag = tmp_path / "ok"
    sc = VrrpScript(
        "chk",
        f"{sys.executable} -c \"import os,sys; sys.exit(0 if os.path.exists('{flag}') else 1)\"",
        interval=0.1,
        # a Python start can exceed the 0.1 s interval on a loaded host: the default timeout
        # (= interval) would turn a passing script into a failure
        timeout=10.0,
        weight=-60,
        fall=2,
        rise=1,
    )
    # a real script, so only the status flips are driven here: feed() is the rise/fall logic
    changes: list[bool] = []
    tr = ScriptTracker(sc, clock, changes.append)
    assert await tr.run_once() is False
    flag.touch()
    assert await tr.run_once() is True
    tr.feed(True)
    tr.feed(False)
    tr.feed(True)  # a single failure with fall=2 does not flip
    tr.feed(False)
    tr.feed(False)
    assert changes == [True, False]
    # in a node: a failing weight -60 script lowers 150 below a 100 peer, who preempts
    flag.unlink()
    cfg = Config(vrrp_scripts=(sc,), vrrp_instances=(inst(150, track_script=("chk",)),))
    a = Director(hub, clock, "198.51.100.11", cfg)
    b = Director(hub, clock, "198.51.100.12", Config(vrrp_instances=(inst(100),)))
    await a.group.start()
    await b.group.start()
    try:
        node = a.group.nodes["VI_1"]
        node.track_scripts.callback("chk")(False)
        assert node._effective_priority() == 90
        assert node.view().scripts == (("chk", False),)  # keepalived_script_status
        await until(clock, lambda: b.state() == S.MASTER and a.state() == S.BACKUP)
        node.track_scripts.callback("chk")(True)
        await until(clock, lambda: a.state() == S.MASTER and b.state() == S.BACKUP)
    finally:
        await a.group.stop()
        await b.group.stop()


async def test_vrrp_state_master_and_owner(lan) -> None:
    hub, clock = lan
    owner = Director(hub, clock, "198.51.100.11", Config(vrrp_instances=(inst(255),)))
    await owner.group.start()
    try:
        await run_for(clock, 0.01)
        assert owner.state() == S.MASTER  # the address owner does not wait
        other = Director(
            hub, clock, "198.51.100.12", Config(vrrp_instances=(inst(200, state=VrrpState.MASTER),))
        )
        await other.group.start()
        await run_for(clock, 1.0)
        assert other.state() == S.BACKUP and owner.state() == S.MASTER
        await other.group.stop()
    finally:
        await owner.group.stop()


async def test_unicast_peers_and_ipv6_on_memory_links(lan) -> None:
    hub, clock = lan
    v6 = VipAddress("2001:db8::9", 64)

    def director(addr: str, peer: str, prio: int) -> Director:
        i = inst(prio, virtual_ipaddress=(v6,), unicast_peer=(peer,))
        d = Director(hub, clock, addr, Config(vrrp_instances=(i,)))
        # rebuild the transport as a unicast IPv6 endpoint
        d.group.nodes["VI_1"].transport = hub.transport(addr, family=6, peers=(peer,))
        return d

    a = director("fe80::1", "fe80::2", 150)
    b = director("fe80::2", "fe80::1", 100)
    await a.group.start()
    await b.group.start()
    try:
        await until(clock, lambda: a.state() == S.MASTER and b.state() == S.BACKUP)
        assert {dst for _, dst, _ in hub.sent} == {"fe80::2"}  # unicast only, to the peer
        assert "2001:db8::9/64" in a.addrs.addrs["eth0"]
        await until(clock, lambda: b.group.views()[0].master_addr == "fe80::1")
        assert b.group.drops() == {}
    finally:
        await a.group.stop()
        await b.group.stop()


async def test_raw_transport_names_a_missing_interface() -> None:
    from lvstui.errors import VrrpError
    from lvstui.vrrp.transport import RawSocketTransport

    with pytest.raises(VrrpError, match="not found"):
        await RawSocketTransport("lvt-nosuch0").open()


async def test_an_edge_failure_is_logged_not_fatal(lan) -> None:
    hub, clock = lan
    a = Director(hub, clock, "198.51.100.11", Config(vrrp_instances=(inst(100),)))
    a.addrs.fail = True
    await a.group.start()
    try:
        await until(clock, lambda: a.state() == S.MASTER)
        a.addrs.fail = False
        a.group.nodes["VI_1"].post(fsm.FaultChanged(True, "test"))
        await until(clock, lambda: a.state() == S.FAULT)
    finally:
        await a.group.stop()


async def test_track_interface_weight_moves_the_priority_instead_of_fault(lan) -> None:
    """keepalived's `track_interface { eth1 weight -60 }`: eth1 down lowers 150 to 90, below
    a 100 peer, who takes over; we go BACKUP, not FAULT, and preempt back when it is up."""
    hub, clock = lan
    weighted = inst(
        150, track_interface=("eth1",), track_interface_weight=(TrackWeight("eth1", -60),)
    )
    a = Director(hub, clock, "198.51.100.11", Config(vrrp_instances=(weighted,)))
    b = Director(hub, clock, "198.51.100.12", Config(vrrp_instances=(inst(100),)))
    await a.group.start()
    await b.group.start()
    try:
        await until(clock, lambda: a.state() == S.MASTER and b.state() == S.BACKUP)
        a.links.down.add("eth1")
        await until(clock, lambda: b.state() == S.MASTER and a.state() == S.BACKUP)
        assert a.group.nodes["VI_1"]._effective_priority() == 90
        a.links.down.clear()
        await until(clock, lambda: a.state() == S.MASTER and b.state() == S.BACKUP)
        # reverse: the same weight now counts while eth1 is up
        rev = replace(weighted, track_interface_weight=(TrackWeight("eth1", -60, True),))
        assert tracked_weight(-60, True, False) == 60
        await a.group.reload(Config(vrrp_instances=(rev,)))
        assert a.group.nodes["VI_1"]._effective_priority() == 150  # up: no change
        a.links.down.add("eth1")
        await run_for(clock, 0.3)
        assert a.group.nodes["VI_1"]._effective_priority() == 210 and a.state() == S.MASTER
    finally:
        await a.group.stop()
        await b.group.stop()


async def test_track_script_weight_per_instance_overrides_the_scripts(lan) -> None:
    """`track_script { chk weight -60 }` on a weight-0 script: failing lowers the priority
    instead of FAULT, for this instance only."""
    hub, clock = lan
    # the script never finishes during the test (killed at stop): only the test's own
    # verdicts reach the instance (a real /bin/true raced them, in real time)
    sc = VrrpScript("chk", "sleep 600", interval=60.0, weight=0)
    over = inst(150, track_script=("chk",), track_script_weight=(TrackWeight("chk", -60),))
    a = Director(hub, clock, "198.51.100.11", Config(vrrp_scripts=(sc,), vrrp_instances=(over,)))
    b = Director(hub, clock, "198.51.100.12", Config(vrrp_instances=(inst(100),)))
    await a.group.start()
    await b.group.start()
    try:
        node = a.group.nodes["VI_1"]
        node.track_scripts.callback("chk")(True)
        await until(clock, lambda: a.state() == S.MASTER and b.state() == S.BACKUP)
        node.track_scripts.callback("chk")(False)
        await until(clock, lambda: b.state() == S.MASTER and a.state() == S.BACKUP)
        assert node._effective_priority() == 90
    finally:
        await a.group.stop()
        await b.group.stop()


async def test_vrrp_startup_delay_holds_the_instances_then_runs_them(lan) -> None:
    """keepalived's vrrp_startup_delay: the instances stay out (no adverts, no VIP) for the
    delay, then run as usual; a stop during the wait ends it cleanly."""
    hub, clock = lan
    cfg = Config(global_defs=GlobalDefs(vrrp_startup_delay=2.0), vrrp_instances=(inst(100),))
    a = Director(hub, clock, "198.51.100.11", cfg)
    t0 = clock.now()
    await a.group.start()
    try:
        await run_for(clock, 1.5)
        assert a.state() != S.MASTER and not a.has_vip()
        await until(clock, lambda: a.state() == S.MASTER)
        assert clock.now() - t0 >= 2.0 and a.has_vip()
    finally:
        await a.group.stop()
    later = replace(cfg, global_defs=GlobalDefs(vrrp_startup_delay=60.0))
    b = Director(hub, clock, "198.51.100.12", later)
    await b.group.start()
    await run_for(clock, 1.0)
    await b.group.stop()  # during the wait: nothing was started, nothing to undo
    assert b.state() != S.MASTER and not b.has_vip()
