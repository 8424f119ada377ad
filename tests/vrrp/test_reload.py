"""Reloading VRRP: the pure parts table-driven, then two in-memory directors on a hub."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lvstui.clock import FakeClock
from lvstui.config.schema import Config, VipAddress, VrrpScript, VrrpSyncGroup
from lvstui.model import VrrpChanged
from lvstui.model import VrrpRunState as S
from lvstui.vrrp import fsm
from lvstui.vrrp.fsm import AdvertIn, FsmParams, FsmState, Reconfigure
from lvstui.vrrp.group import VrrpGroup
from lvstui.vrrp.packet import Advert
from lvstui.vrrp.reload import Change, describe, plan_reload
from lvstui.vrrp.transport import MemoryHub
from tests.vrrp.test_node import Director, inst, run_for, until

ME, HIGH = "198.51.100.13", "198.51.100.20"
VIPS = ("198.51.100.9",)
P = FsmParams(vrid=51, version=3, advert_int=0.1, vips=VIPS, primary_addr=ME)
T = 100.0
VIP2 = VipAddress("198.51.100.10", 24)


def backup(prio: int = 100) -> FsmState:
    return FsmState(
        state=S.BACKUP, priority=prio, master_adver_int=0.1, master_addr=HIGH, down_at=T + 0.2
    )


def master(prio: int = 100) -> FsmState:
    return FsmState(state=S.MASTER, priority=prio, master_adver_int=0.1, advert_at=T + 0.05)


def kinds(actions: list[fsm.Action]) -> list[str]:
    return [type(a).__name__ for a in actions]


# (name, old params, new params, state, event priority, vips changed,
#  want state, want actions, want down_at, want advert_at)
RECONF = [
    ("master, nothing changed", P, P, master(), 100, False, S.MASTER, [], None, T + 0.05),
    (
        "master, VIP added: sync addresses, advertise the new list now",
        P,
        replace(P, vips=(*VIPS, "198.51.100.10")),
        master(),
        100,
        True,
        S.MASTER,
        ["SyncVips", "SendAdvert"],
        None,
        T + 0.1,
    ),
    (
        "master, VIP prefix only: sync addresses, same adverts",
        P,
        P,
        master(),
        100,
        True,
        S.MASTER,
        ["SyncVips"],
        None,
        T + 0.05,
    ),
    (
        "master, priority lowered: advertise at once (a backup may preempt)",
        P,
        P,
        master(),
        50,
        False,
        S.MASTER,
        ["SendAdvert"],
        None,
        T + 0.1,
    ),
    (
        "master, advert_int 0.1 → 1: next advert one new interval away",
        P,
        replace(P, advert_int=1.0),
        master(),
        100,
        False,
        S.MASTER,
        ["SendAdvert"],
        None,
        T + 1.0,
    ),
    (
        "backup, priority raised: down timer re-armed with the new skew",
        P,
        P,
        backup(),
        200,
        False,
        S.BACKUP,
        [],
        T + fsm.master_down_interval(3, 200, 0.1),
        None,
    ),
    (
        "backup, VIP added: nothing to do on a backup",
        P,
        replace(P, vips=(*VIPS, "198.51.100.10")),
        backup(),
        100,
        True,
        S.BACKUP,
        [],
        T + 0.2,
        None,
    ),
    (
        "backup becomes the address owner: master at once",
        P,
        P,
        backup(),
        255,
        False,
        S.MASTER,
        ["AddVips", "SendGarp", "SendAdvert", "Notify"],
        None,
        T + 0.1,
    ),
    (
        "fault keeps its state, remembers the priority",
        P,
        P,
        replace(backup(), state=S.FAULT, faulted=True, down_at=None),
        150,
        True,
        S.FAULT,
        [],
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "state", "prio", "vips", "want", "acts", "down", "advert"),
    [c[1:] for c in RECONF],
    ids=[c[0] for c in RECONF],
)
def test_reconfigure_table(old, new, state, prio, vips, want, acts, down, advert) -> None:
    st, actions = fsm.step(new, state, Reconfigure(old, prio, vips), T)
    assert st.state == want
    assert kinds(actions) == acts
    assert st.priority == prio
    assert st.down_at == pytest.approx(down) if down is not None else st.down_at is None
    assert st.advert_at == pytest.approx(advert) if advert is not None else st.advert_at is None


def test_backup_keeps_following_its_master_while_vip_lists_differ() -> None:
    other = Advert(3, 51, 150, 0.1, (*VIPS, "198.51.100.10"), 4)
    st, acts = fsm.step(P, backup(), AdvertIn(other, HIGH, 255), T)
    assert st.state == S.BACKUP and st.down_at == pytest.approx(T + 0.36)  # timer restarted
    assert kinds(acts) == ["Log"] and st.vips_warned  # said once...
    st, acts = fsm.step(P, st, AdvertIn(other, HIGH, 255), T + 0.1)
    assert acts == []  # ...not on every advert
    st, _ = fsm.step(P, st, AdvertIn(replace(other, addrs=VIPS), HIGH, 255), T + 0.2)
    assert not st.vips_warned
    # a router we do not follow with another list is still dropped
    st, acts = fsm.step(P, st, AdvertIn(other, "198.51.100.30", 255), T + 0.3)
    assert kinds(acts) == ["Drop"] and acts[0].reason == "addr_mismatch"  # type: ignore[union-attr]


def test_skip_check_adv_addr_checks_a_new_master_only() -> None:
    """keepalived's skip_check_adv_addr: the followed master's list is not checked (no
    warning); a router not followed yet is, on its first advert."""
    p = replace(P, skip_same_master=True)
    other = Advert(3, 51, 150, 0.1, (*VIPS, "198.51.100.10"), 4)
    st, acts = fsm.step(p, backup(), AdvertIn(other, HIGH, 255), T)
    assert acts == [] and st.state == S.BACKUP and not st.vips_warned
    st, acts = fsm.step(p, st, AdvertIn(other, "198.51.100.30", 255), T + 0.1)
    assert kinds(acts) == ["Drop"]


# --- the plan ------------------------------------------------------------------------------


def cfg(*insts, **kw) -> Config:
    return Config(vrrp_instances=tuple(insts), **kw)


PLAN = [
    ("unchanged", cfg(inst(100)), cfg(inst(100)), Change.KEEP),
    ("priority", cfg(inst(100)), cfg(inst(150)), Change.UPDATE),
    ("VIP added", cfg(inst(100)), cfg(inst(100, virtual_ipaddress=(VIP2,))), Change.UPDATE),
    ("nopreempt", cfg(inst(100)), cfg(inst(100, nopreempt=True)), Change.UPDATE),
    ("notify script", cfg(inst(100)), cfg(inst(100, notify="/bin/true")), Change.UPDATE),
    ("interface", cfg(inst(100)), cfg(inst(100, interface="eth1")), Change.RESTART),
    ("vrid", cfg(inst(100)), cfg(inst(100, virtual_router_id=52)), Change.RESTART),
    ("version", cfg(inst(100)), cfg(inst(100, version=2, advert_int=1.0)), Change.RESTART),
    (
        "family",
        cfg(inst(100)),
        cfg(inst(100, virtual_ipaddress=(VipAddress("2001:db8::9", 64),))),
        Change.RESTART,
    ),
    (
        "multicast to unicast",
        cfg(inst(100)),
        cfg(inst(100, unicast_peer=("198.51.100.2",))),
        Change.RESTART,
    ),
    (
        "unicast peers",
        cfg(inst(100, unicast_peer=("198.51.100.2",))),
        cfg(inst(100, unicast_peer=("198.51.100.2", "198.51.100.3"))),
        Change.UPDATE,
    ),
    ("removed", cfg(inst(100)), cfg(), Change.REMOVE),
    ("added", cfg(), cfg(inst(100)), Change.ADD),
    (
        "tracked script redefined",
        cfg(inst(100, track_script=("chk",)), vrrp_scripts=(VrrpScript("chk", "/bin/true"),)),
        cfg(
            inst(100, track_script=("chk",)),
            vrrp_scripts=(VrrpScript("chk", "/bin/true", weight=5),),
        ),
        Change.UPDATE,
    ),
    (
        "untracked script redefined",
        cfg(inst(100), vrrp_scripts=(VrrpScript("chk", "/bin/true"),)),
        cfg(inst(100), vrrp_scripts=(VrrpScript("chk", "/bin/false"),)),
        Change.KEEP,
    ),
]


@pytest.mark.parametrize(("old", "new", "want"), [c[1:] for c in PLAN], ids=[c[0] for c in PLAN])
def test_plan_table(old: Config, new: Config, want: Change) -> None:
    (p,) = plan_reload(old, new)
    assert p.change is want
    lines = describe(old, new)
    assert (lines == []) == (want is Change.KEEP)


def test_describe_names_what_happens() -> None:
    old = cfg(inst(100), inst(100, name="VI_2", virtual_router_id=52))
    new = cfg(
        inst(150, virtual_ipaddress=(inst(1).virtual_ipaddress[0], VIP2)),
        inst(100, name="VI_3", virtual_router_id=53),
        vrrp_sync_groups=(VrrpSyncGroup("G", ("VI_1", "VI_3")),),
    )
    assert describe(old, new) == [
        "- vrrp_instance VI_2: stopped gracefully (priority 0 advert, VIPs removed)",
        "~ vrrp_instance VI_1: updated in place, state kept "
        "(priority 100 → 150; VIP +198.51.100.10/24)",
        "+ vrrp_instance VI_3: started (BACKUP first, as at startup)",
        "+ vrrp_sync_group G: VI_1,VI_3",
    ]


# --- two directors on an in-memory LAN ----------------------------------------------------------


@pytest.fixture
def lan() -> tuple[MemoryHub, FakeClock]:
    return MemoryHub(), FakeClock()


@pytest.fixture
async def pair(lan):
    hub, clock = lan
    a = Director(hub, clock, "198.51.100.11", cfg(inst(150)))
    b = Director(hub, clock, "198.51.100.12", cfg(inst(100)))
    await a.group.start()
    await b.group.start()
    try:
        await until(clock, lambda: a.state() == S.MASTER and b.state() == S.BACKUP)
        await run_for(clock, 0.5)
        yield clock, a, b
    finally:
        await a.group.stop()
        await b.group.stop()


def transitions(d: Director) -> list[VrrpChanged]:
    out = []
    while not d.group._events.empty():
        ev = d.group._events.get_nowait()
        if isinstance(ev, VrrpChanged):
            out.append(ev)
    return out


async def test_unchanged_config_is_zero_actions(pair) -> None:
    clock, a, b = pair
    transitions(a)
    node = a.group.nodes["VI_1"]
    ops, garps, sent = len(a.addrs.log), len(a.garp.sent), node.adverts_out
    assert await a.group.reload(cfg(inst(150))) == []
    assert a.group.nodes["VI_1"] is node  # the very same running node
    assert (len(a.addrs.log), len(a.garp.sent), node.adverts_out) == (ops, garps, sent)
    await run_for(clock, 0.5)
    assert transitions(a) == [] and a.state() == S.MASTER and b.state() == S.BACKUP


async def test_vip_added_on_the_master_in_place(pair) -> None:
    clock, a, b = pair
    transitions(a), transitions(b)
    vips = (*inst(1).virtual_ipaddress, VIP2)
    log_before = len(a.addrs.log)
    lines = await a.group.reload(cfg(inst(150, virtual_ipaddress=vips)))
    assert "vrrp_instance VI_1: added 198.51.100.10 (MASTER)" in lines
    # only the new VIP was touched, and announced: the old one never blinked
    assert a.addrs.log[log_before:] == [("add", "eth0", "198.51.100.10/24")]
    assert ("eth0", "198.51.100.10") in a.garp.sent
    assert a.addrs.addrs["eth0"] == {"198.51.100.9/24", "198.51.100.10/24"}
    # the backup, not reloaded yet, keeps following (a warning, no takeover)...
    await run_for(clock, 1.0)
    assert a.state() == S.MASTER and b.state() == S.BACKUP and not b.has_vip()
    assert b.addrs.addrs.get("eth0", set()) == set()
    # ...and once reloaded too, still no state change anywhere
    assert await b.group.reload(cfg(inst(100, virtual_ipaddress=vips))) != []
    await run_for(clock, 1.0)
    assert transitions(a) == [] and transitions(b) == []
    assert b.group.nodes["VI_1"].drops["addr_mismatch"] == 0


async def test_priority_raise_on_the_backup_with_preempt_takes_over(pair) -> None:
    clock, a, b = pair
    lines = await b.group.reload(cfg(inst(200)))
    assert lines == ["~ vrrp_instance VI_1: updated in place, state kept (priority 100 → 200)"]
    fake_s = await until(clock, lambda: b.state() == S.MASTER and a.state() == S.BACKUP)
    assert fake_s <= 0.5, fake_s  # one master-down interval (0.34 s at 200)
    assert b.has_vip() and not a.has_vip()
    assert b.group.views()[0].priority == 200 and b.group.views()[0].base_priority == 200


async def test_priority_raise_with_nopreempt_keeps_the_master(pair) -> None:
    clock, a, b = pair
    await b.group.reload(cfg(inst(200, nopreempt=True)))
    await run_for(clock, 1.0)
    assert a.state() == S.MASTER and b.state() == S.BACKUP


async def test_removed_instance_stops_gracefully(pair) -> None:
    clock, a, b = pair
    node = a.group.nodes["VI_1"]
    lines = await a.group.reload(cfg())
    assert lines == ["- vrrp_instance VI_1: stopped gracefully (priority 0 advert, VIPs removed)"]
    assert node.state.state == S.STOP and not a.has_vip() and a.group.nodes == {}
    fake_s = await until(clock, lambda: b.state() == S.MASTER)
    assert fake_s <= 0.08, fake_s  # the priority-0 advert: the skew only, not 3 intervals


async def test_interface_change_restarts_and_new_instance_starts(pair) -> None:
    clock, a, _b = pair
    old = a.group.nodes["VI_1"]
    i2 = inst(100, name="VI_2", virtual_router_id=52, virtual_ipaddress=(VIP2,))
    new = cfg(inst(150, interface="eth1"), i2, vrrp_sync_groups=(VrrpSyncGroup("G", ("VI_2",)),))
    lines = await a.group.reload(new)
    assert lines[0].startswith("~ vrrp_instance VI_1: restarted (interface changed)")
    assert old.state.state == S.STOP and a.group.nodes["VI_1"] is not old
    assert [v.name for v in a.group.views()] == ["VI_1", "VI_2"]
    # the restarted one (150, preempt) comes back as master on eth1; VI_2 alone is master
    await until(clock, lambda: a.state("VI_1") == S.MASTER and a.state("VI_2") == S.MASTER)
    assert "198.51.100.9/24" in a.addrs.addrs["eth1"]
    assert a.group.views()[1].sync_group == "G"


async def test_track_and_sync_group_changes_follow_the_reload(lan) -> None:
    hub, clock = lan
    i1 = inst(100, name="VI_1")
    i2 = inst(100, name="VI_2", virtual_router_id=52, virtual_ipaddress=(VIP2,))
    a = Director(hub, clock, "198.51.100.11", cfg(i1, i2))
    await a.group.start()
    try:
        await until(clock, lambda: a.state("VI_1") == S.MASTER and a.state("VI_2") == S.MASTER)
        a.links.down.add("eth1")
        # VI_1 now tracks the down eth1, and VI_2 joins it in a sync group: both FAULT
        new = cfg(
            replace(i1, track_interface=("eth1",)),
            i2,
            vrrp_sync_groups=(VrrpSyncGroup("G", ("VI_1", "VI_2")),),
        )
        await a.group.reload(new)
        await until(clock, lambda: a.state("VI_1") == S.FAULT and a.state("VI_2") == S.FAULT)
        # the group is dissolved and the tracking dropped: both recover
        await a.group.reload(cfg(i1, i2))
        await until(clock, lambda: a.state("VI_1") == S.MASTER and a.state("VI_2") == S.MASTER)
        assert all(v.sync_group is None for v in a.group.views())
    finally:
        await a.group.stop()


async def test_engine_dry_run_lists_instance_changes_and_reload_applies_them(lan) -> None:
    from lvstui.dataplane.memory import MemoryDataplane
    from lvstui.engine.engine import Engine

    hub, clock = lan
    old = cfg(inst(100))
    a = Director(hub, clock, "198.51.100.11", old)
    engine = Engine(old, dataplane=MemoryDataplane(), clock=clock, vrrp=a.group)
    await engine.start()
    try:
        await until(clock, lambda: a.state() == S.MASTER)
        new = cfg(inst(120, virtual_ipaddress=(*inst(1).virtual_ipaddress, VIP2)))
        dry = await engine.reload(new, dry_run=True)
        assert dry.ok, dry.message
        want = (
            "~ vrrp_instance VI_1: updated in place, state kept "
            "(priority 100 → 120; VIP +198.51.100.10/24)"
        )
        assert want in dry.detail.splitlines(), dry.detail
        assert a.group.views()[0].priority == 100 and not await a.addrs.present(VIP2, "eth0")
        res = await engine.reload(new)
        assert res.ok and want in res.detail.splitlines()
        assert a.group.views()[0].priority == 120 and await a.addrs.present(VIP2, "eth0")
        assert a.state() == S.MASTER
    finally:
        await engine.stop()


def unicast(hub: MemoryHub, clock: FakeClock, addr: str, config: Config) -> Director:
    d = Director(hub, clock, addr, config)
    d.group = VrrpGroup(
        config,
        clock,
        lambda i: hub.transport(addr, peers=i.unicast_peer),
        d.addrs,
        announcer=d.garp,
        links=d.links,
    )
    return d


async def test_unicast_peer_added_in_place(lan) -> None:
    hub, clock = lan
    a_, b_, c_ = "198.51.100.11", "198.51.100.12", "198.51.100.13"
    a = unicast(hub, clock, a_, cfg(inst(150, unicast_peer=(b_,))))
    c = unicast(hub, clock, c_, cfg(inst(100, unicast_peer=(a_,))))
    await a.group.start()
    await c.group.start()
    try:
        # c hears nobody (a only sends to b): it is master too
        await until(clock, lambda: a.state() == S.MASTER and c.state() == S.MASTER)
        node = a.group.nodes["VI_1"]
        lines = await a.group.reload(cfg(inst(150, unicast_peer=(b_, c_))))
        assert lines[0].startswith("~ vrrp_instance VI_1: updated in place")
        assert a.group.nodes["VI_1"] is node and node.transport.destinations() == (b_, c_)
        await until(clock, lambda: c.state() == S.BACKUP)  # now it hears the higher one
        assert a.state() == S.MASTER
    finally:
        await a.group.stop()
        await c.group.stop()


async def test_priority_lowered_on_the_master_hands_over(pair) -> None:
    clock, a, b = pair
    await a.group.reload(cfg(inst(50)))
    fake_s = await until(clock, lambda: b.state() == S.MASTER and a.state() == S.BACKUP)
    assert fake_s <= 0.5, fake_s
    assert b.has_vip() and not a.has_vip()
