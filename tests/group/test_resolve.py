"""Peers given by host name: resolved once at start (a table stands in for DNS: the tests
send no query), and a name that does not resolve stops the start naming the peer."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from lvstui.config.schema import GroupSettings
from lvstui.errors import ConfigError
from lvstui.group import keys, resolve
from lvstui.group.runtime import GroupRuntime

TABLE = {
    "lb2.example.net": ["198.51.100.12"],
    "lb3.example.net": ["2001:db8::13", "198.51.100.13"],
}


def lookup(host: str, port: int, **kw: Any) -> list[tuple[Any, ...]]:
    if host not in TABLE:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    out = []
    for a in TABLE[host]:
        fam = socket.AF_INET6 if ":" in a else socket.AF_INET
        sockaddr = (a, port, 0, 0) if fam == socket.AF_INET6 else (a, port)
        out.append((fam, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
    return out


def test_names_become_addresses_and_addresses_stay_as_written() -> None:
    peers, said = resolve.resolve_peers(
        ["lb2.example.net:7946", "198.51.100.14:7946", "lb3.example.net:7000"], lookup
    )
    assert peers == ["198.51.100.12:7946", "198.51.100.14:7946", "[2001:db8::13]:7000"]
    assert said == [
        "peer lb2.example.net:7946 is 198.51.100.12:7946",
        "peer lb3.example.net:7000 is [2001:db8::13]:7000 (of 2001:db8::13, 198.51.100.13)",
    ]


def test_a_name_that_does_not_resolve_names_the_peer() -> None:
    with pytest.raises(ValueError, match=r"peer 'lb9.example.net:7946': cannot resolve 'lb9"):
        resolve.resolve_peers(["lb2.example.net:7946", "lb9.example.net:7946"], lookup)


def settings(tmp_path: Path, peers: tuple[str, ...]) -> GroupSettings:
    key = tmp_path / "group.pem"
    key.write_text(keys.generate())
    key.chmod(0o600)
    return GroupSettings(name="lb1", listen="127.0.0.1:0", peers=peers, key_file=str(key))


def test_the_runtime_dials_the_address_and_refuses_an_unknown_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resolve.socket, "getaddrinfo", lookup)
    rt = GroupRuntime.create(settings(tmp_path, ("lb2.example.net:7946",)), tmp_path)
    assert rt.settings.peers == ("198.51.100.12:7946",)
    assert [p.address for p in rt.member.peers()] == ["198.51.100.12:7946"]
    with pytest.raises(ConfigError) as info:
        GroupRuntime.create(settings(tmp_path, ("lb9.example.net:7946",)), tmp_path)
    assert info.value.key == "lvstui.group.peers"
    assert "cannot resolve 'lb9.example.net'" in str(info.value)
