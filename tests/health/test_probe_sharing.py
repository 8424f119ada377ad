"""One probe per target, and the watchdog: in memory (FakeClock) and against real listeners
that count the probes they receive."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from lvstui.clock import SystemClock
from lvstui.config.schema import CheckCommon, RealServer, TcpCheck, VirtualServer
from lvstui.health.base import CheckResult, ScriptedChecker
from lvstui.health.build import build_checker
from lvstui.health.probe import run_budget, stale_after
from lvstui.health.scheduler import HealthMonitor
from lvstui.model import Health
from tests.health.conftest import Rig, spec


async def test_equal_specs_share_one_probe_each_keeps_its_own_verdict(rig: Rig) -> None:
    s = spec(period=1.0, rise=1, fall=2)
    first, second, third = (ScriptedChecker(s, [False]) for _ in range(3))
    rig.mon.add("a", [first])
    rig.mon.add("b", [second], alpha=True)  # starts down: one pass away from up
    rig.mon.add("c", [third])
    assert (rig.mon.probe_count(), rig.mon.check_count()) == (1, 3)
    await rig.step(0.5)
    assert first.calls == 1 and second.calls == third.calls == 0  # one run for three
    (view,) = rig.mon.views("b")
    assert view.shared == 3 and view.runs == 1
    # fall 2: a and c are still up after one failure; b (alpha) stays down
    assert [rig.mon.health(k) for k in "abc"] == [Health.UP, Health.DOWN, Health.UP]
    await rig.step(1.0)
    assert first.calls == 2
    assert [rig.mon.health(k) for k in "abc"] == [Health.DOWN] * 3
    rig.mon.remove("a")  # the first checker stays the probe's: the target is the same
    await rig.step(1.0)
    assert first.calls == 3 and rig.mon.views("b")[0].shared == 2
    rig.mon.remove("b")
    rig.mon.remove("c")
    assert rig.mon.probe_count() == 0
    await rig.step(2.0)
    assert first.calls == 3  # nobody left: the probe stopped


async def test_different_specs_do_not_share(rig: Rig) -> None:
    a, b = ScriptedChecker(spec(port=80)), ScriptedChecker(spec(port=81))
    rig.mon.add("a", [a])
    rig.mon.add("b", [b])
    await rig.step(0.5)
    assert (a.calls, b.calls, rig.mon.probe_count()) == (1, 1, 2)


async def test_a_shared_probe_runs_while_one_subscriber_is_not_suspended(rig: Rig) -> None:
    s = spec(period=1.0)
    a, b = ScriptedChecker(s, [True]), ScriptedChecker(s, [True])
    rig.mon.add("a", [a])
    rig.mon.add("b", [b])
    await rig.step(0.5)
    rig.mon.suspend("a")
    await rig.step(1.0)
    assert a.calls == 2  # still run, for b
    a.set_results([False])
    rig.mon.suspend("b")
    await rig.step(3.0)
    assert a.calls == 2  # nobody wants it: stopped
    assert rig.mon.health("a") is Health.UP and rig.mon.health("b") is Health.UP
    rig.mon.resume("b")
    await rig.step(1.0)
    assert rig.mon.health("b") is Health.DOWN
    assert rig.mon.health("a") is Health.UP  # suspended: the failure is not its


async def test_watchdog_flags_a_hung_check_and_clears_it(rig: Rig) -> None:
    stale: list[tuple[str, bool, str]] = []
    rig.mon.on_stale = lambda k, flag, why: stale.append((k, flag, why))
    s = spec(period=2.0, retry=1, delay_before_retry=1.0)
    assert run_budget(s) == 1.0 * 2 + 1.0 and stale_after(s) == 2 * (2.0 + 3.0)
    hung = ScriptedChecker(s, [True])
    hung.gate = asyncio.Event()  # the run never ends until the gate opens
    rig.mon.add("x", [hung])
    rig.mon.add("y", [ScriptedChecker(s)])  # shares the hung probe
    await rig.step(9.0, by=0.5)
    assert stale == [] and rig.mon.stale_probes() == 0  # within 2 x (period + budget)
    await rig.step(2.0, by=0.5)
    assert [(k, f) for k, f, _ in stale] == [("x", True), ("y", True)]
    assert "no completed run" in stale[0][2] and rig.mon.stale_probes() == 1
    assert rig.mon.views("x")[0].stale and rig.mon.stale_total == 1
    hung.gate.set()
    await rig.step(1.5, by=0.5)
    assert [(k, f) for k, f, _ in stale[2:]] == [("x", False), ("y", False)]
    assert not rig.mon.views("x")[0].stale


async def test_a_starved_check_goes_stale_too(rig: Rig) -> None:
    """Under the concurrency cap, a check that never gets a turn is never silent."""
    mon: HealthMonitor[str] = HealthMonitor(rig.clock, concurrency=1)
    stale: list[str] = []
    mon.on_stale = lambda k, flag, why: stale.append(k) if flag else None
    hog = ScriptedChecker(spec(period=1.0, port=1), [True])
    hog.gate = asyncio.Event()
    mon.add("hog", [hog])
    mon.add("starved", [ScriptedChecker(spec(period=1.0, port=2, warmup=0.1))])
    task = asyncio.create_task(mon.run())
    try:
        await rig.step(6.0, by=0.5)
        assert "starved" in stale and "hog" in stale
    finally:
        hog.gate.set()
        mon.stop()
        await asyncio.wait_for(task, 5)


async def test_scheduler_lag_is_measured(rig: Rig) -> None:
    rig.mon.add("a", [ScriptedChecker(spec(period=1.0))])
    await rig.step(3.0, by=0.3)  # fake time jumps 0.3 s: runs start up to that late
    lag = rig.mon.take_lag()
    assert 0.0 < lag <= 0.3
    assert rig.mon.take_lag() == 0.0  # reset by reading


class _Counter:
    """A TCP listener in a thread that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0

    def poll(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, BlockingIOError):
                return
            conn.close()
            self.accepted += 1


