"""End to end on the host: the engine, the userspace dataplane, the real HealthMonitor.

Real HTTP servers on loopback, traffic through a loopback VIP; a server killed leaves the
rotation (within delay_loop + connect_timeout) and comes back after it recovers; the sorry
server serves when every server is down; reloads (good and broken) lose no request.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from lvstui.clock import SystemClock
from lvstui.config.schema import (
    CheckCommon,
    Config,
    RealServer,
    SorryServer,
    TcpCheck,
    VirtualServer,
)
from lvstui.dataplane.userspace.forwarder import UserspaceDataplane
from lvstui.engine.engine import Engine
from lvstui.errors import ConfigError
from lvstui.health.scheduler import HealthMonitor
from lvstui.model import RealKey, Reload, ServiceKey
from tests.helpers import async_wait_until

HOST = "127.0.0.1"
CHECK = TcpCheck(CheckCommon(connect_timeout=0.5, retry=0, warmup=0.0, delay_loop=0.2))


class Backend:
    """A tiny HTTP server answering its own name; can be killed and restarted on its port."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, HOST, self.port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            await r.readuntil(b"\r\n\r\n")
            body = self.name.encode()
            w.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            w.close()
            with contextlib.suppress(ConnectionError):
                await w.wait_closed()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


async def get(port: int) -> str:
    r, w = await asyncio.wait_for(asyncio.open_connection(HOST, port), 5)
    try:
        w.write(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n")
        await w.drain()
        data = await asyncio.wait_for(r.read(), 5)
    finally:
        w.close()
        with contextlib.suppress(ConnectionError):
            await w.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.0 200"):
        raise ConnectionError(f"bad answer {data[:40]!r}")
    return body.decode()


@pytest.fixture
async def lab() -> AsyncIterator[tuple[Engine, list[Backend], Backend, int, Config]]:
    backends = [Backend(n) for n in ("a", "b", "c")]
    sorry = Backend("sorry")
    for b in [*backends, sorry]:
        await b.start()
    vport = free_port()
    vs = VirtualServer(
        ip=HOST,
        port=vport,
        lb_algo="rr",
        delay_loop=0.2,
        sorry_server=SorryServer(HOST, sorry.port),
        real_servers=tuple(RealServer(HOST, b.port, checks=(CHECK,)) for b in backends),
    )
    cfg = Config(path="<test>", virtual_servers=(vs,))
    clock = SystemClock()

    def broken(path: str) -> Config:
        raise ConfigError("virtual_server[0].ip: 'not an address' is not an IP", file=path)

    e = Engine(
        cfg,
        dataplane=UserspaceDataplane(),
        clock=clock,
        health=HealthMonitor(clock),
        config_loader=broken,  # reloads from the file fail; a given config still applies
    )
    await e.start()
    try:
        yield e, backends, sorry, vport, cfg
    finally:
        await e.stop()
        for b in [*backends, sorry]:
            await b.stop()


async def spread(port: int, n: int) -> Counter[str]:
    return Counter([await get(port) for _ in range(n)])


async def test_failover_recovery_sorry_and_reloads(lab) -> None:  # type: ignore[no-untyped-def]
    e, backends, sorry, vport, cfg = lab
    a = backends[0]
    sk = ServiceKey.parse(f"TCP {HOST}:{vport}")
    assert set(await spread(vport, 9)) == {"a", "b", "c"}

    def in_rotation() -> set[str]:
        snap = e.published_snapshot()
        by_port = {x.port: x.name for x in [*backends, sorry]}
        return {by_port[r.key.port] for r in snap.services[0].real_servers if r.weight > 0}

    # a server dies: out of rotation after its check fails, traffic avoids it
    await a.stop()
    await async_wait_until(lambda: in_rotation() == {"b", "c"}, timeout=5)
    assert set(await spread(vport, 8)) == {"b", "c"}
    # it recovers on the same port: back in rotation
    await a.start()
    await async_wait_until(lambda: in_rotation() == {"a", "b", "c"}, timeout=5)
    assert set(await spread(vport, 9)) == {"a", "b", "c"}

    # reloads while a client keeps sending: zero failed requests
    failures: list[BaseException] = []
    answered = 0
    stop = asyncio.Event()

    async def client() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                await get(vport)
                answered += 1
            except (TimeoutError, OSError) as exc:
                failures.append(exc)

    task = asyncio.create_task(client())
    await async_wait_until(lambda: answered >= 20)
    vs = cfg.virtual_servers[0]
    heavier = replace(
        cfg,
        virtual_servers=(
            replace(
                vs, lb_algo="wrr", real_servers=tuple(replace(r, weight=3) for r in vs.real_servers)
            ),
        ),
    )
    res = await e.reload(heavier)
    assert res.ok and "lb_algo rr → wrr" in res.detail
    mark = answered
    await async_wait_until(lambda: answered >= mark + 20)

    res = await e.call(Reload())  # the file now reads as broken (the engine's loader below)
    assert not res.ok and "not an IP" in res.message
    mark = answered
    await async_wait_until(lambda: answered >= mark + 20)
    stop.set()
    await task
    assert failures == [] and answered >= 60
    assert e.config is heavier

    # every real server down: the sorry server answers
    for x in backends:
        await x.stop()
    await async_wait_until(lambda: e.published_snapshot().services[0].sorry_active, timeout=5)
    assert set(await spread(vport, 3)) == {"sorry"}
    view = e.published_snapshot().services[0]
    assert not view.quorum_up and view.live_weight == 0
    dests = {d.key for s in await e.dataplane.observe() for d in s.dests}
    assert dests == {RealKey(HOST, sorry.port)}
    assert sk == view.key
