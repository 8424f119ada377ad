"""A dataplane refusal that lasts (a VIP port another process holds) is retried every
tick but logged once, again when the error changes, as a reminder after 10 s, 60 s and
then every 10 minutes, and with an info line when the dataplane finally accepts."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator

import pytest

from lvstui.clock import FakeClock
from lvstui.config.schema import Config, RealServer, VirtualServer
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.dataplane.userspace.forwarder import UserspaceDataplane
from lvstui.engine.engine import Engine
from lvstui.engine.refusals import reminder_due
from lvstui.errors import DataplaneError
from lvstui.model import ServiceKey
from tests.engine.builders import config
from tests.helpers import async_wait_until

HOST = "127.0.0.1"


@pytest.fixture
def held_port() -> Iterator[socket.socket]:
    """A loopback port another process (this test) listens on."""
    s = socket.socket()
    s.bind((HOST, 0))
    s.listen()
    try:
        yield s
    finally:
        s.close()


def refused(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "lvstui.engine" and r.levelno >= logging.ERROR
    ]


async def step(e: Engine, clock: FakeClock) -> None:
    """One second: the ticker asks for a retry, the reconciler runs it (and is refused)."""
    n = e.apply_errors
    # the ticker must be asleep on the clock first (FakeClock has no public view of it)
    await async_wait_until(lambda: any(t <= clock.now() + 1.0 for t, _ in clock._waiters))
    clock.advance(1.0)
    await async_wait_until(lambda: e.apply_errors > n, timeout=5)


def test_reminder_schedule() -> None:
    assert [reminder_due(i) for i in range(4)] == [10.0, 60.0, 660.0, 1260.0]


async def test_vip_port_in_use_is_logged_once_then_with_backoff(
    held_port: socket.socket, caplog: pytest.LogCaptureFixture
) -> None:
    port = held_port.getsockname()[1]
    vs = VirtualServer(ip=HOST, port=port, lb_algo="rr", real_servers=(RealServer(HOST, 9),))
    clock = FakeClock()
    e = Engine(
        Config(path="<test>", virtual_servers=(vs,)), dataplane=UserspaceDataplane(), clock=clock
    )
    caplog.set_level(logging.INFO, logger="lvstui.engine")
    await e.start()
    try:
        assert e.apply_errors == 1
        (first,) = refused(caplog)
        assert "dataplane refused (start), retrying every tick: " in first and "in use" in first
        for _ in range(9):  # up to 9 s: retried each second, said once
            await step(e, clock)
        assert e.apply_errors == 10 and len(refused(caplog)) == 1
        await step(e, clock)  # 10 s: a reminder
        assert len(refused(caplog)) == 2
        assert "still refuses after 10 s (11 attempts" in refused(caplog)[1]
        for _ in range(49):
            await step(e, clock)
        assert len(refused(caplog)) == 2
        await step(e, clock)  # 60 s: the next reminder
        assert len(refused(caplog)) == 3 and "after 60 s" in refused(caplog)[2]

        # the other process goes away: the next retry binds, said once at info
        held_port.close()
        await async_wait_until(lambda: bool(clock._waiters))
        clock.advance(1.0)
        key = ServiceKey.parse(f"TCP {HOST}:{port}")
        await async_wait_until(lambda: e.snapshot().services[0].key == key and _accepted(caplog))
        assert len(refused(caplog)) == 3
        (ok,) = [m for m in _infos(caplog) if "dataplane accepted" in m]
        assert "after 61 s and 61 refused attempt(s)" in ok and "in use" in ok
        assert key in {s.key for s in await e.dataplane.observe()}
        # the VIP now really listens (ours): a client connects
        _, w = await asyncio.wait_for(asyncio.open_connection(HOST, port), 5)
        w.close()
        await w.wait_closed()
    finally:
        await e.stop()


def _infos(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]


def _accepted(caplog: pytest.LogCaptureFixture) -> bool:
    return any("dataplane accepted" in m for m in _infos(caplog))


class ChangingDataplane(MemoryDataplane):
    """Refuses with whatever `error` says (None: accepts)."""

    def __init__(self) -> None:
        super().__init__()
        self.error: str | None = "first reason"

    async def apply(self, ops):  # type: ignore[no-untyped-def]
        if self.error is not None:
            raise DataplaneError(self.error)
        await super().apply(ops)


async def test_a_new_error_is_logged_at_once(caplog: pytest.LogCaptureFixture) -> None:
    dp = ChangingDataplane()
    clock = FakeClock()
    e = Engine(config(), dataplane=dp, clock=clock)
    caplog.set_level(logging.INFO, logger="lvstui.engine")
    await e.start()
    try:
        await step(e, clock)
        assert [m.count("first reason") for m in refused(caplog)] == [1]
        dp.error = "second reason"
        await step(e, clock)
        await step(e, clock)
        assert len(refused(caplog)) == 2 and "second reason" in refused(caplog)[1]
        dp.error = None
        await async_wait_until(lambda: bool(clock._waiters))
        clock.advance(1.0)
        await async_wait_until(lambda: _accepted(caplog))
        (ok,) = [m for m in _infos(caplog) if "dataplane accepted" in m]
        assert "second reason" in ok
    finally:
        await e.stop()
