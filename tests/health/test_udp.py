"""UDP_CHECK on loopback: an echo server, a closed port, a silent one; keepalived's hex."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import cast

import pytest

from lvstui.config.hexstr import parse_hex
from lvstui.config.schema import CheckCommon, RealServer, UdpCheck, VirtualServer
from lvstui.errors import ConfigError
from lvstui.health.build import build_checker
from lvstui.health.udp import reply_matches


class _Echo(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.seen: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop's is no subclass

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.seen.append(data)
        assert self.transport is not None
        self.transport.sendto(b"PONG" + data, addr)


@pytest.fixture
async def echo() -> AsyncIterator[tuple[int, _Echo]]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_Echo, local_addr=("127.0.0.1", 0))
    try:
        yield transport.get_extra_info("sockname")[1], proto
    finally:
        transport.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(port: int, timeout: float = 0.5, **kw: object) -> object:
    check = UdpCheck(common=CheckCommon(connect_timeout=timeout), **kw)  # type: ignore[arg-type]
    return build_checker(check, RealServer("127.0.0.1", port), VirtualServer("192.0.2.1", port))


async def test_echo_server_passes_with_payload_and_reply(echo: tuple[int, _Echo]) -> None:
    port, proto = echo
    c = _run(
        port,
        payload=b"\x01\x02",
        require_reply=True,
        reply=parse_hex("50 4f 4e 47 0x", wildcard=True),
    )
    r = await c.run()  # type: ignore[attr-defined]
    assert r.ok, r.reason
    assert proto.seen == [b"\x01\x02"]


async def test_reply_that_does_not_match_is_down(echo: tuple[int, _Echo]) -> None:
    port, _ = echo
    r = await _run(port, require_reply=True, reply="FFFF").run()  # type: ignore[attr-defined]
    assert not r.ok and "does not match" in r.reason


async def test_reply_length_outside_bounds_is_down(echo: tuple[int, _Echo]) -> None:
    port, _ = echo
    c = _run(port, payload=b"x" * 10, require_reply=True, max_reply_length=8)
    r = await c.run()  # type: ignore[attr-defined]
    assert not r.ok and "outside [0, 8]" in r.reason


async def test_closed_port_is_down_by_icmp_port_unreachable() -> None:
    r = await _run(_free_port(), timeout=2.0).run()  # type: ignore[attr-defined]
    assert not r.ok and "port unreachable" in r.reason
    assert r.latency < 2.0  # the ICMP error decides, not the timeout


async def test_silent_server_is_up_without_require_reply_down_with_it() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        up = await _run(port, timeout=0.2).run()  # type: ignore[attr-defined]
        down = await _run(port, timeout=0.2, require_reply=True).run()  # type: ignore[attr-defined]
    assert up.ok, up.reason
    assert not down.ok and "no reply within 0.2s" in down.reason


def test_keepalived_free_form_hex() -> None:
    assert parse_hex("Ab12f 3 456 546443123") == "AB120F03450654644312" + "03"
    assert parse_hex("0x1X", wildcard=True) == "0X1X"
    with pytest.raises(ConfigError):
        parse_hex("0x1X")  # X only in require_reply patterns
    with pytest.raises(ConfigError):
        parse_hex("   ")
    assert reply_matches(b"\xab\x12", "AB1X99")  # compared over the shorter of the two
    assert not reply_matches(b"\xab\x22", "AB1X")
