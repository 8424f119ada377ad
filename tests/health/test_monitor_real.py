"""HealthMonitor on the real clock with real TCP and MISC checks on loopback: a server that
goes away is reported DOWN, comes back UP; only transitions are reported."""

from __future__ import annotations

import asyncio
import socket

from lvstui.clock import SystemClock
from lvstui.config.schema import (
    CheckCommon,
    MiscCheck,
    RealServer,
    TcpCheck,
    VirtualServer,
)
from lvstui.health.build import build_checkers
from lvstui.health.scheduler import HealthMonitor
from lvstui.model import Health
from tests.helpers import async_wait_until


def listen(port: int = 0) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    return s


async def test_tcp_server_down_and_back() -> None:
    lsock = listen()
    port = lsock.getsockname()[1]
    common = CheckCommon(connect_timeout=0.5, retry=1, delay_before_retry=0.05, warmup=0.0)
    real = RealServer("127.0.0.1", port, checks=(TcpCheck(common),))
    vs = VirtualServer("192.0.2.9", 80, delay_loop=0.1, alpha=True, real_servers=(real,))
    changes: list[tuple[Health, int | None]] = []
    mon: HealthMonitor[str] = HealthMonitor(
        SystemClock(), on_change=lambda k, h, w, why: changes.append((h, w))
    )
    mon.add("rs", build_checkers(real, vs), alpha=vs.alpha)
    assert mon.health("rs") is Health.DOWN  # alpha: down until proven up
    task = asyncio.create_task(mon.run())
    try:
        await async_wait_until(lambda: mon.health("rs") is Health.UP, timeout=5)
        lsock.close()
        await async_wait_until(lambda: mon.health("rs") is Health.DOWN, timeout=5)
        (view,) = mon.views("rs")
        assert view.kind == "tcp_check" and view.last_ok is False
        assert "refused" in view.last_reason and view.failures >= 2  # retry 1: two attempts
        lsock = listen(port)
        await async_wait_until(lambda: mon.health("rs") is Health.UP, timeout=5)
        runs = mon.views("rs")[0].runs
        await async_wait_until(lambda: mon.views("rs")[0].runs >= runs + 3, timeout=5)
    finally:
        mon.stop()
        await asyncio.wait_for(task, 5)
        lsock.close()
    assert changes == [(Health.UP, None), (Health.DOWN, None), (Health.UP, None)]


async def test_misc_dynamic_weight_reaches_the_callback() -> None:
    real = RealServer(
        "127.0.0.1",
        80,
        checks=(MiscCheck("sh -c 'exit 10'", misc_dynamic=True, common=CheckCommon(warmup=0)),),
    )
    vs = VirtualServer("192.0.2.9", 80, delay_loop=0.1)
    got: list[tuple[Health, int | None]] = []
    mon: HealthMonitor[str] = HealthMonitor(
        SystemClock(), on_change=lambda k, h, w, why: got.append((h, w))
    )
    mon.add("rs", build_checkers(real, vs))
    task = asyncio.create_task(mon.run())
    try:
        await async_wait_until(lambda: bool(got), timeout=5)
    finally:
        mon.stop()
        await asyncio.wait_for(task, 5)
    assert got == [(Health.UP, 8)] and mon.dynamic_weight("rs") == 8


async def test_tune_gc_freezes_once_the_loops_run() -> None:
    import gc

    from lvstui.config.schema import CheckKind
    from lvstui.health.base import CheckSpec, CheckTarget, ScriptedChecker

    threshold = gc.get_threshold()
    spec = CheckSpec(
        CheckKind.TCP_CHECK, CheckTarget("127.0.0.1", 1), 0.05, 1.0, 0, 1.0, 0.0, 1, 1, TcpCheck()
    )
    ck = ScriptedChecker(spec)
    mon: HealthMonitor[str] = HealthMonitor(SystemClock(), tune_gc=True)
    mon.add("rs", [ck])
    task = asyncio.create_task(mon.run())
    try:
        await async_wait_until(lambda: ck.calls >= 3, timeout=5)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] >= 20_000
    finally:
        mon.stop()
        await asyncio.wait_for(task, 5)
        gc.unfreeze()  # process-wide: give the other tests their collector back
        gc.set_threshold(*threshold)
