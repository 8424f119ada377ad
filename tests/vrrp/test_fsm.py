"""The pure VRRP state machine, table-driven: no sockets, no sleeping."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lvstui.model import VrrpRunState as S
from lvstui.vrrp import fsm
from lvstui.vrrp.fsm import (
    AddVips,
    AdvertIn,
    Drop,
    FaultChanged,
    ForceState,
    FsmParams,
    FsmState,
    Notify,
    PriorityChanged,
    RemoveVips,
    SendAdvert,
    SendGarp,
    Shutdown,
    SplitBrain,
    Startup,
    Timer,
)
from lvstui.vrrp.packet import Advert, AuthType
from tests.vrrp.fuzzcore import ME, PARAMS, VIPS

LOW, HIGH = "198.51.100.5", "198.51.100.20"  # peers below / above our address
P3, P2 = PARAMS  # VRRPv3 at 100 ms; VRRPv2 at 1 s with simple-password auth
T = 100.0


def adv(prio: int, *, v: int = 3, vrid: int = 51, intv: float = 0.1, addrs=VIPS, **kw) -> Advert:
    return Advert(v, vrid, prio, intv, addrs, 4, **kw)


def v2adv(prio: int, pw: bytes = b"1111\0\0\0\0", intv: float = 1.0) -> Advert:
    return Advert(2, 51, prio, intv, VIPS, 4, AuthType.PASS, pw)


def backup(prio: int = 100, p: FsmParams = P3) -> FsmState:
    return FsmState(
        state=S.BACKUP,
        priority=prio,
        master_adver_int=p.advert_int,
        master_addr=HIGH,
        down_at=T + fsm.master_down_interval(p.version, prio, p.advert_int),
    )


def master(prio: int = 100, p: FsmParams = P3) -> FsmState:
    return FsmState(state=S.MASTER, priority=prio, master_adver_int=p.advert_int, advert_at=T + 0.1)


def kinds(actions) -> list[str]:
    return [type(a).__name__ for a in actions]


def test_timing_formulas() -> None:
    # keepalived's measured figures: v2 prio 100 → skew 0.609 s, down 3.609 s
    assert fsm.skew_time(2, 100, 1.0) == pytest.approx(0.609375)
    assert fsm.master_down_interval(2, 100, 1.0) == pytest.approx(3.609375)
    # v3 in whole centiseconds, truncated like keepalived: 156 × 10 / 256 = 6.09 → 6 cs
    assert fsm.skew_time(3, 100, 0.1) == pytest.approx(0.06)
    assert fsm.master_down_interval(3, 100, 0.1) == pytest.approx(0.36)
    assert fsm.skew_time(3, 255, 1.0) == 0.0  # 100/256 cs truncates to 0
    assert fsm.skew_time(3, 1, 1.0) == pytest.approx(0.99)


# (name, params, state, event, expected state, expected action kinds, expected reason of drop)
CASES = [
    ("startup → backup", P3, FsmState(priority=100), Startup(), S.BACKUP, ["Notify"], None),
    (
        "startup owner → master",
        P3,
        FsmState(priority=255),
        Startup(),
        S.MASTER,
        ["AddVips", "SendGarp", "SendAdvert", "Notify"],
        None,
    ),
    (
        "startup faulted → fault",
        P3,
        FsmState(priority=100, faulted=True),
        Startup(),
        S.FAULT,
        ["Notify"],
        None,
    ),
    ("backup hears higher: stays", P3, backup(), AdvertIn(adv(150), HIGH, 255), S.BACKUP, [], None),
    ("backup hears equal: stays", P3, backup(), AdvertIn(adv(100), HIGH, 255), S.BACKUP, [], None),
    ("backup hears lower: ignores", P3, backup(), AdvertIn(adv(50), LOW, 255), S.BACKUP, [], None),
    (
        "backup down timer → master",
        P3,
        replace(backup(), down_at=T),
        Timer(),
        S.MASTER,
        ["AddVips", "SendGarp", "SendAdvert", "Notify"],
        None,
    ),
    (
        "master hears higher → backup",
        P3,
        master(),
        AdvertIn(adv(150), HIGH, 255),
        S.BACKUP,
        ["RemoveVips", "Notify"],
        None,
    ),
    (
        "master hears lower → re-asserts",
        P3,
        master(),
        AdvertIn(adv(50), LOW, 255),
        S.MASTER,
        ["SendAdvert"],
        None,
    ),
    (
        "master equal prio, higher address → yields, split brain raised",
        P3,
        master(),
        AdvertIn(adv(100), HIGH, 255),
        S.BACKUP,
        ["SplitBrain", "Log", "RemoveVips", "Notify"],
        None,
    ),
    (
        "master equal prio, lower address → keeps, split brain raised",
        P3,
        master(),
        AdvertIn(adv(100), LOW, 255),
        S.MASTER,
        ["SplitBrain", "Log", "SendAdvert"],
        None,
    ),
    (
        "master hears priority 0 → advert at once",
        P3,
        master(),
        AdvertIn(adv(0), HIGH, 255),
        S.MASTER,
        ["SendAdvert"],
        None,
    ),
    ("ttl 254 dropped", P3, master(), AdvertIn(adv(200), HIGH, 254), S.MASTER, ["Drop"], "ttl"),
    (
        "other vrid dropped quietly",
        P3,
        master(),
        AdvertIn(adv(200, vrid=52), HIGH, 255),
        S.MASTER,
        ["Drop"],
        "vrid_mismatch",
    ),
    (
        "version mismatch",
        P3,
        master(),
        AdvertIn(v2adv(200), HIGH, 255),
        S.MASTER,
        ["Drop"],
        "version_mismatch",
    ),
    (
        "VIP list mismatch",
        P3,
        master(),
        AdvertIn(adv(200, addrs=("198.51.100.99",)), HIGH, 255),
        S.MASTER,
        ["Drop"],
        "addr_mismatch",
    ),
    (
        "own advert looped back",
        P3,
        backup(),
        AdvertIn(adv(200), ME, 255),
        S.BACKUP,
        ["Drop"],
        "own_advert",
    ),
    (
        "v2 wrong password",
        P2,
        master(p=P2),
        AdvertIn(v2adv(200, b"2222\0\0\0\0"), HIGH, 255),
        S.MASTER,
        ["Drop"],
        "bad_auth",
    ),
    (
        "v2 no auth while we want PASS",
        P2,
        master(p=P2),
        AdvertIn(Advert(2, 51, 200, 1.0, VIPS, 4), HIGH, 255),
        S.MASTER,
        ["Drop"],
        "auth_type_mismatch",
    ),
    (
        "v2 interval mismatch",
        P2,
        master(p=P2),
        AdvertIn(v2adv(200, intv=2.0), HIGH, 255),
        S.MASTER,
        ["Drop"],
        "interval_mismatch",
    ),
    (
        "v2 right password, higher → backup",
        P2,
        master(p=P2),
        AdvertIn(v2adv(200), HIGH, 255),
        S.BACKUP,
        ["RemoveVips", "Notify"],
        None,
    ),
    (
        "fault while master: priority 0, VIPs off",
        P3,
        master(),
        FaultChanged(True, "link down"),
        S.FAULT,
        ["SendAdvert", "RemoveVips", "Notify"],
        None,
    ),
    (
        "fault cleared → backup",
        P3,
        FsmState(state=S.FAULT, priority=100, faulted=True),
        FaultChanged(False, "link up"),
        S.BACKUP,
        ["Notify"],
        None,
    ),
    (
        "graceful stop as master",
        P3,
        master(),
        Shutdown(True),
        S.STOP,
        ["SendAdvert", "RemoveVips", "Notify"],
        None,
    ),
    (
        "abrupt stop as master",
        P3,
        master(),
        Shutdown(False),
        S.STOP,
        ["RemoveVips", "Notify"],
        None,
    ),
    ("stopped is final", P3, FsmState(state=S.STOP), Startup(), S.STOP, [], None),
    (
        "sync: backup forced master",
        P3,
        backup(),
        ForceState(S.MASTER),
        S.MASTER,
        ["AddVips", "SendGarp", "SendAdvert", "Notify"],
        None,
    ),
    (
        "sync: master forced backup",
        P3,
        master(),
        ForceState(S.BACKUP),
        S.BACKUP,
        ["SendAdvert", "RemoveVips", "Notify"],
        None,
    ),
    (
        "sync: fault ignores force",
        P3,
        FsmState(state=S.FAULT, faulted=True),
        ForceState(S.MASTER),
        S.FAULT,
        [],
        None,
    ),
    (
        "priority change as master: advert now",
        P3,
        master(),
        PriorityChanged(90),
        S.MASTER,
        ["SendAdvert"],
        None,
    ),
]


@pytest.mark.parametrize(
    ("params", "state", "event", "want_state", "want_kinds", "drop"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_step_table(params, state, event, want_state, want_kinds, drop) -> None:
    new, actions = fsm.step(params, state, event, T)
    assert new.state == want_state
    assert kinds(actions) == want_kinds
    if drop is not None:
        assert isinstance(actions[0], Drop) and actions[0].reason == drop
        assert new == state  # a dropped advert changes nothing


def test_backup_priority_zero_waits_only_skew() -> None:
    st, _ = fsm.step(P3, backup(), AdvertIn(adv(0), HIGH, 255), T)
    assert st.down_at == pytest.approx(T + fsm.skew_time(3, 100, 0.1))


def test_backup_learns_master_interval_v3_and_restarts_timer() -> None:
    st, _ = fsm.step(P3, backup(), AdvertIn(adv(150, intv=0.5), HIGH, 255), T)
    assert st.master_adver_int == 0.5
    assert st.down_at == pytest.approx(T + fsm.master_down_interval(3, 100, 0.5))
    assert st.master_addr == HIGH


def test_preempt_and_nopreempt_and_preempt_delay() -> None:
    lower = AdvertIn(adv(50), LOW, 255)
    # preempt: a lower master's adverts are ignored, our timer runs out, we take over
    st, _ = fsm.step(P3, backup(), lower, T)
    assert st.down_at == backup().down_at
    # nopreempt: a lower master is accepted as master (timer restarted)
    nop = replace(P3, preempt=False)
    st, _ = fsm.step(nop, backup(), lower, T + 0.2)
    assert st.down_at == pytest.approx(T + 0.2 + fsm.master_down_interval(3, 100, 0.1))
    # preempt_delay: no preemption before the delay after startup
    pd = replace(P3, preempt_delay=5.0)
    st0, _ = fsm.step(pd, FsmState(priority=100), Startup(), T)
    st1, _ = fsm.step(pd, st0, lower, T + 1)
    assert st1.master_addr == LOW  # accepted as master during the delay
    st2, _ = fsm.step(pd, st1, lower, T + 6)
    assert st2.down_at == st1.down_at  # after the delay: ignored again → we will preempt


def test_master_sends_adverts_on_schedule_and_garp_batches() -> None:
    p = replace(P3, garp_delay=5.0, garp_refresh=0.0)
    st, acts = fsm.step(p, replace(backup(), down_at=T), Timer(), T)
    assert st.state == S.MASTER and st.garp_at == T + 5.0
    sent = 0
    garps = []
    now = T
    while now < T + 6:
        now = fsm.next_deadline(st) or now + 1
        st, acts = fsm.step(p, st, Timer(), now)
        sent += kinds(acts).count("SendAdvert")
        garps += [a for a in acts if isinstance(a, SendGarp)]
    assert 55 <= sent <= 61  # one every 0.1 s for 6 s
    assert garps == [SendGarp(refresh=False)]  # the delayed second batch, once (no refresh)
    assert st.garp_at is None


def test_want_master_startup_uses_short_timer() -> None:
    p = replace(P3, want_master=True, advert_int=1.0)
    st, _ = fsm.step(p, FsmState(priority=100, master_adver_int=1.0), Startup(), T)
    assert st.state == S.BACKUP
    assert st.down_at == pytest.approx(T + 1.0 + fsm.skew_time(3, 100, 1.0))


def test_split_brain_action_names_peer() -> None:
    _, acts = fsm.step(P3, master(), AdvertIn(adv(100), LOW, 255), T)
    assert SplitBrain(LOW, 100) in acts


def test_every_action_type_appears() -> None:
    seen = set()
    for c in CASES:
        _, acts = fsm.step(c[1], c[2], c[3], T)
        seen |= {type(a) for a in acts}
    assert {SendAdvert, AddVips, RemoveVips, SendGarp, Notify, Drop, SplitBrain} <= seen
