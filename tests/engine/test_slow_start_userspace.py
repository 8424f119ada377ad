"""Slow start through the userspace forwarder: a server back in service gets a growing share
of new connections, step by step (FakeClock: the engine's ticks step the ramp)."""

from __future__ import annotations

import asyncio
from collections import Counter

from lvstui.clock import FakeClock
from lvstui.config.schema import Config, RealServer, TcpCheck, VirtualServer
from lvstui.dataplane.userspace.forwarder import UserspaceDataplane
from lvstui.engine.engine import Engine
from lvstui.model import Health, RealKey, ServiceKey
from tests.engine.test_e2e_userspace import HOST, Backend, free_port, get

ROUNDS = 60  # new connections per step: wrr serves them in weight proportion


async def _share(port: int) -> Counter[str]:
    got: Counter[str] = Counter()
    for _ in range(ROUNDS):
        got[await get(port)] += 1
    return got


async def test_returning_server_share_of_new_connections_steps_up() -> None:
    old, cold = Backend("old"), Backend("cold")
    for b in (old, cold):
        await b.start()
    vport = free_port()
    check = (TcpCheck(),)
    vs = VirtualServer(
        ip=HOST,
        port=vport,
        lb_algo="wrr",
        slow_start=4.0,  # 4 steps of 1 s: weights 5, 10, 15, 20
        real_servers=(
            RealServer(HOST, old.port, weight=20, checks=check),
            RealServer(HOST, cold.port, weight=20, checks=check),
        ),
    )
    clock = FakeClock()
    cfg = Config(path="<test>", virtual_servers=(vs,))
    e = Engine(cfg, dataplane=UserspaceDataplane(), clock=clock)
    sk = ServiceKey.parse(f"TCP {HOST}:{vport}")
    cold_key = RealKey(HOST, cold.port)
    await e.start()
    try:
        e.set_health(sk, cold_key, Health.DOWN)
        for _ in range(20):
            await asyncio.sleep(0)
        assert (await _share(vport))["cold"] == 0
        e.set_health(sk, cold_key, Health.UP)  # back: the ramp starts at 5 of 20
        shares = []
        for _step in range(4):
            for _ in range(20):
                await asyncio.sleep(0)
            shares.append((await _share(vport))["cold"] / ROUNDS)
            clock.advance(1.0)
            await e.tick()
        for _ in range(20):
            await asyncio.sleep(0)
        assert e.snapshot().services[0].real_servers[1].ramp_until is None  # done
        # weights 5:20, 10:20, 15:20, 20:20 → shares 0.2, 0.33, 0.43, 0.5 of new connections
        print("cold server share of new connections per step:", shares)
        assert shares == sorted(shares) and shares[0] < 0.3 and shares[-1] >= 0.45, shares
    finally:
        await e.stop()
        for b in (old, cold):
            await b.stop()
