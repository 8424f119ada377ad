"""Slow start: the pure ramp, and the engine stepping a returning server's weight in the
dataplane (check up, undrain, ctl add), never at start."""

from __future__ import annotations

import asyncio

import pytest

from lvstui.clock import FakeClock
from lvstui.config.schema import Config, RealServer, TcpCheck, VirtualServer
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.engine.slowstart import ramp_weight
from lvstui.model import AddReal, Drain, Health, RealKey, Undrain
from tests.engine.builders import SK, VIP, R


@pytest.mark.parametrize(
    ("weight", "duration", "at", "want"),
    [
        (10, 10.0, 0.0, (1, True)),  # step 1 of 10: 1
        (10, 10.0, 4.5, (5, True)),
        (10, 10.0, 9.9, (10, True)),
        (10, 10.0, 10.0, (10, False)),  # done
        (100, 60.0, 0.0, (5, True)),  # 20 steps of 3 s: 5, 10, ...
        (100, 60.0, 3.0, (10, True)),
        (3, 10.0, 0.0, (1, True)),  # never below 1 while ramping
        (1, 10.0, 0.0, (1, False)),  # nothing to ramp
        (10, 0.0, 0.0, (10, False)),  # slow start off
    ],
)
def test_ramp_steps(weight: int, duration: float, at: float, want: tuple[int, bool]) -> None:
    assert ramp_weight(weight, 100.0, 100.0 + at, duration) == want


def _config(slow_start: float = 10.0) -> Config:
    reals = (
        RealServer(R[0].addr, 80, weight=10, checks=(TcpCheck(),)),
        RealServer(R[1].addr, 80, weight=10, checks=(TcpCheck(),), slow_start=0.0),
    )
    vs = VirtualServer(VIP, 80, lb_algo="wrr", slow_start=slow_start, real_servers=reals)
    return Config(path="/nonexistent/config.toml", virtual_servers=(vs,))


async def _weights(dp: MemoryDataplane) -> dict[RealKey, int]:
    return {d.key: d.weight for s in await dp.observe() for d in s.dests}


async def _steps(e: Engine, clock: FakeClock, dp: MemoryDataplane, n: int) -> list[int]:
    """R[0]'s dataplane weight after each of n one-second ticks."""
    out = []
    for _ in range(n):
        clock.advance(1.0)
        await e.tick()
        for _ in range(20):  # the reconciler runs on the next loop turns
            await asyncio.sleep(0)
        out.append((await _weights(dp)).get(R[0], -1))
    return out


async def test_engine_ramps_a_server_back_in_service_step_by_step() -> None:
    clock = FakeClock()
    dp = MemoryDataplane()
    e = Engine(_config(), dataplane=dp, clock=clock)
    await e.start()
    try:
        assert await _weights(dp) == {R[0]: 10, R[1]: 10}  # at start: no ramp
        e.set_health(SK, R[0], Health.DOWN)
        e.set_health(SK, R[1], Health.DOWN)
        await _steps(e, clock, dp, 1)
        assert await _weights(dp) == {}
        e.set_health(SK, R[0], Health.UP)
        e.set_health(SK, R[1], Health.UP)  # its own slow_start = 0: at once
        for _ in range(20):
            await asyncio.sleep(0)
        assert await _weights(dp) == {R[0]: 1, R[1]: 10}
        view = {r.key: r for r in e.snapshot().services[0].real_servers}
        assert view[R[0]].weight == 1 and view[R[0]].ramp_until is not None
        assert view[R[1]].ramp_until is None
        assert await _steps(e, clock, dp, 10) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 10]
        assert e.snapshot().services[0].real_servers[0].ramp_until is None
        # undrain is a return to service too
        await e.call(Drain(SK, R[0]))
        assert (await _weights(dp))[R[0]] == 0
        await e.call(Undrain(SK, R[0]))
        assert (await _weights(dp))[R[0]] == 1
        assert await _steps(e, clock, dp, 3) == [2, 3, 4]
        # and so is a server added at run time (the service's slow_start)
        new = RealKey("192.0.2.77", 80)
        res = await e.call(AddReal(SK, new, 10))
        assert res.ok, res.message
        assert (await _weights(dp))[new] == 1
    finally:
        await e.stop()
