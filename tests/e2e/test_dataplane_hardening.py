"""What an operator's mistyped `add` (straight from the control socket) must not do to the
dataplane: the userspace forwarder refuses a real server that is no address or no port, and
the ipvsadm-style listing never crashes over one odd entry (a bad address, mixed families)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable

import pytest

from lvstui.config.schema import LbKind, Protocol
from lvstui.dataplane.base import (
    AddDest,
    AddService,
    DesiredDest,
    DesiredService,
    ObservedDest,
    ObservedService,
)
from lvstui.dataplane.listing import render
from lvstui.dataplane.userspace.forwarder import UserspaceDataplane
from lvstui.errors import DataplaneError
from lvstui.model import RealKey, ServiceKey
from tests.helpers import async_wait_until


def _unchecked(addr: str, port: int) -> RealKey:
    """A RealKey that skips any validation the model does (the dataplane is the last line:
    it must hold even if something upstream lets a bad key through)."""
    key = object.__new__(RealKey)
    object.__setattr__(key, "addr", addr)
    object.__setattr__(key, "port", port)
    return key


@pytest.mark.parametrize(
    ("addr", "port", "message"),
    [
        ("999.1.1.1", 80, "'999.1.1.1' is not an IP address"),
        ("web1", 80, "'web1' is not an IP address"),
        ("127.0.0.1", 70000, "port 70000 is not in 0-65535"),
        ("127.0.0.1", -1, "port -1 is not in 0-65535"),
    ],
)
def test_userspace_refuses_a_real_server_that_cannot_be(addr: str, port: int, message: str) -> None:
    async def main() -> None:
        dp = UserspaceDataplane()
        await dp.start()
        try:
            svc = ServiceKey(Protocol.TCP, "127.0.0.1", _free_port())
            await dp.apply([AddService(DesiredService(svc, "rr"))])
            good = DesiredDest(RealKey("127.0.0.1", 9), 1)
            await dp.apply([AddDest(svc, good)])
            with pytest.raises(DataplaneError) as exc:
                await dp.apply([AddDest(svc, DesiredDest(_unchecked(addr, port), 1))])
            assert exc.value.message.endswith(message), exc.value.message
            assert exc.value.message.count("add real") == 1  # said once, not twice
            (observed,) = await dp.observe()
            assert [d.key for d in observed.dests] == [good.key]  # nothing half-added
        finally:
            await dp.close()

    asyncio.run(main())


def test_listing_survives_odd_entries() -> None:
    svc = ServiceKey(Protocol.TCP, "127.0.0.1", 8080)
    dests = tuple(
        ObservedDest(_unchecked(a, p), 1, LbKind.NAT)
        for a, p in [("127.0.0.2", 80), ("::1", 80), ("999.1.1.1", 80), ("127.0.0.1", 80)]
    )
    text = render([ObservedService(svc, "rr", dests=dests)])
    lines = [ln.split()[1] for ln in text.splitlines() if ln.startswith("  ->")][1:]
    # compared as the kernel's zero-padded nf_inet_addr words: the bad address as 0.0.0.0,
    # ::1 (0,0,0,1) before 127.0.0.1 (0x7f000001,0,0,0)
    assert lines == ["999.1.1.1:80", "[::1]:80", "127.0.0.1:80", "127.0.0.2:80"], lines


def test_a_half_closed_connection_to_a_silent_server_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real server that never reads nor closes: once the client has closed its side, the
    forwarder gives the connection HALF_CLOSE_TIMEOUT (the kernel's 120 s FIN_WAIT), then
    ends it, so the ActiveConn goes away and the server's socket sees the end."""
    from lvstui.dataplane.userspace import relay

    monkeypatch.setattr(relay, "HALF_CLOSE_TIMEOUT", 0.3)

    async def main() -> None:
        held: list[socket.socket] = []
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        silent.setblocking(False)
        loop = asyncio.get_running_loop()
        dp = UserspaceDataplane()
        await dp.start()
        try:
            svc = ServiceKey(Protocol.TCP, "127.0.0.1", _free_port())
            real = RealKey("127.0.0.1", silent.getsockname()[1])
            await dp.apply(
                [AddService(DesiredService(svc, "rr")), AddDest(svc, DesiredDest(real, 1))]
            )
            client = socket.create_connection(("127.0.0.1", svc.port), timeout=5)
            client.sendall(b"GET / HTTP/1.0\r\n\r\n")
            conn, _ = await asyncio.wait_for(loop.sock_accept(silent), 5)
            held.append(conn)
            client.shutdown(socket.SHUT_WR)  # the client is done; the server says nothing

            async def active() -> int:
                (o,) = await dp.observe()
                return o.dests[0].active_conns

            assert await active() == 1
            await async_wait_until(lambda: _is_zero(active()), timeout=5)
            conn.setblocking(False)
            data = await asyncio.wait_for(loop.sock_recv(conn, 100), 5)
            assert data.startswith(b"GET /")  # the request got through; then the end:
            with contextlib.suppress(ConnectionResetError):
                assert await asyncio.wait_for(loop.sock_recv(conn, 100), 5) == b""
            client.close()
        finally:
            await dp.close()
            for s in [silent, *held]:
                s.close()

    asyncio.run(main())


async def _is_zero(value: Awaitable[int]) -> bool:
    return await value == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_userspace_refuses_an_all_ports_service() -> None:
    """Binding port 0 would listen on some random port: refused, with the reason."""
    from lvstui.errors import UnsupportedError

    async def main() -> None:
        dp = UserspaceDataplane()
        await dp.start()
        try:
            svc = ServiceKey(Protocol.TCP, "127.0.0.1", 0)
            with pytest.raises(UnsupportedError, match="all-ports"):
                await dp.apply([AddService(DesiredService(svc, "rr", persistence_timeout=60))])
            assert await dp.observe() == []
        finally:
            await dp.close()

    asyncio.run(main())
