"""The forwarder keeps a descriptor reserve for health checks and VRRP: a new VIP client
that would eat into it is closed at once, and the clients already there keep working."""

from __future__ import annotations

import asyncio
import contextlib

from lvstui.dataplane.base import DesiredDest, DesiredService
from lvstui.dataplane.reconcile import reconcile
from lvstui.dataplane.userspace.forwarder import UserspaceDataplane
from lvstui.descriptors import DescriptorReserve, open_descriptors
from lvstui.model import RealKey
from tests.dataplane.test_userspace import Backend, Client, connect, tcp_key


async def test_clients_past_the_reserve_are_closed_not_the_checks() -> None:
    key = tcp_key()
    backend = Backend("A", "127.0.0.2", key.port)
    await backend.start()
    reserve = DescriptorReserve(reserve=16, limit=open_descriptors() + 16 + 24)
    dp = UserspaceDataplane(use_splice=False, reserve=reserve)
    await dp.start()
    clients: list[Client] = []
    refused = 0
    try:
        svc = DesiredService(key, "rr", dests=(DesiredDest(RealKey(backend.host, key.port), 1),))
        await dp.apply(reconcile([svc], await dp.observe()))
        for _ in range(30):  # bounded: each client costs 4 descriptors in this process
            try:
                c = await connect(key.port)
            except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
                refused += 1
                continue
            if c.name:  # the server's name: relayed
                clients.append(c)
            else:  # closed without a word
                refused += 1
                await c.close()
        assert clients, "the first clients are served"
        assert refused > 0 and dp.refused_for_descriptors == refused
        c = clients[0]
        c.w.write(b"still here\n")
        await c.w.drain()
        assert await asyncio.wait_for(c.r.readline(), 5) == b"still here\n"
    finally:
        for c in clients:
            with contextlib.suppress(Exception):
                await c.close()
        await dp.close()
        await backend.stop()
