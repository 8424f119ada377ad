"""SMTP_CHECK against aiosmtpd, a server that greets with 5xx, one that refuses HELO, one
that hangs."""

from __future__ import annotations

import asyncio
from typing import Any

from aiosmtpd.smtp import SMTP

from lvstui.config.schema import CheckCommon, RealServer, SmtpCheck, VirtualServer
from lvstui.health.base import Checker
from lvstui.health.build import build_checker
from tests.health.servers import raw_server


class _Helos:
    """aiosmtpd handler recording the HELO names it was given."""

    def __init__(self) -> None:
        self.names: list[str] = []

    async def handle_HELO(self, server: Any, session: Any, envelope: Any, hostname: str) -> str:
        self.names.append(hostname)
        session.host_name = hostname
        return "250 pleased"


def _checker(port: int, timeout: float = 2.0, helo: str | None = None) -> Checker:
    check = SmtpCheck(common=CheckCommon(connect_timeout=timeout))
    if helo is not None:
        check = SmtpCheck(helo_name=helo, common=check.common)
    return build_checker(check, RealServer("127.0.0.1", port), VirtualServer("192.0.2.1", 25))


async def test_aiosmtpd_passes_and_sees_our_helo_name() -> None:
    handler = _Helos()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="mx"), "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        r = await _checker(port, helo="director1.example").run()
    finally:
        server.close()
        await server.wait_closed()
    assert r.ok, r.reason
    assert handler.names == ["director1.example"]


async def test_5xx_greeting_is_down() -> None:
    async with raw_server("script", [b"554 5.3.2 not accepting mail\r\n"]) as port:
        r = await _checker(port).run()
    assert not r.ok and "554" in r.reason


async def test_helo_refused_is_down() -> None:
    async with raw_server("script", [b"220 mx ready\r\n", b"550 go away\r\n"]) as port:
        r = await _checker(port).run()
    assert not r.ok and "HELO answered 550" in r.reason


async def test_server_that_never_greets_is_down_within_the_timeout() -> None:
    async with raw_server("stall") as port:
        r = await _checker(port, timeout=0.3).run()
    assert not r.ok
    assert 0.3 <= r.latency < 2.0  # deadline enforcement, not a speed goal


async def test_closed_port_is_down() -> None:
    async with raw_server("stall") as port:
        pass
    r = await _checker(port).run()
    assert not r.ok and "connect" in r.reason.lower()
