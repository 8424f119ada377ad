"""DNS_CHECK against a real DNS server (dnsmasq from apt) on a loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import dns.message
import dns.query
import pytest

from lvstui.config.schema import CheckCommon, DnsCheck, RealServer, VirtualServer
from lvstui.errors import CheckError
from lvstui.health.build import build_checker
from lvstui.health.dns import DnsChecker


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_dnsmasq(exe: str, port: int) -> subprocess.Popen[bytes] | None:
    """dnsmasq answering on 127.0.0.1:port, or None if it exited (port taken: it binds TCP
    on the same port too, which the UDP probe for a free port cannot see)."""
    proc = subprocess.Popen(
        [
            exe, "-k", "--conf-file=/dev/null", "--pid-file=", "--no-resolv", "--no-hosts",
            "-u", "root" if os.geteuid() == 0 else os.getlogin(),
            f"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces",
            "--host-record=www.health.test,192.0.2.10",
            "--txt-record=txt.health.test,hello",
            "--cname=alias.health.test,www.health.test",
            "--local=/health.test/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while proc.poll() is None:  # ready when it answers
        try:
            q = dns.message.make_query("www.health.test", "A")
            dns.query.udp(q, "127.0.0.1", port=port, timeout=0.2)
            return proc
        except (dns.exception.Timeout, OSError):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    proc.kill()
    proc.wait(5)
    return None


@pytest.fixture(scope="module")
def dnsmasq() -> Iterator[int]:
    exe = shutil.which("dnsmasq")
    if exe is None:
        pytest.skip("needs dnsmasq (apt dnsmasq-base; .ci/run installs it)")
    for _ in range(3):
        port = _free_udp_port()
        proc = _start_dnsmasq(exe, port)
        if proc is not None:
            break
    else:
        pytest.fail("dnsmasq did not start on 3 free loopback ports")
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(5)


def _checker(port: int, qtype: str, name: str, timeout: float = 1.0) -> DnsChecker:
    check = DnsCheck(
        type=qtype, name=name, common=CheckCommon(connect_port=port, connect_timeout=timeout)
    )
    c = build_checker(check, RealServer("127.0.0.1", 53), VirtualServer("192.0.2.1", 53))
    assert isinstance(c, DnsChecker)
    return c


async def test_a_record_passes(dnsmasq: int) -> None:
    r = await _checker(dnsmasq, "A", "www.health.test").run()
    assert r.ok, r.reason


async def test_cname_chain_to_the_asked_type_passes(dnsmasq: int) -> None:
    r = await _checker(dnsmasq, "A", "alias.health.test").run()
    assert r.ok, r.reason


async def test_nxdomain_is_down(dnsmasq: int) -> None:
    r = await _checker(dnsmasq, "A", "nx.health.test").run()
    assert not r.ok and "NXDOMAIN" in r.reason


async def test_wrong_record_type_is_down(dnsmasq: int) -> None:
    # the name exists but has no A record: NOERROR with an empty answer (keepalived passes it)
    r = await _checker(dnsmasq, "A", "txt.health.test").run()
    assert not r.ok and "NODATA" in r.reason
    ok = await _checker(dnsmasq, "TXT", "txt.health.test").run()
    assert ok.ok, ok.reason


async def test_silent_server_is_down_within_the_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        r = await _checker(port, "SOA", ".", timeout=0.3).run()
    assert not r.ok and "no answer within 0.3s" in r.reason
    assert 0.3 <= r.latency < 2.0  # deadline enforcement, not a speed goal


async def test_closed_port_is_down() -> None:
    r = await _checker(_free_udp_port(), "SOA", ".", timeout=1.0).run()
    assert not r.ok


def test_unknown_type_is_refused_at_build() -> None:
    with pytest.raises(CheckError, match="SRV"):
        _checker(53, "SRV", "x.test")
