"""HealthMonitor with a FakeClock and in-memory checkers: no sleeping, no sockets."""

from __future__ import annotations

import asyncio

import pytest

from lvstui.clock import FakeClock
from lvstui.health.base import CheckResult, ScriptedChecker
from lvstui.health.scheduler import HealthMonitor
from lvstui.model import Health
from tests.health.conftest import Rig, spec


@pytest.mark.parametrize(
    ("alpha", "rise", "fall", "results", "healths_after_each_run"),
    [
        (False, 1, 1, "PFP", "UDU"),
        (True, 1, 1, "PFP", "UDU"),
        (True, 2, 1, "FPPF", "DDUD"),
        (False, 1, 3, "FFFP", "UUDU"),
    ],
)
async def test_alpha_rise_fall_through_monitor(
    rig: Rig, alpha: bool, rise: int, fall: int, results: str, healths_after_each_run: str
) -> None:
    ck = ScriptedChecker(spec(rise=rise, fall=fall), [c == "P" for c in results])
    rig.mon.add("rs1", [ck], alpha=alpha)
    assert rig.mon.health("rs1") is (Health.DOWN if alpha else Health.UP)
    expected_changes = 0
    prev = rig.mon.health("rs1")
    for i, want in enumerate(healths_after_each_run):
        await rig.step(1.0 if i else 0.0)
        assert ck.calls == i + 1
        h = rig.mon.health("rs1")
        assert h is (Health.UP if want == "U" else Health.DOWN), (i, h)
        if h is not prev:
            expected_changes += 1
        prev = h
    # only transitions are emitted
    assert len(rig.changes) == expected_changes
    assert all(k == "rs1" for k, *_ in rig.changes)


async def test_no_overlap_slow_run_delays_next(rig: Rig) -> None:
    ck = ScriptedChecker(spec(period=1.0))
    ck.gate = asyncio.Event()
    rig.mon.add("rs", [ck])
    await rig.step(5.0, by=0.5)  # the first run hangs for 5 periods
    assert ck.calls == 1 and ck.max_in_flight == 1
    ck.gate.set()
    await rig.settle()
    # the missed periods are not replayed: one run right away, then one per period
    assert ck.calls == 2
    await rig.step(3.0, by=0.25)
    assert ck.calls == 5
    assert ck.max_in_flight == 1


async def test_staggered_start(rig: Rig) -> None:
    checkers = [ScriptedChecker(spec(period=10.0, warmup=None, port=i)) for i in range(200)]
    for i, c in enumerate(checkers):
        rig.mon.add(f"rs{i}", [c])
    started_per_second = []
    for _ in range(10):
        before = sum(c.calls for c in checkers)
        await rig.step(1.0, by=0.1)
        started_per_second.append(sum(c.calls for c in checkers) - before)
    assert sum(started_per_second) == 200  # everyone ran exactly once in the first period
    # spread over the period: no second gets more than a quarter (uniform: ~20 each)
    assert max(started_per_second) <= 50, started_per_second
    assert min(started_per_second) >= 5, started_per_second


async def test_fixed_warmup(rig: Rig) -> None:
    ck = ScriptedChecker(spec(period=10.0, warmup=3.0))
    rig.mon.add("rs", [ck])
    await rig.step(2.9, by=0.1)
    assert ck.calls == 0
    await rig.step(0.2, by=0.1)
    assert ck.calls == 1


async def test_concurrency_cap() -> None:
    clock = FakeClock()
    mon: HealthMonitor[int] = HealthMonitor(clock, concurrency=3)
    gate = asyncio.Event()
    checkers = []
    for i in range(10):
        c = ScriptedChecker(spec(port=i))
        c.gate = gate
        checkers.append(c)
        mon.add(i, [c])
    task = asyncio.create_task(mon.run())
    for _ in range(30):
        await asyncio.sleep(0)
    assert sum(c.in_flight for c in checkers) == 3
    gate.set()
    for _ in range(100):
        await asyncio.sleep(0)
    assert all(c.calls == 1 for c in checkers)
    mon.stop()
    await asyncio.wait_for(task, 5)


async def test_retry_counts_attempts(rig: Rig) -> None:
    # retry 2: a run fails only after 3 failed attempts, delay_before_retry apart
    ck = ScriptedChecker(spec(period=10.0, retry=2, delay_before_retry=1.0), [False])
    rig.mon.add("rs", [ck])
    await rig.step(0.0)
    assert ck.calls == 1 and rig.mon.health("rs") is Health.UP
    await rig.step(1.0)
    assert ck.calls == 2 and rig.mon.health("rs") is Health.UP
    await rig.step(1.0)
    assert ck.calls == 3 and rig.mon.health("rs") is Health.DOWN
    (view,) = rig.mon.views("rs")
    assert view.runs == 3 and view.failures == 3 and view.health is Health.DOWN
    assert len(rig.changes) == 1 and "after 3 attempts" in rig.changes[0][3]
    # while down, one attempt per period decides
    await rig.step(10.0, by=1.0)
    assert ck.calls == 4


