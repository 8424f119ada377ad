"""PROXY protocol headers and persistence templates (pure parts of the forwarder)."""

from __future__ import annotations

import pytest

from lvstui.dataplane.userspace import proxyproto
from lvstui.dataplane.userspace.persist import Templates, client_net
from lvstui.dataplane.userspace.sched import RealServer


def test_v1_exact_bytes() -> None:
    assert proxyproto.build(1, ("192.0.2.1", 5000), ("198.51.100.9", 80)) == (
        b"PROXY TCP4 192.0.2.1 198.51.100.9 5000 80\r\n"
    )
    assert proxyproto.build(1, ("2001:db8::1", 1), ("2001:db8::2", 2)).startswith(b"PROXY TCP6 ")


def test_v2_exact_bytes() -> None:
    got = proxyproto.build(2, ("192.0.2.1", 5000), ("198.51.100.9", 80))
    assert got == (
        b"\r\n\r\n\x00\r\nQUIT\n"  # signature
        + b"\x21\x11\x00\x0c"  # v2 PROXY, TCP over IPv4, 12 bytes
        + bytes([192, 0, 2, 1, 198, 51, 100, 9])
        + b"\x13\x88\x00\x50"
    )


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("src", [("192.0.2.1", 5000), ("2001:db8::1", 65535)])
def test_roundtrip(version: int, src: tuple[str, int]) -> None:
    dst = ("2001:db8::9", 443) if ":" in src[0] else ("198.51.100.9", 443)
    raw = proxyproto.build(version, src, dst) + b"payload"
    hdr, used = proxyproto.parse(raw)
    assert (hdr.version, hdr.src, hdr.dst) == (version, src, dst)
    assert raw[used:] == b"payload"


def test_bad_input() -> None:
    with pytest.raises(ValueError):
        proxyproto.parse(b"GET / HTTP/1.1\r\n")
    with pytest.raises(ValueError):
        proxyproto.build(1, ("192.0.2.1", 1), ("192.0.2.2", 2), udp=True)
    with pytest.raises(ValueError):
        proxyproto.build(3, ("192.0.2.1", 1), ("192.0.2.2", 2))


def test_client_net() -> None:
    a = int.from_bytes(bytes([192, 0, 2, 77]), "big")
    assert client_net(a, 4, 24) == (4, int.from_bytes(bytes([192, 0, 2, 0]), "big"))
    assert client_net(a, 4, 32) == (4, a)
    assert client_net(a, 4, 0) == (4, 0)


def test_templates_expire_but_not_while_controlling() -> None:
    t = Templates()
    d = RealServer("10.0.0.1", 80)
    net = (4, 1)
    tpl = t.bind(net, d, now=0.0, timeout=10.0)
    assert d.persist == 1
    tpl.ncontrol = 1
    assert t.lookup(net, 50.0, lambda _: True) is tpl  # a connection is still open
    tpl.ncontrol = 0
    assert t.lookup(net, 50.0, lambda _: True) is None
    assert d.persist == 0
    tpl = t.bind(net, d, now=0.0, timeout=10.0)
    assert t.lookup(net, 5.0, lambda _: False) is None  # server gone or drained
    t.bind(net, d, 0.0, 10.0)
    t.expire(20.0)
    assert t.table == {} and d.persist == 0
