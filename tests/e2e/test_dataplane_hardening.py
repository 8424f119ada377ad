"""What an operator's mistyped `add` (straight from the control socket) must not do to the
dataplane: the userspace forwarder refuses a real server that is no address or no port, and
the ipvsadm-style listing never crashes over one odd entry (a bad address, mixed families)."""

from __future__ import annotations

import asyncio

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
            svc = ServiceKey(Protocol.TCP, "127.0.0.1", 0)
            await dp.apply([AddService(DesiredService(svc, "rr"))])
            good = DesiredDest(RealKey("127.0.0.1", 9), 1)
            await dp.apply([AddDest(svc, good)])
            with pytest.raises(DataplaneError) as exc:
                await dp.apply([AddDest(svc, DesiredDest(RealKey(addr, port), 1))])
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
        ObservedDest(RealKey(a, p), 1, LbKind.NAT)
        for a, p in [("127.0.0.2", 80), ("::1", 80), ("999.1.1.1", 80), ("127.0.0.1", 80)]
    )
    text = render([ObservedService(svc, "rr", dests=dests)])
    lines = [ln.split()[1] for ln in text.splitlines() if ln.startswith("  ->")][1:]
    # compared as the kernel's zero-padded nf_inet_addr words: the bad address as 0.0.0.0,
    # ::1 (0,0,0,1) before 127.0.0.1 (0x7f000001,0,0,0)
    assert lines == ["999.1.1.1:80", "[::1]:80", "127.0.0.1:80", "127.0.0.2:80"], lines
