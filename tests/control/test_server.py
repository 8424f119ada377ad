"""The control socket over a real Unix socket: roles, audit log, events, bad input, slow peers."""

from __future__ import annotations

import asyncio
import contextlib
import grp
import json
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from lvstui.control.client import SocketClient, connect
from lvstui.control.server import ControlServer, Peer
from lvstui.errors import CommandError, ControlError, PermissionDenied
from lvstui.model import Drain, LogEvent, RealKey, Reload, SetWeight
from tests.control.fakes import RS1, SVC, FakeClient, FakeEngine, sample_snapshot
from tests.helpers import async_wait_until, require_root


@pytest.fixture
def sockdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="lvt-ctl-"))  # short: Unix socket paths max 107 bytes
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
async def served(sockdir: Path) -> AsyncIterator[tuple[ControlServer, FakeEngine]]:
    engine = FakeEngine()

    def factory(peer: Peer, read_only: bool) -> FakeClient:
        return FakeClient(engine, read_only, who=peer.who)

    server = ControlServer(
        sockdir / "run" / "control.sock", factory, audit_path=sockdir / "audit.log"
    )
    await server.start()
    try:
        yield server, engine
    finally:
        await server.close()


def audit_lines(server: ControlServer) -> list[dict[str, object]]:
    assert server.audit.path is not None
    return [json.loads(line) for line in server.audit.path.read_text().splitlines()]


async def test_socket_and_directory_modes(served: tuple[ControlServer, FakeEngine]) -> None:
    server, _ = served
    assert stat.S_ISSOCK(server.path.lstat().st_mode)
    assert stat.S_IMODE(server.path.stat().st_mode) == 0o660
    assert stat.S_IMODE(server.path.parent.stat().st_mode) == 0o750


async def test_hello_snapshot_call_and_audit(served: tuple[ControlServer, FakeEngine]) -> None:
    server, engine = served
    client = await connect(server.path)
    try:
        assert client.hello["role"] == "operator"
        assert client.hello["server"].startswith("lvstui ")
        assert not client.read_only
        assert client.description == f"attached to {server.path}"
        assert await client.snapshot() == sample_snapshot()
        result = await client.call(Drain(SVC, RS1, timeout=5.0))
        assert result.ok and result.message == "drain done"
        assert engine.calls[-1][1] == Drain(SVC, RS1, timeout=5.0)
        assert f"pid {os.getpid()}" in engine.calls[-1][0]
        reload = await client.call(Reload(dry_run=True))
        assert reload.detail == "+ TCP 127.0.0.10:9090"
    finally:
        await client.close()
    lines = audit_lines(server)
    assert len(lines) == 2
    first = lines[0]
    assert first["uid"] == os.geteuid() and first["pid"] == os.getpid()
    assert isinstance(first["user"], str) and first["user"]
    assert first["command"] == {
        "kind": "drain",
        "service": {
            "protocol": "TCP",
            "addr": "127.0.0.10",
            "port": 8080,
            "fwmark": 0,
            "family": 4,
        },
        "real": {"addr": "127.0.0.1", "port": 18081},
        "timeout": 5.0,
    }
    assert first["result"] == {"ok": True, "message": "drain done"}
    assert str(first["time"]).endswith("Z")


async def test_command_error_reaches_the_client_and_the_audit_log(
    served: tuple[ControlServer, FakeEngine],
) -> None:
    server, _ = served
    client = await connect(server.path)
    try:
        with pytest.raises(CommandError, match=r"no real server 127\.0\.0\.1:1"):
            await client.call(Drain(SVC, RealKey("127.0.0.1", 1)))
        # the connection is still usable afterwards
        assert (await client.snapshot()).seq == 1
    finally:
        await client.close()
    (line,) = audit_lines(server)
    assert line["result"] == {
        "ok": False,
        "error": "no real server 127.0.0.1:1 in TCP 127.0.0.10:8080",
    }


async def test_events_stream_to_every_subscriber(served: tuple[ControlServer, FakeEngine]) -> None:
    server, engine = served
    clients = [await connect(server.path) for _ in range(5)]
    try:
        iters = [c.events() for c in clients]
        # first event from each iterator happens after its subscription is registered
        firsts = [asyncio.ensure_future(anext(it)) for it in iters]
        await async_wait_until(lambda: len(engine.subscribers) == 5, timeout=5)
        engine.publish(LogEvent(2.0, "warning", "hello all"))
        got = await asyncio.wait_for(asyncio.gather(*firsts), 5)
        assert got == [LogEvent(2.0, "warning", "hello all")] * 5
        for it in iters:
            await it.aclose()  # type: ignore[attr-defined]
    finally:
        for c in clients:
            await c.close()


