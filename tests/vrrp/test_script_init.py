"""A vrrp_script before its first result (keepalived's init state) and with `init_fail`:
what the instance's state and priority are, as keepalived's vrrp_track.c sets them."""

from __future__ import annotations

from pathlib import Path

from lvstui.clock import FakeClock
from lvstui.config.schema import Config, TrackWeight, VrrpScript
from lvstui.model import VrrpRunState as S
from lvstui.vrrp.track import ScriptTracker
from tests.vrrp.test_node import Director, inst, lan, notify_recorder, run_for, until

__all__ = ["lan"]  # the fixture, imported for pytest


def _never(weight: int, *, init_fail: bool = False, rise: int = 1) -> VrrpScript:
    # never finishes during a test (killed at stop): only the test's verdicts reach the node
    return VrrpScript(
        "chk", "sleep 600", interval=60.0, weight=weight, rise=rise, init_fail=init_fail
    )


def test_first_result_decides_alone_then_rise_and_fall_count() -> None:
    sc = VrrpScript("chk", "true", rise=3, fall=3)
    changes: list[bool] = []
    tr = ScriptTracker(sc, FakeClock(), changes.append, initial=None)
    tr.feed(False)  # one failure, although fall = 3
    assert tr.ok is False and changes == [False]
    tr.feed(True)
    tr.feed(True)
    assert changes == [False]  # now rise = 3 counts
    tr.feed(True)
    assert changes == [False, True]
    first_pass: list[bool] = []
    tr = ScriptTracker(sc, FakeClock(), first_pass.append, initial=None)
    tr.feed(True)
    assert first_pass == [True]


def test_init_fail_needs_rise_passes() -> None:
    sc = VrrpScript("chk", "true", rise=2, init_fail=True)
    changes: list[bool] = []
    tr = ScriptTracker(sc, FakeClock(), changes.append, initial=False)
    tr.feed(False)
    tr.feed(True)
    assert changes == []
    tr.feed(True)
    assert changes == [True]


async def test_weight_zero_waits_in_fault_for_the_first_result(lan) -> None:
    hub, clock = lan
    cfg = Config(
        vrrp_scripts=(_never(0, rise=5),), vrrp_instances=(inst(150, track_script=("chk",)),)
    )
    a = Director(hub, clock, "198.51.100.11", cfg)
    await a.group.start()
    try:
        node = a.group.nodes["VI_1"]
        await run_for(clock, 1.0)
        assert a.state() is S.FAULT and "no result yet" in node.state.reason
        assert node.view().scripts == ()  # no verdict to show yet
        node.track_scripts.callback("chk")(True)  # one pass is enough (rise 5 or not)
        await until(clock, lambda: a.state() is S.MASTER)
    finally:
        await a.group.stop()


async def test_weight_zero_first_failure_keeps_fault(lan) -> None:
    hub, clock = lan
    cfg = Config(vrrp_scripts=(_never(0),), vrrp_instances=(inst(150, track_script=("chk",)),))
    a = Director(hub, clock, "198.51.100.11", cfg)
    await a.group.start()
    try:
        node = a.group.nodes["VI_1"]
        node.track_scripts.callback("chk")(False)
        await run_for(clock, 1.0)
        assert a.state() is S.FAULT and "failed" in node._faults["script:chk"]
        assert node.view().scripts == (("chk", False),)
    finally:
        await a.group.stop()


async def test_weights_move_nothing_before_the_first_result(lan) -> None:
    hub, clock = lan
    for weight, after_pass, after_fail in ((20, 170, 150), (-60, 150, 90)):
        cfg = Config(
            vrrp_scripts=(_never(weight),), vrrp_instances=(inst(150, track_script=("chk",)),)
        )
        a = Director(hub, clock, "198.51.100.11", cfg)
        await a.group.start()
        try:
            node = a.group.nodes["VI_1"]
            await until(clock, lambda d=a: d.state() is S.MASTER)  # not FAULT: a weight
            assert node._effective_priority() == 150
            node.track_scripts.callback("chk")(True)
            assert node._effective_priority() == after_pass
            node.track_scripts.callback("chk")(False)
            assert node._effective_priority() == after_fail
        finally:
            await a.group.stop()


async def test_init_fail_starts_failed(lan) -> None:
    hub, clock = lan
    # weight -60: applied from the start; weight 20: not added; weight 0: FAULT, even reversed
    for weight, prio in ((-60, 90), (20, 150)):
        sc = _never(weight, init_fail=True)
        cfg = Config(vrrp_scripts=(sc,), vrrp_instances=(inst(150, track_script=("chk",)),))
        a = Director(hub, clock, "198.51.100.11", cfg)
        await a.group.start()
        try:
            assert a.group.nodes["VI_1"]._effective_priority() == prio
        finally:
            await a.group.stop()
    reversed_ = inst(150, track_script=("chk",), track_script_weight=(TrackWeight("chk", 0, True),))
    cfg = Config(vrrp_scripts=(_never(0, init_fail=True),), vrrp_instances=(reversed_,))
    a = Director(hub, clock, "198.51.100.11", cfg)
    await a.group.start()
    try:
        await run_for(clock, 1.0)
        assert a.state() is S.FAULT and "init_fail" in a.group.nodes["VI_1"].state.reason
    finally:
        await a.group.stop()


async def test_the_init_fault_runs_no_notify_script(lan, tmp_path: Path) -> None:
    """keepalived's FAULT before a script's first result is silent (no notify); the first
    pass brings the instance up with the usual notifies. A FAULT for a failed script
    (init_fail) is notified as any other."""
    hub, clock = lan
    cmd, out = notify_recorder(tmp_path)
    for init_fail, want in (
        (False, ["INSTANCE VI_1 BACKUP 150", "INSTANCE VI_1 MASTER 150"]),
        (True, ["INSTANCE VI_1 FAULT 150", "INSTANCE VI_1 BACKUP 150", "INSTANCE VI_1 MASTER 150"]),
    ):
        out.write_text("")
        cfg = Config(
            vrrp_scripts=(_never(0, init_fail=init_fail),),
            vrrp_instances=(inst(150, track_script=("chk",), notify=cmd),),
        )
        a = Director(hub, clock, "198.51.100.11", cfg)
        await a.group.start()
        try:
            await run_for(clock, 1.0)
            assert a.state() is S.FAULT
            a.group.nodes["VI_1"].track_scripts.callback("chk")(True)
            await until(clock, lambda d=a: d.state() is S.MASTER)
        finally:
            await a.group.stop()
        assert out.read_text().splitlines() == [*want, "INSTANCE VI_1 STOP 150"]
