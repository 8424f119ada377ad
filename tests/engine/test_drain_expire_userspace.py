"""A drain's timeout on the userspace dataplane, end to end: the engine, the forwarder, real
servers on loopback and an open client connection. The remaining connection is aborted
(both sides), the drain says EXPIRED, no new connection goes there, undrain brings it back.
Also: the same on the in-memory dataplane when it offers `expire_connections`."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest

from lvstui.clock import FakeClock, SystemClock
from lvstui.config.schema import Config, RealServer, VirtualServer
from lvstui.dataplane.base import DelDest
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.dataplane.userspace.forwarder import UserspaceDataplane
from lvstui.engine.engine import Engine
from lvstui.errors import DataplaneError
from lvstui.model import Drain, DrainState, RealKey, ServiceKey, Undrain
from tests.engine.builders import SK, R, config
from tests.helpers import async_wait_until

HOST = "127.0.0.1"


class NameServer:
    """Says its name on connect, then echoes; records how its connections ended."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ends: list[str] = []  # "eof" or "reset", one per finished connection
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, HOST, 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        end = "eof"
        try:
            w.write(self.name.encode() + b"\n")
            await w.drain()
            while data := await r.read(4096):
                w.write(data)
                await w.drain()
        except ConnectionError:
            end = "reset"
        finally:
            self.ends.append(end)
            w.close()
            with contextlib.suppress(ConnectionError):
                await w.wait_closed()


async def connect(port: int) -> tuple[str, asyncio.StreamReader, asyncio.StreamWriter]:
    r, w = await asyncio.wait_for(asyncio.open_connection(HOST, port), 5)
    name = (await asyncio.wait_for(r.readline(), 5)).decode().strip()
    return name, r, w


async def close(w: asyncio.StreamWriter) -> None:
    w.close()
    with contextlib.suppress(ConnectionError):
        await w.wait_closed()


async def names(port: int, n: int) -> list[str]:
    out = []
    for _ in range(n):
        name, _, w = await connect(port)
        out.append(name)
        await close(w)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def lab() -> AsyncIterator[tuple[Engine, dict[str, NameServer], ServiceKey]]:
    servers = {n: NameServer(n) for n in ("a", "b")}
    for s in servers.values():
        await s.start()
    vport = free_port()
    vs = VirtualServer(
        ip=HOST,
        port=vport,
        lb_algo="rr",
        real_servers=tuple(RealServer(HOST, s.port) for s in servers.values()),
    )
    e = Engine(
        Config(path="<test>", virtual_servers=(vs,)),
        dataplane=UserspaceDataplane(),
        clock=SystemClock(),
        tick=0.05,
    )
    await e.start()
    try:
        yield e, servers, ServiceKey.parse(f"TCP {HOST}:{vport}")
    finally:
        await e.stop()
        for s in servers.values():
            await s.stop()


async def test_drain_timeout_expires_userspace_connections(lab) -> None:  # type: ignore[no-untyped-def]
    e, servers, sk = lab
    a = RealKey(HOST, servers["a"].port)
    # an open client connection on "a" (rr: one of the first two)
    opened = [await connect(sk.port) for _ in range(2)]
    (_, r, w) = next(c for c in opened if c[0] == "a")
    for name, _, other in opened:
        if name != "a":
            await close(other)
    w.write(b"ping\n")
    assert await asyncio.wait_for(r.readline(), 5) == b"ping\n"

    def view():  # type: ignore[no-untyped-def]
        return next(x for x in e.snapshot().services[0].real_servers if x.key == a)

    await async_wait_until(lambda: view().active_conns == 1, timeout=5)

    res = await e.call(Drain(sk, a, timeout=0.3))
    assert res.ok, res
    await async_wait_until(lambda: view().drain is DrainState.DRAINING, timeout=5)
    # still open while the timeout runs
    w.write(b"still\n")
    assert await asyncio.wait_for(r.readline(), 5) == b"still\n"

    await async_wait_until(lambda: view().drain is DrainState.EXPIRED, timeout=5)
    # the client's side was reset, the real server's side too
    with contextlib.suppress(ConnectionError):
        assert await asyncio.wait_for(r.read(), 5) == b""
    await close(w)
    await async_wait_until(lambda: servers["a"].ends == ["reset"], timeout=5)
    # gone from the counters at once (an expired connection does not linger in InActConn)
    await async_wait_until(lambda: (view().active_conns, view().inact_conns) == (0, 0), timeout=5)
    assert view().weight == 0 and view().in_table
    # no new connection goes there; it stays expired
    assert set(await names(sk.port, 4)) == {"b"}
    assert view().drain is DrainState.EXPIRED

    # undrain: back in rotation
    assert (await e.call(Undrain(sk, a))).ok
    assert view().drain is DrainState.NONE
    assert set(await names(sk.port, 4)) == {"a", "b"}


async def test_drain_timeout_on_memory_with_expire(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dp = MemoryDataplane(expire=True)
    clock = FakeClock()
    e = Engine(config(), dataplane=dp, clock=clock)
    await e.start()
    try:
        dp.set_counters(SK, R[1], active=5, inactive=2)
        assert (await e.call(Drain(SK, R[1], timeout=10))).ok
        await e.tick()
        clock.advance(11)
        n = len(dp.ops)
        await e.tick()
        view = e.snapshot().services[0].real_servers[1]
        assert view.drain is DrainState.EXPIRED
        assert dp.expired == [(SK, R[1])]
        # the destination stays (weight 0), no DelDest: the dataplane ended the connections
        assert not any(isinstance(op, DelDest) for op in dp.ops[n:])
        (svc,) = await dp.observe()
        d = next(d for d in svc.dests if d.key == R[1])
        assert (d.weight, d.active_conns, d.inact_conns) == (0, 0, 0)
        assert (await e.call(Undrain(SK, R[1]))).ok
        (svc,) = await dp.observe()
        assert next(d for d in svc.dests if d.key == R[1]).weight == 2
    finally:
        await e.stop()
    # without the capability it says so, and refuses
    plain = MemoryDataplane()
    assert not plain.capabilities.expire_connections
    with pytest.raises(DataplaneError, match="not offered"):
        await plain.expire_connections(SK, R[1])
