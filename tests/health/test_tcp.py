"""TCP_CHECK against real loopback listeners."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from lvstui.config.schema import CheckCommon, RealServer, TcpCheck, VirtualServer
from lvstui.health.base import CheckTarget
from lvstui.health.build import build_checker
from lvstui.health.tcp import tcp_check


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield s
    s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_connect_passes(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    r = await tcp_check(CheckTarget("127.0.0.1", port), 1.0)
    assert r.ok and r.reason == "connected" and r.finished >= r.started


async def test_listener_that_accepts_and_stalls_still_passes(listener: socket.socket) -> None:
    # TCP_CHECK only proves the port accepts: a stalled application is HTTP_GET's job
    port = listener.getsockname()[1]
    for _ in range(3):
        assert (await tcp_check(CheckTarget("127.0.0.1", port), 1.0)).ok


async def test_refused() -> None:
    r = await tcp_check(CheckTarget("127.0.0.1", free_port()), 1.0)
    assert not r.ok and "refused" in r.reason.lower()


async def test_timeout_when_backlog_full() -> None:
    # a listener with a full accept queue drops SYNs: the connect hangs until connect_timeout
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(0)
    port = s.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        t0 = time.monotonic()
        r = await tcp_check(CheckTarget("127.0.0.1", port), 0.3)
        waited_s = time.monotonic() - t0
        assert not r.ok and r.reason == "connect timeout after 0.3s"
        assert 0.25 < waited_s < 2.0  # the 0.3 s connect_timeout is enforced, not a hang
    finally:
        for c in fillers:
            c.close()
        s.close()


async def test_connect_port_and_ip_inherit_and_override(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    vs = VirtualServer("192.0.2.9", 80)
    # default: the real server's address and port
    assert (await build_checker(TcpCheck(), RealServer("127.0.0.1", port), vs).run()).ok
    # connect_port / connect_ip override the real server's (which would refuse)
    real = RealServer("127.0.0.2", free_port())
    check = TcpCheck(CheckCommon(connect_ip="127.0.0.1", connect_port=port, connect_timeout=1))
    assert (await build_checker(check, real, vs).run()).ok


async def test_bindto(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    r = await tcp_check(CheckTarget("127.0.0.1", port, bindto="127.0.0.5"), 1.0)
    assert r.ok
    conn, addr = listener.accept()
    conn.close()
    assert addr[0] == "127.0.0.5"
    bp = free_port()
    r = await tcp_check(CheckTarget("127.0.0.1", port, bindto="127.0.0.6", bind_port=bp), 1.0)
    assert r.ok
    conn, addr = listener.accept()
    conn.close()
    assert addr == ("127.0.0.6", bp)


async def test_ipv6_loopback() -> None:
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    s.listen(4)
    try:
        assert (await tcp_check(CheckTarget("::1", s.getsockname()[1]), 1.0)).ok
    finally:
        s.close()