async def test_retry_then_pass_is_no_failure(rig: Rig) -> None:
    ck = ScriptedChecker(spec(period=10.0, retry=1, delay_before_retry=2.0), [False, True])
    rig.mon.add("rs", [ck])
    await rig.step(3.0, by=1.0)
    assert ck.calls == 2
    assert rig.mon.health("rs") is Health.UP and rig.changes == []
    (view,) = rig.mon.views("rs")
    assert (view.runs, view.failures, view.last_ok) == (2, 1, True)


async def test_all_checks_must_pass(rig: Rig) -> None:
    good = ScriptedChecker(spec(port=1), [True])
    bad = ScriptedChecker(spec(port=2), [True, False])
    rig.mon.add("rs", [good, bad])
    await rig.step(0.0)
    assert rig.mon.health("rs") is Health.UP
    await rig.step(1.0)
    assert rig.mon.health("rs") is Health.DOWN
    assert [(k, h) for k, h, *_ in rig.changes] == [("rs", Health.DOWN)]
    assert "127.0.0.1:2" in rig.changes[0][3]


async def test_misc_dynamic_weight_changes_are_emitted(rig: Rig) -> None:
    results = [
        CheckResult(True, "exit 0"),
        CheckResult(True, "exit 10", weight=8),
        CheckResult(True, "exit 10", weight=8),
        CheckResult(False, "exit 1"),
        CheckResult(True, "exit 0"),
    ]
    ck = ScriptedChecker(spec(dynamic=True), results)
    rig.mon.add("rs", [ck])
    await rig.step(4.0, by=1.0)
    assert ck.calls == 5
    assert [(h, w) for _, h, w, _ in rig.changes] == [
        (Health.UP, 8),
        (Health.DOWN, 8),
        (Health.UP, None),
    ]
    assert rig.mon.dynamic_weight("rs") is None


async def test_update_keeps_unchanged_checks(rig: Rig) -> None:
    a = ScriptedChecker(spec(port=1, period=5.0))
    rig.mon.add("rs", [a])
    await rig.step(5.0, by=1.0)
    assert a.calls == 2
    a2 = ScriptedChecker(spec(port=1, period=5.0))  # same spec: keeps state and loop
    b = ScriptedChecker(spec(port=2, period=5.0), [False])
    rig.mon.update("rs", [a2, b])
    views = rig.mon.views("rs")
    assert [v.runs for v in views] == [2, 0]
    assert views[1].health is Health.UNKNOWN
    await rig.step(0.0)
    assert b.calls == 1 and a2.calls == 0  # the kept loop still drives the old checker
    assert rig.mon.health("rs") is Health.DOWN
    rig.mon.update("rs", [a2])  # removing the failing check brings the server back
    assert rig.mon.health("rs") is Health.UP
    assert [h for _, h, _, _ in rig.changes] == [Health.DOWN, Health.UP]
    rig.mon.remove("rs")
    assert rig.mon.views("rs") == ()
    await rig.step(10.0, by=1.0)
    assert b.calls == 1


async def test_no_checks_means_up(rig: Rig) -> None:
    rig.mon.add("rs", [], alpha=True)
    assert rig.mon.health("rs") is Health.UP


async def test_crashing_checker_is_a_failure(rig: Rig) -> None:
    class Boom(ScriptedChecker):
        async def run(self) -> CheckResult:
            raise RuntimeError("bug")

    rig.mon.add("rs", [Boom(spec())])
    await rig.step(0.0)
    assert rig.mon.health("rs") is Health.DOWN
    assert "checker error" in rig.mon.views("rs")[0].last_reason


async def test_concurrency_cap_survives_cancelled_waiters() -> None:
    """Cap 1: runs waiting for a turn are removed (their loops cancelled) while queued, and
    just after being handed the turn; the remaining checks still all get to run."""
    clock = FakeClock()
    mon: HealthMonitor[int] = HealthMonitor(clock, concurrency=1)
    gate = asyncio.Event()
    checkers = [ScriptedChecker(spec(port=i), [i != 0]) for i in range(6)]
    for c in checkers:
        c.gate = gate
    for i, c in enumerate(checkers):
        mon.add(i, [c])
    # check 0 fails: its transition is reported after it released its turn and handed it to
    # check 2 (1 is gone by then), which is removed from inside the callback, before it runs
    handed: list[bool] = []

    def on_change(key: int, health: Health, weight: int | None, why: str) -> None:
        handed.append(mon._slots._woken == 1)
        mon.remove(2)

    mon.on_change = on_change
    task = asyncio.create_task(mon.run())
    for _ in range(30):
        await asyncio.sleep(0)
    assert [c.in_flight for c in checkers] == [1, 0, 0, 0, 0, 0]
    mon.remove(1)  # cancelled while queued
    gate.set()
    for _ in range(200):
        await asyncio.sleep(0)
    assert handed == [True]
    assert [c.calls for c in checkers] == [1, 0, 0, 1, 1, 1]
    assert max(c.max_in_flight for c in checkers) == 1
    assert mon._slots.in_flight == 0 and mon._slots._woken == 0 and not mon._slots._waiters
    mon.stop()
    await asyncio.wait_for(task, 5)
