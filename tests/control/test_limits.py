"""The control socket under pressure (issue 10): connection caps per uid and in all, the
descriptor reserve, a failing audit log or state save answered with an error, never with
silence, and a command the audit log cannot record is not run."""

from __future__ import annotations

import asyncio
import errno
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from lvstui.control.client import SocketClient, connect
from lvstui.control.server import ControlServer, Peer
from lvstui.descriptors import DescriptorReserve, open_descriptors
from lvstui.errors import ControlError
from lvstui.model import Drain, SetWeight
from tests.control.fakes import RS1, SVC, FakeClient, FakeEngine
from tests.control.test_server import sockdir

__all__ = ["sockdir"]  # the fixture, imported for this module's tests


@pytest.fixture
async def make(sockdir: Path) -> AsyncIterator[Callable[..., object]]:
    servers: list[ControlServer] = []

    async def build(**kw: object) -> tuple[ControlServer, FakeEngine]:
        engine = FakeEngine()

        def factory(peer: Peer, read_only: bool) -> FakeClient:
            return FakeClient(engine, read_only, who=peer.who)

        kw.setdefault("audit_path", sockdir / "audit.log")
        server = ControlServer(sockdir / f"c{len(servers)}.sock", factory, **kw)  # type: ignore[arg-type]
        await server.start()
        servers.append(server)
        return server, engine

    try:
        yield build
    finally:
        for s in servers:
            await s.close()


async def _raw_first_line(path: Path) -> dict[str, object] | None:
    """Connect without speaking: the first line the server sends unasked (a refusal), or
    None when it says nothing within a moment (accepted)."""
    r, w = await asyncio.open_unix_connection(str(path))
    try:
        line = await asyncio.wait_for(r.readline(), 0.5)
    except TimeoutError:
        return None
    finally:
        w.close()
    return json.loads(line) if line else {}


async def test_per_uid_cap_refuses_clearly_and_frees_on_close(make: Callable[..., object]) -> None:
    server, _ = await make(max_per_uid=3)  # type: ignore[operator]
    clients = [await connect(server.path) for _ in range(3)]
    try:
        with pytest.raises(ControlError, match=r"3 control clients of .* already \[busy\]"):
            await connect(server.path)
        assert server.refused == 1
        await clients.pop().close()
        await asyncio.sleep(0.05)  # the server sees the hang-up
        clients.append(await connect(server.path))  # room again
        assert (await clients[-1].snapshot()).seq == 1
    finally:
        for c in clients:
            await c.close()


async def test_total_cap(make: Callable[..., object]) -> None:
    server, _ = await make(max_connections=4)  # type: ignore[operator]
    clients = [await connect(server.path) for _ in range(4)]
    try:
        refusal = await _raw_first_line(server.path)
        assert refusal is not None and refusal["code"] == "busy"
        assert "4 control clients already" in str(refusal["error"])
        # the ones already connected are served as before
        assert all([(await c.snapshot()).seq == 1 for c in clients])
    finally:
        for c in clients:
            await c.close()


async def test_descriptor_reserve_refuses_new_clients_only(make: Callable[..., object]) -> None:
    base = open_descriptors()
    # room for a few more descriptors, then the reserve
    reserve = DescriptorReserve(reserve=16, limit=base + 16 + 12)
    server, _ = await make(reserve=reserve)  # type: ignore[operator]
    clients: list[SocketClient] = []
    refused = None
    for _ in range(20):  # bounded: each client costs two descriptors here (both ends)
        try:
            clients.append(await connect(server.path))
        except ControlError as exc:
            refused = exc
            break
    try:
        assert refused is not None and "close to its limit" in str(refused)
        assert 1 <= len(clients) < 20
        assert (await clients[0].snapshot()).seq == 1  # the others keep working
    finally:
        for c in clients:
            await c.close()


async def test_a_failing_state_save_is_an_error_reply_not_silence(
    make: Callable[..., object],
) -> None:
    server, engine = await make()  # type: ignore[operator]
    engine.fail_with = OSError(errno.EROFS, "Read-only file system", "/var/lib/lvstui/x.toml")
    client = await connect(server.path, request_timeout=5.0)
    try:
        with pytest.raises(ControlError, match=r"Read-only file system.*\[engine\]"):
            await client.call(Drain(SVC, RS1))
        engine.fail_with = None
        assert (await client.call(Drain(SVC, RS1))).ok  # the connection is still usable
    finally:
        await client.close()


async def test_an_unwritable_audit_log_stops_the_command(
    make: Callable[..., object], sockdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, engine = await make(audit_path=sockdir / "gone" / "audit.log")  # type: ignore[operator]
    client = await connect(server.path)
    try:
        with pytest.raises(ControlError, match=r"audit log .* cannot be written.*\[audit\]"):
            await client.call(SetWeight(SVC, RS1, 0))
        assert engine.calls == []  # not applied
        assert server.audit.failures == 1
        assert "cannot write the audit log" in caplog.text
    finally:
        await client.close()


async def test_a_full_audit_filesystem_stops_the_command(
    make: Callable[..., object], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, engine = await make()  # type: ignore[operator]
    real = os.fstatvfs

    def full(fd: int) -> os.statvfs_result:
        st = real(fd)
        return os.statvfs_result((*st[:3], 0, 0, *st[5:]))  # no free block

    monkeypatch.setattr(os, "fstatvfs", full)
    client = await connect(server.path)
    try:
        with pytest.raises(ControlError, match=r"no space left.*\[audit\]"):
            await client.call(Drain(SVC, RS1))
        assert engine.calls == []
    finally:
        await client.close()


HAS_DEV_FULL = os.path.exists("/dev/full")


@pytest.mark.skipif(not HAS_DEV_FULL, reason="no /dev/full")
async def test_an_audit_line_lost_after_the_change_is_still_an_error(
    make: Callable[..., object],
) -> None:
    # /dev/full opens and reports room, then fails every write with ENOSPC: the race
    # between the check and the line
    server, engine = await make(audit_path=Path("/dev/full"))  # type: ignore[operator]
    client = await connect(server.path)
    try:
        with pytest.raises(ControlError, match=r"drain was applied .* but the audit log"):
            await client.call(Drain(SVC, RS1))
        assert len(engine.calls) == 1
    finally:
        await client.close()
