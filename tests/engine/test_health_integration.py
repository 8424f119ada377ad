"""The engine with the real HealthMonitor and TCP checks against real loopback servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from lvstui.clock import SystemClock
from lvstui.config.schema import CheckCommon, Config, RealServer, TcpCheck, VirtualServer
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.health.scheduler import HealthMonitor
from lvstui.model import Health, RealKey, ServiceKey
from tests.helpers import async_wait_until

Server = Callable[[int], Awaitable[asyncio.Server]]


@pytest.fixture
async def servers() -> AsyncIterator[Server]:
    made: list[asyncio.Server] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()
        await writer.wait_closed()

    async def start(port: int = 0) -> asyncio.Server:
        srv = await asyncio.start_server(handle, "127.0.0.1", port, reuse_address=True)
        made.append(srv)
        return srv

    yield start
    for s in made:
        s.close()
        await s.wait_closed()


async def test_dead_server_leaves_rotation_and_comes_back(servers: Server) -> None:
    a, b = await servers(0), await servers(0)
    pa, pb = (s.sockets[0].getsockname()[1] for s in (a, b))
    check = TcpCheck(CheckCommon(connect_timeout=0.5, retry=0, warmup=0.0, delay_loop=0.2))
    vs = VirtualServer(
        ip="127.0.0.1",
        port=18080,
        lb_algo="rr",
        delay_loop=0.2,
        real_servers=(
            RealServer("127.0.0.1", pa, checks=(check,)),
            RealServer("127.0.0.1", pb, checks=(check,)),
        ),
    )
    clock = SystemClock()
    dp = MemoryDataplane()
    e = Engine(
        Config(virtual_servers=(vs,)), dataplane=dp, clock=clock, health=HealthMonitor(clock)
    )
    await e.start()
    sk = ServiceKey.parse("TCP 127.0.0.1:18080")
    ra, rb = RealKey("127.0.0.1", pa), RealKey("127.0.0.1", pb)

    async def dests() -> set[RealKey]:
        return {d.key for s in await dp.observe() for d in s.dests}

    try:
        assert await dests() == {ra, rb}
        await async_wait_until(
            lambda: all(c.runs > 0 for r in e.snapshot().services[0].real_servers for c in r.checks)
        )
        a.close()
        await a.wait_closed()
        await async_wait_until(dests_is(dests, {rb}), timeout=5)
        view = {r.key: r for r in e.snapshot().services[0].real_servers}
        assert view[ra].health is Health.DOWN and view[ra].checks[0].last_ok is False
        await servers(pa)  # the server recovers on the same port
        await async_wait_until(dests_is(dests, {ra, rb}), timeout=5)
        assert e.snapshot().services[0].real_servers[0].health is Health.UP
        assert sk in {s.key for s in await dp.observe()}
    finally:
        await e.stop()


def dests_is(
    dests: Callable[[], Awaitable[set[RealKey]]], want: set[RealKey]
) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await dests() == want

    return check


async def test_misc_dynamic_weight_reaches_the_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sys

    from lvstui.config.schema import MiscCheck

    code = tmp_path / "code"
    code.write_text("7")  # exit 7: alive with weight 5
    script = tmp_path / "check.py"
    script.write_text(f"import sys\nsys.exit(int(open({str(code)!r}).read()))\n")
    check = MiscCheck(
        f"{sys.executable} {script}",
        misc_timeout=2.0,
        misc_dynamic=True,
        common=CheckCommon(retry=0, warmup=0.0, delay_loop=0.2),
    )
    vs = VirtualServer(
        ip="127.0.0.1",
        port=18081,
        lb_algo="wrr",
        real_servers=(RealServer("127.0.0.1", 9, weight=1, checks=(check,)),),
    )
    clock = SystemClock()
    dp = MemoryDataplane()
    e = Engine(
        Config(virtual_servers=(vs,)), dataplane=dp, clock=clock, health=HealthMonitor(clock)
    )
    await e.start()

    async def weight() -> int | None:
        dests = [d for s in await dp.observe() for d in s.dests]
        return dests[0].weight if dests else None

    def weight_is(w: int | None):  # type: ignore[no-untyped-def]
        async def check() -> bool:
            return await weight() == w

        return check

    try:
        await async_wait_until(weight_is(5), timeout=10)
        code.write_text("12")  # weight 10
        await async_wait_until(weight_is(10), timeout=10)
        code.write_text("1")  # dead: out of the table
        await async_wait_until(weight_is(None), timeout=10)
        assert e.snapshot().services[0].real_servers[0].health is Health.DOWN
    finally:
        await e.stop()