async def test_many_clients_at_once(served: tuple[ControlServer, FakeEngine]) -> None:
    server, _ = served

    async def one() -> int:
        c = await connect(server.path)
        try:
            return (await c.snapshot()).seq
        finally:
            await c.close()

    assert await asyncio.wait_for(asyncio.gather(*(one() for _ in range(30))), 20) == [1] * 30


async def raw_exchange(path: Path, lines: list[bytes]) -> list[dict[str, object]]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        out = []
        for line in lines:
            writer.write(line)
            await writer.drain()
            reply = await asyncio.wait_for(reader.readline(), 5)
            out.append(json.loads(reply) if reply else {})
        return out
    finally:
        writer.close()
        await writer.wait_closed()


async def test_bad_input_gets_an_error_reply_and_the_server_keeps_serving(
    served: tuple[ControlServer, FakeEngine],
) -> None:
    server, engine = served
    replies = await raw_exchange(
        server.path,
        [
            b"this is not json\n",
            b'{"v":9,"type":"hello","id":1}\n',
            b'{"v":1,"type":"fly","id":2}\n',
            b'{"v":1,"type":"call","id":3,"command":{"kind":"drain","service":"x"}}\n',
            b'{"v":1,"type":"call","id":4,"command":{"kind":"nuke"}}\n',
            b'{"v":1,"type":"hello","id":5}\n',
        ],
    )
    codes = [r.get("code") for r in replies[:5]]
    assert codes == ["bad_json", "version", "bad_type", "bad_value", "unknown_kind"]
    assert all(r["type"] == "error" for r in replies[:5])
    assert replies[3]["id"] == 3
    assert replies[5]["type"] == "hello" and replies[5]["id"] == 5
    assert engine.calls == []
    # malformed commands are audited too
    assert [line["result"] for line in audit_lines(server)] == [
        {"refused": "malformed command"},
        {"refused": "malformed command"},
    ]