@pytest.fixture
def counters() -> Iterator[list[_Counter]]:
    cs = [_Counter() for _ in range(10)]
    for c in cs:
        c.sock.setblocking(False)
    yield cs
    for c in cs:
        c.sock.close()


async def test_100_services_on_10_servers_send_10_probes_a_period(counters: list[_Counter]) -> None:
    period = 0.5
    check = TcpCheck(common=CheckCommon(delay_loop=period, warmup=0.0, connect_timeout=1.0))
    reals = [RealServer("127.0.0.1", c.port, checks=(check,)) for c in counters]
    mon: HealthMonitor[tuple[int, int]] = HealthMonitor(SystemClock())
    for i in range(100):
        vs = VirtualServer(f"203.0.113.{i + 1}", 80, real_servers=tuple(reals))
        for j, rs in enumerate(reals):
            mon.add((i, j), [build_checker(check, rs, vs)])
    assert (mon.check_count(), mon.probe_count()) == (1000, 10)
    task = asyncio.create_task(mon.run())
    started = time.monotonic()
    try:
        while time.monotonic() - started < 4 * period:  # the first run at 0, then 3 more
            await asyncio.sleep(0.02)
            for c in counters:
                c.poll()
    finally:
        mon.stop()
        await asyncio.wait_for(task, 5)
    for c in counters:
        c.poll()
    # each server, counted on its side: one probe a period (4 or 5 runs in 4 periods),
    # where one loop per (service, server) would have sent 100 a period
    assert all(3 <= c.accepted <= 5 for c in counters), [c.accepted for c in counters]
    assert all(v.shared == 100 and v.health is Health.UP for v in mon.views((7, 3)))
    assert mon.views((0, 0))[0].runs == mon.views((99, 0))[0].runs


def test_checkresult_unchanged_for_sharing() -> None:
    # a shared probe hands the very same result to every subscriber: it must be immutable
    r = CheckResult(True, "ok")
    with pytest.raises(AttributeError):
        r.ok = False  # type: ignore[misc]
