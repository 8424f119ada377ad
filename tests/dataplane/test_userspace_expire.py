"""`UserspaceDataplane.expire_connections`: a drain's timeout ends the connections relayed to
one real server (TCP aborted both ways, UDP flows dropped, lingering InActConn forgotten) and
leaves every other real server's connections alone."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest

from lvstui.config.schema import Protocol
from lvstui.dataplane.base import DesiredDest, DesiredService, ObservedDest
from lvstui.dataplane.reconcile import reconcile
from lvstui.dataplane.userspace.forwarder import UserspaceDataplane
from lvstui.errors import DataplaneError
from lvstui.model import RealKey, ServiceKey
from tests.dataplane.contract import free_port
from tests.dataplane.test_userspace import VIP, Backend, ask, connect, tcp_key, udp_ask, udp_clients
from tests.helpers import async_wait_until


async def dest_of(dp: UserspaceDataplane, key: ServiceKey, real: RealKey) -> ObservedDest:
    svc = next(s for s in await dp.observe() if s.key == key)
    return next(d for d in svc.dests if d.key == real)


@pytest.mark.parametrize("splice", [True, False], ids=["splice", "copy"])
async def test_expire_tcp_aborts_one_real_servers_connections(splice: bool) -> None:
    dp = UserspaceDataplane(inact_linger=60.0, use_splice=splice)
    port = free_port()
    a, b = Backend("A", "127.0.0.2", port), Backend("B", "127.0.0.3", port)
    for x in (a, b):
        await x.start()
    await dp.start()
    clients = []
    try:
        key = tcp_key()
        ra, rb = RealKey(a.host, port), RealKey(b.host, port)
        want = DesiredService(key, "rr", dests=(DesiredDest(ra, 1), DesiredDest(rb, 1)))
        await dp.apply(reconcile([want], []))
        assert {await ask(key.port), await ask(key.port)} == {"A", "B"}  # closed: lingering
        clients = [await connect(key.port) for _ in range(2)]
        on_a = next(c for c in clients if c.name == "A")
        on_b = next(c for c in clients if c.name == "B")
        assert (await dest_of(dp, key, ra)).active_conns == 1
        assert (await dest_of(dp, key, ra)).inact_conns == 1

        with pytest.raises(DataplaneError, match="no such real server"):
            await dp.expire_connections(key, RealKey("127.0.0.9", port))
        with pytest.raises(DataplaneError, match="no such service"):
            await dp.expire_connections(tcp_key(), ra)

        await dp.expire_connections(key, ra)
        # the client on A sees its connection end (reset), the one on B goes on
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(on_a.r.read(), 5) == b""
        on_b.w.write(b"still there\n")
        assert await asyncio.wait_for(on_b.r.readline(), 5) == b"still there\n"
        d = await dest_of(dp, key, ra)
        assert (d.active_conns, d.inact_conns, d.weight) == (0, 0, 1)
        d = await dest_of(dp, key, rb)
        assert (d.active_conns, d.inact_conns) == (1, 1)
        # A's server side was aborted too: its handler ended
        await async_wait_until(lambda: not a.tasks, timeout=5)
        # the real server stays in the table and takes new connections at its weight
        assert {await ask(key.port) for _ in range(2)} == {"A", "B"}
    finally:
        for c in clients:
            await c.close()
        await dp.close()
        for x in (a, b):
            await x.stop()


async def test_expire_udp_drops_the_flows_to_that_real_server() -> None:
    dp = UserspaceDataplane()
    port = free_port()
    a, b = Backend("A", "127.0.0.2", port), Backend("B", "127.0.0.3", port)
    for x in (a, b):
        await x.start(udp=True)
    await dp.start()
    socks: list[socket.socket] = []
    try:
        key = ServiceKey(Protocol.UDP, VIP, free_port())
        ra, rb = RealKey(a.host, port), RealKey(b.host, port)
        want = DesiredService(key, "rr", dests=(DesiredDest(ra, 1), DesiredDest(rb, 1)))
        await dp.apply(reconcile([want], []))
        udp_clients(key.port, 2, socks)
        names = [(await udp_ask(s, b"x")).split()[0] for s in socks]
        assert sorted(names) == [b"A", b"B"]
        s_a = socks[names.index(b"A")]
        # drained, then expired: A's flow is gone, the client's next datagram goes to B
        drained = DesiredService(key, "rr", dests=(DesiredDest(ra, 0), DesiredDest(rb, 1)))
        await dp.apply(reconcile([drained], await dp.observe()))
        assert (await udp_ask(s_a, b"y")).split()[0] == b"A"  # drained: its flow continues
        await dp.expire_connections(key, ra)
        assert (await dest_of(dp, key, ra)).inact_conns == 0
        assert (await dest_of(dp, key, rb)).inact_conns == 1
        assert (await udp_ask(s_a, b"z")).split()[0] == b"B"
        assert (await dest_of(dp, key, rb)).inact_conns == 2
    finally:
        for s in socks:
            s.close()
        await dp.close()
        for x in (a, b):
            await x.stop()
