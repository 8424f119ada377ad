"""Running out of descriptors is no longer an outage (issue 10, item 2).

A real `lvstui --daemon` on the userspace dataplane, its descriptor limit lowered to
systemd's default (1,024, soft and hard: `resource.prlimit` on the child) after it started:

- 1,100 idle control-socket connections: the daemon keeps at most its caps, refuses the
  rest with a reason, and the health checks keep running: no check fails, no server goes
  down, every request through the VIP is answered;
- 200 idle clients on the VIP (each costs the forwarder two sockets; no pipe while idle):
  the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from lvstui.control.client import SocketClient, connect
from lvstui.model import Event, HealthChanged, Snapshot
from tests.cli.harness import Daemon
from tests.faults.lab import DaemonLab

LIMIT = 1024  # systemd's default soft limit


class Lab(DaemonLab):
    @property
    def sock(self) -> Path:
        assert self.daemon is not None
        return self.daemon.sock

    def output(self) -> str:
        assert self.daemon is not None
        return self.daemon.output()

    def start(self) -> Daemon:
        daemon = self.make(delay_loop=0.25)
        daemon.start()
        assert daemon.proc is not None
        resource.prlimit(daemon.proc.pid, resource.RLIMIT_NOFILE, (LIMIT, LIMIT))
        return daemon


@pytest.fixture
def lab() -> Iterator[Lab]:
    lab = Lab("restart-fd-")
    try:
        lab.start()
        yield lab
    finally:
        lab.close()


@contextlib.contextmanager
def own_limit(n: int) -> Iterator[None]:
    """This test process needs more than 1,100 descriptors for its side of the flood."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < n:
        pytest.skip(f"the test needs {n} descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class Watch:
    """One control client subscribed to events before the flood: every health change."""

    def __init__(self, client: SocketClient) -> None:
        self.client = client
        self.changes: list[HealthChanged] = []
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        stream = self.client.events()
        first = asyncio.ensure_future(anext(stream))
        self.task = asyncio.create_task(self._collect(first, stream))
        await asyncio.sleep(0.2)  # subscribed

    async def _collect(self, first: asyncio.Future[Event], stream: AsyncIterator[Event]) -> None:
        ev = await first
        while True:
            if isinstance(ev, HealthChanged):
                self.changes.append(ev)
            ev = await anext(stream)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await self.client.close()


async def requests_ok(port: int, n: int) -> int:
    ok = 0
    async with httpx.AsyncClient(timeout=5.0) as http:
        for _ in range(n):
            try:
                r = await http.get(f"http://127.0.0.1:{port}/")
            except httpx.TransportError:
                continue
            ok += r.status_code == 200
    return ok


def check_failures(snap: Snapshot) -> tuple[int, int, set[str], int]:
    """(failed runs, runs, the real servers' healths, runs that could not be made)"""
    reals = [r for s in snap.services for r in s.real_servers]
    failures = sum(c.failures for r in reals for c in r.checks)
    runs = sum(c.runs for r in reals for c in r.checks)
    unknown = sum(c.unknown for r in reals for c in r.checks)
    return failures, runs, {r.health.value for r in reals}, unknown


async def _flood_control(lab: Lab) -> None:
    watch = Watch(await connect(lab.sock, timeout=10))
    await watch.start()
    before = check_failures(await watch.client.snapshot())
    held: list[socket.socket] = []
    refused = 0
    try:
        for _ in range(1100):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2.0)
            try:
                s.connect(str(lab.sock))
            except OSError:  # the backlog is full for a moment: counted, not fatal
                s.close()
                refused += 1
                continue
            held.append(s)
            if len(held) % 100 == 0:
                await asyncio.sleep(0)  # let the watcher read its events
        await asyncio.sleep(2.0)  # eight check periods with the flood in place
        served = await requests_ok(lab.vip_port, 40)
    finally:
        for s in held:
            s.close()
    await asyncio.sleep(0.5)
    after = check_failures(await watch.client.snapshot())
    await watch.stop()
    assert served == 40
    assert watch.changes == []
    assert after[0] == before[0] == 0, "a check failed during the flood"
    assert after[1] > before[1], "the checks stopped running"
    assert after[2] == {"up"}
    # the caps and the reserve kept descriptors for the checks: every run could be made
    assert after[3] == 0
    assert "control: refused" in lab.output()


def test_1100_idle_control_connections_take_nothing_down(lab: Lab) -> None:
    with own_limit(4096):
        asyncio.run(_flood_control(lab))


async def _flood_vip(lab: Lab) -> None:
    watch = Watch(await connect(lab.sock, timeout=10))
    await watch.start()
    before = check_failures(await watch.client.snapshot())
    held: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        for _ in range(200):
            held.append(await asyncio.open_connection("127.0.0.1", lab.vip_port))
        await asyncio.sleep(2.0)
        served = await requests_ok(lab.vip_port, 40)
    finally:
        for _, w in held:
            w.close()
    await asyncio.sleep(0.5)
    after = check_failures(await watch.client.snapshot())
    await watch.stop()
    assert served == 40
    assert watch.changes == []
    assert after[0] == before[0] == 0
    assert after[1] > before[1] and after[2] == {"up"}


def test_200_idle_vip_clients_take_nothing_down(lab: Lab) -> None:
    with own_limit(4096):
        asyncio.run(_flood_vip(lab))
