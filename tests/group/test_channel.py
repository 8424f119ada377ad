"""Real TLS links on loopback (IPv4 and IPv6): membership by key, refusal, reconnection."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from lvstui.clock import SystemClock
from lvstui.group import keys
from lvstui.group.channel import Dialer, Listener, format_addr, parse_addr
from lvstui.group.member import Member
from lvstui.group.protocol import Entries, Hello, decode, encode
from lvstui.model import RealKey, ServiceKey
from tests.group.helpers import act
from tests.helpers import async_wait_until

SVC = ServiceKey.parse("TCP 198.51.100.9:80")
R1 = RealKey.parse("198.51.100.21:80")


def keyfile(tmp_path: Path, name: str) -> keys.Credential:
    p = tmp_path / name
    p.write_text(keys.generate())
    p.chmod(0o600)
    return keys.load(p)


def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class Node:
    def __init__(self, name: str, cred: keys.Credential, peers: list[str]) -> None:
        self.member = Member(name, peers, SystemClock())
        self.cred = cred
        self.peers = peers
        self.listener: Listener | None = None
        self.dialers: list[Dialer] = []

    async def listen(self, host: str) -> str:
        # through a lambda: a test may replace `member` once it knows the peers' ports
        self.listener = Listener(
            format_addr(host, 0), self.cred, lambda link, out: self.member.run_link(link, out)
        )
        await self.listener.start()
        return format_addr(host, self.listener.port)

    def dial(self, peer: str) -> None:
        d = Dialer(peer, self.cred, lambda link, out: self.member.run_link(link, out))
        d.start()
        self.dialers.append(d)

    async def close(self) -> None:
        for d in self.dialers:
            await d.close()
        if self.listener is not None:
            await self.listener.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_two_members_replicate_over_mutual_tls(tmp_path: Path, host: str) -> None:
    if host == "::1" and not has_ipv6():
        pytest.skip("no IPv6 loopback on this machine")
    cred = keyfile(tmp_path, "group.pem")
    a = Node("lb1", cred, [])
    b = Node("lb2", cred, [])
    try:
        addr_a = await a.listen(host)
        addr_b = await b.listen(host)
        a.member = Member("lb1", [addr_b], SystemClock())
        b.member = Member("lb2", [addr_a], SystemClock())
        a.dial(addr_b)
        b.dial(addr_a)
        assert await a.member.wait_synced(5.0) and await b.member.wait_synced(5.0)
        await act(a.member, lambda ov: ov.drain((SVC, R1), None), "root")
        await async_wait_until(lambda: bool(b.member.store.overrides().drained), timeout=5)
        assert b.member.peers()[0].name == "lb1" and b.member.peers()[0].reachable
    finally:
        await a.close()
        await b.close()


async def test_another_groups_key_is_refused_logged_with_its_address_and_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ours = keyfile(tmp_path, "ours.pem")
    theirs = keyfile(tmp_path, "theirs.pem")
    a = Node("lb1", ours, [])
    intruder = Node("evil", theirs, [])
    try:
        addr_a = await a.listen("127.0.0.1")
        await act(intruder.member, lambda ov: ov.drain((SVC, R1), None), "root")
        intruder.member = Member("evil", [addr_a], SystemClock(), intruder.member.store)
        intruder.dial(addr_a)
        await async_wait_until(lambda: "refused peer 127.0.0.1:" in caplog.text, timeout=5)
        await asyncio.sleep(0.3)
        assert len(a.member.store) == 0
        assert a.member.peers() == []
        assert not intruder.member.peers()[0].reachable
        refusals = [r for r in caplog.records if "refused peer 127.0.0.1:" in r.getMessage()]
        assert refusals and all(r.levelname == "WARNING" for r in refusals)
    finally:
        await a.close()
        await intruder.close()


async def test_a_peer_without_a_certificate_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import ssl

    a = Node("lb1", keyfile(tmp_path, "ours.pem"), [])
    try:
        addr = await a.listen("127.0.0.1")
        host, port = parse_addr(addr)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError, EOFError)):
            r, w = await asyncio.open_connection(host, port, ssl=ctx)
            w.write(encode(Hello("nobody")))
            await w.drain()
            if not await r.readline():
                raise EOFError
        await async_wait_until(lambda: "refused peer 127.0.0.1:" in caplog.text, timeout=5)
        assert a.member.peers() == []
    finally:
        await a.close()


async def test_dialer_reconnects_when_the_peer_comes_back(tmp_path: Path) -> None:
    cred = keyfile(tmp_path, "group.pem")
    b = Node("lb2", cred, [])
    addr_b = await b.listen("127.0.0.1")
    a = Node("lb1", cred, [addr_b])
    a.dial(addr_b)
    try:
        await async_wait_until(lambda: a.member.peers()[0].reachable, timeout=5)
        await b.close()
        b2 = Node("lb2", cred, [])
        b2.listener = Listener(addr_b, cred, b2.member.run_link)
        await asyncio.sleep(0.2)  # the dialer is backing off now
        await b2.listener.start()
        await act(b2.member, lambda ov: ov.drain((SVC, R1), None), "root")
        await async_wait_until(lambda: bool(a.member.store.overrides().drained), timeout=8)
        await b2.close()
    finally:
        await a.close()


def test_keys_load_checks(tmp_path: Path) -> None:
    with pytest.raises(keys.KeyFileError, match="cannot read"):
        keys.load(tmp_path / "missing.pem")
    bad = tmp_path / "bad.pem"
    bad.write_text("hello\n")
    with pytest.raises(keys.KeyFileError, match="keygen"):
        keys.load(bad)
    loose = tmp_path / "loose.pem"
    loose.write_text(keys.generate())
    os.chmod(loose, 0o644)
    assert "readable by others" in keys.load(loose).warning
    os.chmod(loose, 0o600)
    cred = keys.load(loose)
    assert cred.warning == "" and len(cred.group_id) == 16
    assert keys.load(loose).fingerprint == cred.fingerprint
    other = tmp_path / "other.pem"
    other.write_text(keys.generate())
    assert keys.load(other).fingerprint != cred.fingerprint


def test_addresses() -> None:
    assert parse_addr("198.51.100.11:7400") == ("198.51.100.11", 7400)
    assert parse_addr("[2001:db8::11]:7400") == ("2001:db8::11", 7400)
    assert format_addr("2001:db8::11", 7400) == "[2001:db8::11]:7400"
    for bad in ("198.51.100.11", "2001:db8::11:7400", "[2001:db8::11]", "h:0", "h:99999", ":1"):
        with pytest.raises(ValueError):
            parse_addr(bad)


def test_protocol_refuses_malformed_messages() -> None:
    assert decode(encode(Hello("lb1"))) == Hello("lb1")
    assert decode(encode(Entries(kind="push"))) == Entries(kind="push")
    for line in (
        b"not json",
        b"[]",
        b'{"t":"what"}',
        b'{"t":"hello","name":"","version":1}',
        b'{"t":"hello","name":"x"}',
        b'{"t":"summary","root":"r","buckets":["a"]}',
        b'{"t":"versions","buckets":[999],"versions":[]}',
        b'{"t":"versions","buckets":[1],"versions":[["k"]]}',
        b'{"t":"entries","entries":[],"want":["nonsense"]}',
        b'{"t":"entries","entries":[],"kind":"gift"}',
        b'{"t":"status","status":[]}',
        b'{"t":"command","id":"1","command":{},"operator":"x"}',
    ):
        with pytest.raises(ValueError):
            decode(line)
