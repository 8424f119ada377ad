"""Director drain: the pure state machine (start, observe), the decision while draining,
apply() switching an announcement's preference, the holder's commands, and the follow loop
taking a drain from announced-less-preferred to withdrawn."""

from __future__ import annotations

import asyncio

import pytest

from lvstui.announce.base import MemoryAnnouncer
from lvstui.announce.decide import Reason, ServiceView, VipView, apply, decide, decide_all
from lvstui.announce.director import (
    DirectorDrainer,
    DrainPhase,
    DrainStatus,
    observe,
    start,
)
from lvstui.announce.follow import follow, new_connections
from lvstui.announce.state import AnnounceState
from lvstui.model import (
    DrainDirector,
    LbKind,
    Protocol,
    RealKey,
    RealServerView,
    ServiceKey,
    Snapshot,
    Stats,
    UndrainDirector,
)
from lvstui.model import (
    ServiceView as SnapService,
)

UP = ServiceView("tcp:80", True)
DOWN = ServiceView("tcp:80", False)
VIP = "198.51.100.1"


def test_safe_only_after_the_counter_stood_still_for_the_settle_time() -> None:
    s = start(100.0, 5.0)
    s = observe(s, 40, 101.0)  # the baseline: the drain began at 100
    assert s.phase is DrainPhase.DRAINING
    s = observe(s, 41, 103.0)  # a new connection: the quiet time starts again
    s = observe(s, 41, 107.9)
    assert s.phase is DrainPhase.DRAINING and s.quiet_since == 103.0
    s = observe(s, 41, 108.0)
    assert s.phase is DrainPhase.SAFE


def test_a_counter_going_down_also_restarts_the_quiet_time() -> None:
    s = observe(observe(start(0.0, 2.0), 10, 0.5), 4, 1.9)  # a reload removed a service
    assert observe(s, 4, 3.8).phase is DrainPhase.DRAINING
    assert observe(s, 4, 3.9).phase is DrainPhase.SAFE


def test_observe_changes_nothing_unless_draining() -> None:
    assert observe(DrainStatus(), 5, 99.0) == DrainStatus()
    safe = DrainStatus(DrainPhase.SAFE, 1.0)
    assert observe(safe, 7, 99.0) is safe


def test_settle_zero_is_safe_at_the_first_look() -> None:
    assert observe(start(5.0, 0.0), 3, 5.0).phase is DrainPhase.SAFE


def test_draining_announces_less_preferred_but_never_more() -> None:
    d = decide(VipView(VIP, (UP,), True), drained=False, draining=True)
    assert d.announce and d.graceful and d.reason is Reason.DRAINING
    lost = decide(VipView(VIP, (DOWN,), True), drained=False, draining=True)
    assert not lost.announce and lost.reason is Reason.NO_QUORUM and not lost.graceful
    safe = decide(VipView(VIP, (UP,), True), drained=True, draining=False)
    assert not safe.announce and safe.reason is Reason.DRAINED


def test_apply_switches_the_preference_both_ways_without_a_withdrawal() -> None:
    a = MemoryAnnouncer()
    views = [VipView(VIP, (UP,), True)]
    apply(a, decide_all(views, drained=False))
    apply(a, decide_all(views, drained=False, draining=True))
    apply(a, decide_all(views, drained=False, draining=True))  # idempotent
    apply(a, decide_all(views, drained=False))
    apply(a, decide_all(views, drained=True))
    assert a.log == [
        ("announce", VIP),
        ("announce graceful", VIP),
        ("announce", VIP),
        ("withdraw", VIP),
    ]


def test_holder_commands() -> None:
    d = DirectorDrainer()
    assert d.call(UndrainDirector(), 0.0).message == "director not drained"
    assert not d.call(DrainDirector(-1.0), 0.0).ok
    assert d.call(DrainDirector(3.0), 10.0).ok
    assert d.status.phase is DrainPhase.DRAINING and d.status.settle == 3.0
    # a second drain keeps the first one's clock
    assert "already draining" in d.call(DrainDirector(), 11.0).message
    assert d.observe(0, 12.0) is DrainPhase.DRAINING
    assert d.observe(0, 13.0) is DrainPhase.SAFE
    assert "undrained" in d.call(UndrainDirector(), 14.0).message
    assert d.status == DrainStatus()


def _snap(conns: int) -> Snapshot:
    rs = RealServerView(RealKey("203.0.113.1", 80), LbKind.NAT, 1, 1, in_table=True)
    svc = SnapService(
        ServiceKey(Protocol.TCP, VIP, 80),
        "mh",
        LbKind.NAT,
        real_servers=(rs,),
        stats=Stats(conns=conns),
    )
    other = SnapService(
        ServiceKey(Protocol.TCP, "198.51.100.99", 80), "mh", LbKind.NAT, stats=Stats(conns=7)
    )
    return Snapshot(seq=1, time=0.0, services=(svc, other))


def test_new_connections_counts_only_the_bgp_vips() -> None:
    assert new_connections(_snap(5), {VIP}) == 5
    assert new_connections(_snap(5), set()) == 0


def test_follow_drains_announces_less_preferred_then_withdraws() -> None:
    async def run() -> tuple[list[tuple[str, str]], list[str]]:
        a = MemoryAnnouncer()
        state = AnnounceState()
        drainer = DirectorDrainer()
        conns = [10]
        seen: list[str] = []
        task = asyncio.create_task(
            follow(
                lambda: _snap(conns[0]),
                a,
                lambda: {VIP},
                interval=0.01,
                director=drainer,
                state=state,
            )
        )
        for _ in range(200):  # announced normally first
            await asyncio.sleep(0.01)
            if a.announced():
                break
        loop = asyncio.get_running_loop()
        assert drainer.call(DrainDirector(0.2), loop.time()).ok
        for i in range(500):  # bounded: 5 s
            await asyncio.sleep(0.01)
            if i < 10:
                conns[0] += 1  # new connections keep arriving for a while
            phase = state.view().director
            if not seen or seen[-1] != phase:
                seen.append(phase)
            if phase == "safe" and not a.announced():
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return a.log, seen

    log, seen = asyncio.run(run())
    assert log[:3] == [("announce", VIP), ("announce graceful", VIP), ("withdraw", VIP)]
    assert seen[-1] == "safe" and "draining" in seen


@pytest.mark.parametrize("settle", [None, 0.5])
def test_describe(settle: float | None) -> None:
    from lvstui.describe import describe_command

    text = describe_command(DrainDirector(settle))
    assert text.startswith("drain-director")
    assert ("0.5" in text) == (settle is not None)


def test_no_bgp_vip_nothing_to_drain_but_undrain_still_works() -> None:
    vips = [False]
    d = DirectorDrainer(lambda: vips[0])
    r = d.call(DrainDirector(), 0.0)
    assert not r.ok and "no VIP over BGP" in r.message
    vips[0] = True  # a reload added one
    assert d.call(DrainDirector(), 0.0).ok
    vips[0] = False  # and removed it again: undrain is never refused
    assert d.call(UndrainDirector(), 1.0).ok and d.status.phase is DrainPhase.NORMAL
