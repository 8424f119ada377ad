"""`ctl --director` and `list --director`: two directors in one group over real TLS on
loopback; lb1's control socket forwards a drain to lb2 and reads lb2's table; an unknown
name, an unreachable peer and a read-only caller are refused with a clear error."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from lvstui.cli import main
from lvstui.control.client import SocketClient
from lvstui.control.peer import Peer, Role
from lvstui.control.server import ControlServer
from lvstui.errors import CommandError, PermissionDenied
from lvstui.model import Drain, SetWeight
from lvstui.wiring import EngineParts, serve_control
from tests.group.test_runtime import R1, R2, SVC, _weight_is, lab  # noqa: F401
from tests.helpers import async_wait_until


@pytest.fixture
async def pair(
    lab: Callable[..., object],  # noqa: F811
    tmp_path: Path,
) -> AsyncIterator[tuple[EngineParts, EngineParts, SocketClient]]:
    lb1 = await lab("lb1")  # type: ignore[operator]
    lb2 = await lab("lb2")  # type: ignore[operator]
    await async_wait_until(lambda: lb1.group.member.peers()[0].reachable, timeout=10)
    await async_wait_until(lambda: lb2.group.member.peers()[0].reachable, timeout=10)
    sock = tmp_path / "director-lb1.sock"
    server = await serve_control(
        lb1.engine, lb1.engine.config, sock, tmp_path / "lb1", relay=lb1.group
    )
    client = SocketClient(sock)
    await client.connect()
    yield lb1, lb2, client
    await client.close()
    await server.close()


def _audit(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


async def test_a_drain_through_lb1_runs_on_lb2_and_is_reported(
    pair: tuple[EngineParts, EngineParts, SocketClient], tmp_path: Path
) -> None:
    _, lb2, client = pair
    assert "director" in client.hello["features"]
    res = await client.call_on("lb2", Drain(SVC, R1))
    assert res.ok, res.message
    await async_wait_until(lambda: _weight_is(lb2, R1, 0), timeout=5)
    # lb1 audited the forwarding; lb2 ran it, and its change came back to lb1 from lb2
    # naming the operator "via lb1"
    lb1_lines = _audit(tmp_path / "lb1" / "audit.log")
    assert any(
        isinstance(a.get("command"), dict) and a["command"].get("director") == "lb2"  # type: ignore[union-attr]
        for a in lb1_lines
    )
    await async_wait_until(
        lambda: any(
            a.get("origin") == "lb2" and str(a.get("operator")).endswith(" via lb1")
            for a in _audit(tmp_path / "lb1" / "audit.log")
        ),
        timeout=5,
    )
    # lb2, which ran it, audited it naming the director it came from and the operator
    lb2_lines = [a for a in _audit(tmp_path / "lb2" / "audit.log") if "uid" not in a]
    ran = [a for a in lb2_lines if isinstance(a.get("command"), dict)]
    assert len(ran) == 1, lb2_lines
    assert ran[0]["origin"] == "lb1" and ran[0]["operator"] == client_who(), ran[0]
    assert ran[0]["command"]["kind"] == "drain"  # type: ignore[index]
    assert ran[0]["result"] == {"ok": True, "message": res.message, "via": "group"}


def client_who() -> str:
    """How lb1's control socket names this test's process (`Peer.who`)."""
    return Peer(os.getpid(), os.getuid(), os.getgid(), pwd.getpwuid(os.getuid()).pw_name).who


async def test_a_forwarded_command_is_not_run_where_its_audit_line_cannot_be_written(
    pair: tuple[EngineParts, EngineParts, SocketClient], tmp_path: Path
) -> None:
    _, lb2, client = pair
    audit = tmp_path / "lb2" / "audit.log"
    audit.unlink(missing_ok=True)
    audit.mkdir()  # cannot be opened for appending: like a read-only state dir, even for root
    res = await client.call_on("lb2", Drain(SVC, R1))
    assert not res.ok and "lb2" in res.message and "audit log" in res.message, res.message
    assert not await _weight_is(lb2, R1, 0)


async def test_list_through_lb1_returns_lb2s_table(
    pair: tuple[EngineParts, EngineParts, SocketClient],
) -> None:
    lb1, lb2, client = pair
    await lb2.engine.call(SetWeight(SVC, R2, 7), who="alice")
    snap = await client.snapshot_of("lb2")
    assert snap.group is not None and snap.group.name == "lb2"
    mine = await client.snapshot()
    assert mine.group is not None and mine.group.name == "lb1"
    # naming this director itself acts and reads here
    here = await client.snapshot_of("lb1")
    assert here.group is not None and here.group.name == "lb1"
    res = await client.call_on("lb1", SetWeight(SVC, R1, 3))
    assert res.ok
    assert await _weight_is(lb1, R1, 3)


async def test_an_unknown_or_lost_director_is_named_in_the_error(
    pair: tuple[EngineParts, EngineParts, SocketClient],
    lab: Callable[..., object],  # noqa: F811
) -> None:
    lb1, lb2, client = pair
    with pytest.raises(CommandError, match=r"no director named 'lb9' in group "):
        await client.call_on("lb9", Drain(SVC, R1))
    with pytest.raises(CommandError, match="no director named 'lb9'"):
        await client.snapshot_of("lb9")
    await lab.stop(lb2)  # type: ignore[attr-defined]
    await async_wait_until(lambda: not lb1.group.member.peers()[0].reachable, timeout=10)
    with pytest.raises(CommandError, match=r"lb2 unreachable since \d{4}-"):
        await client.call_on("lb2", Drain(SVC, R1))


async def test_a_read_only_caller_cannot_act_through_a_peer(
    pair: tuple[EngineParts, EngineParts, SocketClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lb1, lb2, _ = pair
    monkeypatch.setattr(ControlServer, "_identify", _reader)
    sock = tmp_path / "director-ro.sock"
    server = await serve_control(lb1.engine, lb1.engine.config, sock, None, relay=lb1.group)
    client = SocketClient(sock)
    try:
        await client.connect()
        with pytest.raises(PermissionDenied):
            await client.call_on("lb2", Drain(SVC, R2))
        snap = await client.snapshot_of("lb2")  # reading is allowed
        assert snap.group is not None and snap.group.name == "lb2" and snap.read_only
        assert not await _weight_is(lb2, R2, 0)
    finally:
        await client.close()
        await server.close()


def _reader(self: ControlServer, sock: object) -> tuple[Peer, Role | None]:
    return Peer(os.getpid(), 65534, 65534, "nobody"), Role.READER


async def test_the_cli_acts_and_lists_through_a_peer(
    pair: tuple[EngineParts, EngineParts, SocketClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, lb2, _ = pair
    sock = str(tmp_path / "director-lb1.sock")
    drain = ["ctl", "drain", "--director", "lb2", "--socket", sock, str(SVC), str(R2)]
    assert await asyncio.to_thread(main, drain) == 0
    assert await _weight_is(lb2, R2, 0)
    listed = ["list", "--json", "--director", "lb2", "--socket", sock]
    assert await asyncio.to_thread(main, listed) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{") :])["services"]
    unknown = ["list", "--director", "lb9", "--socket", sock]
    assert await asyncio.to_thread(main, unknown) == 1
    assert "no director named 'lb9' in group" in capsys.readouterr().err


async def test_drain_wait_through_a_peer_ends_when_the_server_is_idle(
    pair: tuple[EngineParts, EngineParts, SocketClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sock = str(tmp_path / "director-lb1.sock")
    argv = ["ctl", "drain", "--director", "lb2", "--socket", sock, "--wait"]
    argv += ["--wait-timeout", "20", str(SVC), str(R1)]
    assert await asyncio.to_thread(main, argv) == 0
    assert f"{R1} is idle: safe for maintenance" in capsys.readouterr().out
