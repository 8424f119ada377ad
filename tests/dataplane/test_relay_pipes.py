"""The splice relay's pipes: held only while bytes are in flight, pooled within a bound, the
pool shrinking after a burst, and a connection that cannot get a pipe (descriptor limit)
copied instead of failing (issue 10, item 2)."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from lvstui.dataplane.base import DesiredDest, DesiredService
from lvstui.dataplane.reconcile import reconcile
from lvstui.dataplane.userspace import relay
from lvstui.dataplane.userspace.forwarder import UserspaceDataplane
from lvstui.model import RealKey
from tests.dataplane.test_userspace import VIP, Backend, Client, connect, tcp_key


def _pipe_fds() -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                n += 1
        except OSError:
            pass
    return n


def test_pool_is_bounded_and_shrinks_after_a_burst() -> None:
    now = [0.0]
    pool = relay.PipePool(max_idle=8, trim_after=10.0, clock=lambda: now[0])
    try:
        burst = [pool.get() for _ in range(20)]
        assert pool.descriptors == 40
        for p in burst:
            pool.put(p, empty=True)
        assert len(pool.idle) == 8  # the rest were closed at once
        assert pool.in_use == 0
        now[0] = 10.5  # the period of the burst ends: the burst needed them all
        p = pool.get()
        pool.put(p, True)
        assert len(pool.idle) == 8
        # the next period needs at most 2 pipes at once...
        for t in (12.0, 15.0, 18.0):
            now[0] = t
            a, b = pool.get(), pool.get()
            pool.put(a, True)
            pool.put(b, True)
        now[0] = 21.0  # ...so the first call after it closes the 6 that were never taken
        p = pool.get()
        pool.put(p, True)
        assert len(pool.idle) == 2
        now[0] = 32.0  # a quiet period: down to the one pipe the call itself used
        p = pool.get()
        pool.put(p, True)
        assert len(pool.idle) == 1
        # a pipe that still holds bytes is never pooled
        p = pool.get()
        pool.put(p, empty=False)
        assert pool.in_use == 0 and len(pool.idle) <= 1
    finally:
        pool.clear()
    assert pool.descriptors == 0


@pytest.fixture
async def splice_lab() -> AsyncIterator[tuple[UserspaceDataplane, Backend, int]]:
    if not relay.splice_supported():
        pytest.skip("splice between TCP sockets is not available here")
    dp = UserspaceDataplane(inact_linger=60.0, use_splice=True)
    key = tcp_key()
    backend = Backend("A", "127.0.0.2", key.port)
    await backend.start()
    await dp.start()
    svc = DesiredService(key, "rr", dests=(DesiredDest(RealKey(backend.host, key.port), 1),))
    await dp.apply(reconcile([svc], await dp.observe()))
    try:
        yield dp, backend, key.port
    finally:
        await dp.close()
        await backend.stop()


async def test_idle_connections_hold_no_pipe(
    splice_lab: tuple[UserspaceDataplane, Backend, int],
) -> None:
    _, _, port = splice_lab
    relay.pipe_pool().clear()
    before = _pipe_fds()
    clients: list[Client] = []
    try:
        for _ in range(60):  # each one has exchanged bytes both ways, then sits idle
            clients.append(await connect(port))
        assert relay.pipe_pool().in_use == 0
        # at most the pool's idle pipes, whatever the number of connections
        assert _pipe_fds() - before <= 2 * relay.POOL_MAX
        assert _pipe_fds() - before < 2 * len(clients)
        # and they still carry data
        c = clients[7]
        c.w.write(b"ping\n")
        await c.w.drain()
        assert await asyncio.wait_for(c.r.readline(), 5) == b"ping\n"
    finally:
        for c in clients:
            await c.close()


async def test_no_pipe_left_means_copying_not_failing(
    splice_lab: tuple[UserspaceDataplane, Backend, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, port = splice_lab
    relay.pipe_pool().clear()

    def emfile(flags: int = 0) -> tuple[int, int]:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(relay.os, "pipe2", emfile)
    payload = os.urandom(1 << 20)
    r, w = await asyncio.open_connection(VIP, port)
    w.write(b"BULK END\n")
    w.write(payload)
    await w.drain()
    w.write_eof()
    line = await asyncio.wait_for(r.readline(), 20)
    w.close()
    await w.wait_closed()
    name, n, digest = line.decode().split()
    assert (name, int(n), digest) == ("A", len(payload), hashlib.sha256(payload).hexdigest())