async def test_overlong_line_is_refused_then_disconnected(
    served: tuple[ControlServer, FakeEngine],
) -> None:
    server, _ = served
    reader, writer = await asyncio.open_unix_connection(str(server.path))
    try:
        writer.write(b"x" * (200 * 1024) + b"\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        reply = json.loads(await asyncio.wait_for(reader.readline(), 5))
        assert reply["code"] == "too_long"
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    c = await connect(server.path)  # others still served
    await c.close()


async def test_a_slow_client_is_cut_off_without_stalling_others(sockdir: Path) -> None:
    engine = FakeEngine()
    server = ControlServer(
        sockdir / "c.sock", lambda p, ro: FakeClient(engine, ro, p.who), event_queue=8
    )
    await server.start()
    _slow_r, slow_w = await asyncio.open_unix_connection(str(server.path))
    fast = await connect(server.path)
    try:
        slow_w.write(b'{"v":1,"type":"subscribe","id":1}\n')
        await slow_w.drain()
        await async_wait_until(lambda: len(engine.subscribers) == 1, timeout=5)
        received: list[LogEvent] = []

        async def consume() -> None:
            async for ev in fast.events():
                assert isinstance(ev, LogEvent)
                received.append(ev)
                if len(received) == 400:
                    return

        task = asyncio.ensure_future(consume())
        await async_wait_until(lambda: len(engine.subscribers) == 2, timeout=5)
        big = "x" * 20_000
        for i in range(400):  # ~8 MB: far more than the socket buffers of a reader who never reads
            engine.publish(LogEvent(float(i), "info", big))
            await asyncio.sleep(0)
        await asyncio.wait_for(task, 20)
        assert [e.time for e in received] == [float(i) for i in range(400)]
        await async_wait_until(lambda: server.connections == 1, timeout=10)
    finally:
        slow_w.close()
        with contextlib.suppress(ConnectionError):
            await slow_w.wait_closed()
        await fast.close()
        await server.close()


async def test_missing_daemon_errors(sockdir: Path) -> None:
    path = sockdir / "nothing.sock"
    with pytest.raises(ControlError) as exc:
        await connect(path)
    assert str(exc.value) == (
        f"no daemon listening on {path}\n  hint: start `lvstui --daemon` or pass --socket"
    )
    # a stale socket file (a daemon that died) gives the same answer
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()
    with pytest.raises(ControlError, match="no daemon listening"):
        await SocketClient(path).snapshot()
    # a regular file where the socket should be
    other = sockdir / "file"
    other.write_text("")
    with pytest.raises(ControlError, match="no daemon listening"):
        await connect(other)


async def test_daemon_going_away_ends_events_and_reconnect_works(sockdir: Path) -> None:
    engine = FakeEngine()
    path = sockdir / "c.sock"

    def factory(p: Peer, ro: bool) -> FakeClient:
        return FakeClient(engine, ro, p.who)

    server = ControlServer(path, factory)
    await server.start()
    client = await connect(path)
    try:
        it = client.events()
        first = asyncio.ensure_future(anext(it))
        await async_wait_until(lambda: len(engine.subscribers) == 1, timeout=5)
        await server.close()
        with pytest.raises(ControlError, match="closed the connection"):
            await asyncio.wait_for(first, 5)
        with pytest.raises(ControlError):
            await client.snapshot()
        server = ControlServer(path, factory)
        await server.start()
        hello = await client.reconnect(timeout=5, interval=0.05)
        assert hello["role"] == "operator"
        assert (await client.snapshot()).seq == 1
        assert (await client.call(SetWeight(SVC, RS1, 3))).ok
    finally:
        await client.close()
        await server.close()


def _child_session(path: str, w: int) -> None:
    """In a forked child that became uid/gid 65534: hello, then try a command."""
    out: dict[str, object] = {}
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(path)
        f = s.makefile("rwb")
        f.write(b'{"v":1,"type":"hello","id":1}\n')
        f.flush()
        out["hello"] = json.loads(f.readline() or b"{}")
        cmd = (
            b'{"v":1,"type":"call","id":2,"command":{"kind":"weight","service":'
            b'{"protocol":"TCP","addr":"127.0.0.10","port":8080},'
            b'"real":{"addr":"127.0.0.1","port":18081},"weight":0}}\n'
        )
        try:
            f.write(cmd)
            f.flush()
            out["call"] = json.loads(f.readline() or b"{}")
        except OSError as exc:
            out["call"] = {"oserror": str(exc)}
        s.close()
    except Exception as exc:
        out["exception"] = repr(exc)
    os.write(w, json.dumps(out).encode())


async def _as_nobody(path: Path) -> dict[str, dict[str, object]]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop every privilege, then talk
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            _child_session(str(path), w)
        finally:
            os._exit(0)
    os.close(w)
    loop = asyncio.get_running_loop()

    def read_all() -> bytes:
        chunks = []
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        data = await asyncio.wait_for(loop.run_in_executor(None, read_all), 15)
    finally:
        os.close(r)
        await loop.run_in_executor(None, os.waitpid, pid, 0)
    result: dict[str, dict[str, object]] = json.loads(data)
    return result


@pytest.mark.root
@pytest.mark.parametrize(
    ("group", "others", "expect"),
    [("", True, "reader"), ("", False, "refused"), ("nogroup", False, "operator")],
)
async def test_roles_from_peer_credentials(
    sockdir: Path, group: str, others: bool, expect: str
) -> None:
    require_root("switching uid to test the control socket's roles")
    engine = FakeEngine()
    os.chmod(sockdir, 0o755)
    path = sockdir / "c.sock"
    server = ControlServer(
        path,
        lambda p, ro: FakeClient(engine, ro, p.who),
        group=group,
        read_only_others=others,
        audit_path=sockdir / "audit.log",
    )
    await server.start()
    if group:  # the socket belongs to the control group, still 0660
        assert path.stat().st_gid == grp.getgrnam(group).gr_gid
        assert stat.S_IMODE(path.stat().st_mode) == 0o660
    # The filesystem gate (0660) is the first one; widen it as an operator granting access
    # with an ACL would, so the second gate (peer credentials) is what this test sees.
    os.chmod(path, 0o666)
    try:
        out = await _as_nobody(path)
    finally:
        await server.close()
    assert "exception" not in out, out
    audit = audit_lines(server)
    if expect == "refused":
        assert out["hello"]["code"] == "permission"
        assert "may not use this control socket" in str(out["hello"]["error"])
        assert audit[0]["uid"] == 65534
        assert audit[0]["result"] == {"refused": "connection: not in control_group"}
    elif expect == "reader":
        assert out["hello"]["role"] == "reader"
        assert out["call"]["type"] == "error" and out["call"]["code"] == "permission"
        assert audit == [
            {**audit[0], "uid": 65534, "role": "reader", "result": {"refused": "read-only role"}}
        ]
        assert engine.calls == []
    else:
        assert out["hello"]["role"] == "operator"
        assert out["call"]["type"] == "result"
        assert engine.calls[0][0].startswith("nobody (uid 65534")
        assert audit[0]["result"] == {"ok": True, "message": "weight done"}


async def test_read_only_role_is_refused_by_the_server(sockdir: Path) -> None:
    # Same gate without root: the factory's read_only flag is what the role gave.
    engine = FakeEngine()
    server = ControlServer(sockdir / "c.sock", lambda p, ro: FakeClient(engine, ro, p.who))
    await server.start()
    try:
        client = await connect(server.path)
        try:
            snap = await client.snapshot()
            assert snap.read_only is False
        finally:
            await client.close()
    finally:
        await server.close()
    with pytest.raises(PermissionDenied):
        await FakeClient(engine, True).call(Reload())


async def test_events_are_registered_at_call_time(served: tuple[ControlServer, FakeEngine]) -> None:
    server, engine = served
    client = await connect(server.path)
    try:
        it = client.events()  # nobody reads yet
        await async_wait_until(lambda: len(engine.subscribers) == 1, timeout=5)
        engine.publish(LogEvent(3.0, "info", "before the first read"))
        await asyncio.sleep(0.05)
        engine.publish(LogEvent(4.0, "info", "second"))
        assert await asyncio.wait_for(anext(it), 5) == LogEvent(
            3.0, "info", "before the first read"
        )
        assert await asyncio.wait_for(anext(it), 5) == LogEvent(4.0, "info", "second")
        await it.aclose()  # type: ignore[attr-defined]
        with pytest.raises(StopAsyncIteration):
            await anext(it)
    finally:
        await client.close()


@pytest.mark.root
def test_socket_client_permission_denied_message(sockdir: Path) -> None:
    """A user the socket's mode keeps out gets a clear PermissionDenied, not an OSError."""
    require_root("switching uid")
    os.chmod(sockdir, 0o755)
    path = sockdir / "c.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()
    os.chmod(path, 0o600)  # root only
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                asyncio.run(SocketClient(path).connect())
                os.write(w, b"connected?!")
            except PermissionDenied as exc:
                os.write(w, str(exc).encode())
                code = 0
        finally:
            os._exit(code)
    os.close(w)
    try:
        with os.fdopen(r, "rb") as f:
            said = f.read().decode()
        _, status = os.waitpid(pid, 0)
    finally:
        listener.close()
    assert os.waitstatus_to_exitcode(status) == 0, said
    assert said == (
        f"permission denied on {path}\n"
        "  hint: run as root or as a member of the daemon's control_group"
    )


async def test_reconnect_ends_old_streams(served: tuple[ControlServer, FakeEngine]) -> None:
    server, engine = served
    client = await connect(server.path)
    try:
        old = client.events()
        first = asyncio.ensure_future(anext(old))
        await async_wait_until(lambda: len(engine.subscribers) == 1, timeout=5)
        await client.reconnect(timeout=5)
        with pytest.raises(ControlError, match="reconnecting"):
            await asyncio.wait_for(first, 5)
        new = client.events()
        await async_wait_until(lambda: len(engine.subscribers) == 1, timeout=5)
        engine.publish(LogEvent(5.0, "info", "after"))
        assert await asyncio.wait_for(anext(new), 5) == LogEvent(5.0, "info", "after")
        await new.aclose()  # type: ignore[attr-defined]
    finally:
        await client.close()


async def test_client_hanging_up_after_bad_lines_leaves_no_traceback(
    served: tuple[ControlServer, FakeEngine], caplog: pytest.LogCaptureFixture
) -> None:
    # QA: garbage then an immediate close used to put chained tracebacks in the daemon log.
    server, _ = served
    for _ in range(3):
        s = socket.socket(socket.AF_UNIX)
        s.setblocking(False)
        await asyncio.get_running_loop().sock_connect(s, str(server.path))
        s.sendall(b"bad\n{x\nzz\n" * 50)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    await asyncio.sleep(0.2)  # let the server read and answer into the closed sockets
    replies = await raw_exchange(server.path, [b'{"v":1,"type":"hello","id":1}\n'])
    assert replies[0]["type"] == "hello"
    noisy = [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert noisy == [], [r.getMessage() for r in noisy]
