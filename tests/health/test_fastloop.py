"""TCP_CHECK's callback loops (lvstui.health.fastloop) on the real clock against loopback
listeners: the same verdicts as the task loops (pass, refused, timeout, retries), the
concurrency cap shared with task loops, nothing left behind when a probe is removed in the
middle of a connect, and the cap's FIFO of futures and callbacks (lvstui.health.slots)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator

import pytest

from lvstui.clock import SystemClock
from lvstui.config.schema import CheckCommon, RealServer, TcpCheck, VirtualServer
from lvstui.health.base import ScriptedChecker
from lvstui.health.build import build_checker
from lvstui.health.fastloop import CallbackLoop
from lvstui.health.scheduler import HealthMonitor
from lvstui.health.slots import Slots
from lvstui.health.tcp import TcpChecker
from lvstui.health.timers import CHECK_TICK, check_tick, timers_for
from lvstui.model import Health
from tests.helpers import async_wait_until


def listen(backlog: int = 64) -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    return s


@pytest.fixture
def stalled() -> Iterator[int]:
    """A port whose accept queue is full: a connect to it hangs (SYNs dropped)."""
    s = listen(0)
    port = s.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
    yield port
    for c in fillers:
        c.close()
    s.close()


def tcp(port: int, timeout: float = 1.0, retry: int = 0, period: float = 0.05) -> TcpChecker:
    common = CheckCommon(connect_timeout=timeout, retry=retry, delay_before_retry=0.02, warmup=0.0)
    vs = VirtualServer("192.0.2.9", 80, delay_loop=period)
    checker = build_checker(TcpCheck(common), RealServer("127.0.0.1", port), vs)
    assert isinstance(checker, TcpChecker)
    return checker


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_tcp_checks_run_as_callback_loops_with_the_same_verdicts(stalled: int) -> None:
    up = listen()
    refused = listen()
    refused_port = refused.getsockname()[1]
    refused.close()
    mon: HealthMonitor[str] = HealthMonitor(SystemClock())
    mon.add("up", [tcp(up.getsockname()[1])])
    mon.add("refused", [tcp(refused_port, retry=1)])
    mon.add("hangs", [tcp(stalled, timeout=0.2)])
    task = asyncio.create_task(mon.run())
    try:
        await async_wait_until(
            lambda: all(mon.views(k)[0].runs >= 2 for k in ("up", "refused", "hangs")), 10
        )
        assert all(isinstance(p.task, CallbackLoop) for p in mon._probes.values())
        assert mon.health("up") is Health.UP and mon.views("up")[0].last_reason == "connected"
        assert mon.health("refused") is Health.DOWN
        first = mon.views("refused")[0]
        assert "refused" in first.last_reason.lower() and first.failures >= 2  # retry 1
        assert mon.health("hangs") is Health.DOWN
        hung = mon.views("hangs")[0]
        assert hung.last_reason == "connect timeout after 0.2s"
        assert hung.last_latency is not None and 0.2 <= hung.last_latency < 1.0  # never early
        assert mon.views("up")[0].last_run is not None  # wall time, from the monotonic one
    finally:
        mon.stop()
        await asyncio.wait_for(task, 5)
        up.close()


async def test_removed_in_the_middle_of_a_connect_leaves_nothing(stalled: int) -> None:
    mon: HealthMonitor[int] = HealthMonitor(SystemClock(), concurrency=2)
    for i in range(3):
        mon.add(i, [tcp(stalled, timeout=5.0, period=0.05 + i / 1000)])
    task = asyncio.create_task(mon.run())
    try:
        # two connects hang (the cap), the third waits for a slot
        await async_wait_until(lambda: mon._slots.in_flight == 2, 5)
        connecting = open_fds()
        for i in range(3):
            mon.remove(i)
        assert mon._slots.in_flight == 0 and not mon._slots.full()
        assert open_fds() == connecting - 2  # the two sockets are closed at once
        await asyncio.sleep(0.1)
        assert mon._slots.in_flight == 0  # and no callback of theirs came back
    finally:
        mon.stop()
        await asyncio.wait_for(task, 5)


async def test_the_cap_is_shared_with_task_loops_in_arrival_order(stalled: int) -> None:
    """Cap 1: a TCP connect that hangs holds the slot; a scripted check (a task loop) queued
    behind it runs when the connect times out, then the TCP check again."""
    mon: HealthMonitor[str] = HealthMonitor(SystemClock(), concurrency=1)
    mon.add("tcp", [tcp(stalled, timeout=0.3, period=0.05)])
    scripted = ScriptedChecker(tcp(1, period=0.05).spec, [True])  # a task loop
    mon.add("script", [scripted])
    seen: list[int] = []
    task = asyncio.create_task(mon.run())
    try:
        for _ in range(100):
            seen.append(mon._slots.in_flight)
            if scripted.calls >= 2 and mon.views("tcp")[0].runs >= 2:
                break
            await asyncio.sleep(0.02)
        assert scripted.calls >= 2 and mon.views("tcp")[0].runs >= 2
        assert max(seen) == 1
    finally:
        mon.stop()
        await asyncio.wait_for(task, 5)


async def test_slots_hand_turns_in_order_and_take_back_revoked_ones() -> None:
    slots = Slots(1)
    got: list[str] = []
    assert slots.take(lambda: got.append("first"))  # a slot at once: not called
    waiter = asyncio.ensure_future(slots.wait_turn())
    await asyncio.sleep(0)  # queued first
    a, b = (lambda: got.append("a")), (lambda: got.append("b"))
    assert not slots.take(a) and not slots.take(b)
    slots.release()  # to the future, first in line
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert waiter.done() and slots.in_flight == 1
    slots.release()  # handed to a (called from the loop)
    slots.unqueue(a)  # ... which no longer wants it before its call comes
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert got == ["b"] and slots.in_flight == 1  # passed on to b
    slots.release()
    assert slots.in_flight == 0 and not slots.full()


def test_tcp_checks_of_a_second_or_more_start_on_a_10ms_grid() -> None:
    assert check_tick(1.0) == check_tick(60.0) == CHECK_TICK == 0.01
    assert check_tick(0.1) == 0.001


async def test_the_coarser_timers_are_never_early_and_on_their_grid() -> None:
    loop = asyncio.get_running_loop()
    timers = timers_for(loop, CHECK_TICK)
    assert timers_for(loop, CHECK_TICK) is timers and timers_for(loop) is not timers
    fired: list[tuple[float, float]] = []
    done = asyncio.Event()
    t0 = loop.time()
    for off in (0.003, 0.011, 0.02, 0.029):
        timers.call_at(t0 + off, lambda w=t0 + off: fired.append((w, loop.time())))
    timers.call_at(t0 + 0.04, done.set)
    await asyncio.wait_for(done.wait(), 5)
    assert len(fired) == 4
    for when, at in fired:
        assert at >= when - 1e-9  # never early
        grid = -(-when // CHECK_TICK) * CHECK_TICK  # the tick boundary at or after `when`
        assert at >= grid - 1e-6
