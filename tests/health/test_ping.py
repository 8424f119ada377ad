"""PING_CHECK: ICMP echo on loopback (raw socket as root), and in a namespace of our own the
unprivileged datagram socket and the no-reply timeout."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from lvstui.health.base import CheckTarget
from lvstui.health.ping import checksum, echo_request, parse_reply, ping_check
from tests.helpers import REPO, require_cmd, require_root

HAS_V6 = socket.has_ipv6 and os.path.exists("/proc/net/if_inet6")


def test_checksum_and_packets() -> None:
    # RFC 1071 example: the one's complement sum of these words is ddf2, so the sum is 220d
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    pkt = echo_request(4, 0x1234, 7, b"hello")
    assert checksum(pkt) == 0  # a packet with its checksum sums to zero
    reply = bytes([0, 0]) + pkt[2:]  # type 0 = echo reply
    assert parse_reply(4, reply, raw=False) == (0x1234, 7, b"hello")
    ip_header = bytes([0x45]) + bytes(19)
    assert parse_reply(4, ip_header + reply, raw=True) == (0x1234, 7, b"hello")
    assert parse_reply(4, pkt, raw=False) is None  # a request is not a reply
    assert parse_reply(6, bytes([129, 0, 0, 0, 0, 1, 0, 2]) + b"x", raw=False) == (1, 2, b"x")
    assert parse_reply(4, b"\x00", raw=False) is None


@pytest.mark.root
async def test_ping_loopback_v4() -> None:
    require_root("a raw ICMP socket")
    r = await ping_check(CheckTarget("127.0.0.1", 0), 1.0, mode="raw")
    assert r.ok and r.reason == "echo reply from 127.0.0.1" and r.latency < 1.0


@pytest.mark.root
async def test_ping_loopback_v6() -> None:
    require_root("a raw ICMPv6 socket")
    if not HAS_V6:
        pytest.skip("no IPv6 on this machine")
    r = await ping_check(CheckTarget("::1", 0), 1.0, mode="raw")
    assert r.ok, r.reason


@pytest.mark.root
async def test_ping_auto_mode_picks_what_works() -> None:
    require_root("a raw ICMP socket when ping_group_range excludes us")
    r = await ping_check(CheckTarget("127.0.0.1", 0), 1.0)
    assert r.ok, r.reason


NS_SCRIPT = textwrap.dedent(
    """
    import asyncio, json
    from lvstui.health.base import CheckTarget
    from lvstui.health.ping import ping_check

    async def main():
        out = {}
        for name, ip, mode in [
            ("dgram_lo", "127.0.0.1", "dgram"),
            ("dgram_silent", "192.0.2.2", "dgram"),
            ("raw_silent", "192.0.2.2", "raw"),
        ]:
            r = await ping_check(CheckTarget(ip, 0), 0.3, mode=mode)
            out[name] = [r.ok, r.reason, r.latency]
        print(json.dumps(out))

    asyncio.run(main())
    """
)


@pytest.mark.netns
@pytest.mark.root
def test_ping_dgram_socket_and_timeout_in_a_namespace() -> None:
    """In a namespace of our own: allow unprivileged ICMP sockets for group 0 there only
    (ping_group_range is per namespace), and give 192.0.2.2 a route on a veth whose peer is
    down, so echo requests go nowhere and the check must time out."""
    require_root("network namespaces")
    require_cmd("ip")
    ns = f"lvt-health-ping-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:

        def sh(*cmd: str) -> None:
            subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True)

        sh("ip", "link", "set", "lo", "up")
        sh("ip", "link", "add", "lvtp0", "type", "veth", "peer", "name", "lvtp1")
        sh("ip", "addr", "add", "192.0.2.1/24", "dev", "lvtp0")
        sh("ip", "link", "set", "lvtp0", "up")
        sh("sh", "-c", "echo '0 0' > /proc/sys/net/ipv4/ping_group_range")
        res = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-c", NS_SCRIPT],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=REPO,
        )
        assert res.returncode == 0, res.stderr
        out = json.loads(res.stdout)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    assert out["dgram_lo"][0] is True, out
    for name in ("dgram_silent", "raw_silent"):
        ok, reason, latency = out[name]
        assert not ok and reason == "no echo reply within 0.3s", out
        assert 0.25 < latency < 2.0
