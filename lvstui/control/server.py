"""The control socket server: a Unix socket speaking `lvstui.control.protocol`.

Who may do what is decided by the kernel, not by anything the peer says: SO_PEERCRED gives
the connecting process's uid, gid and pid.

- *operator* (may run commands): root, the daemon's own user, and members of
  `[lvstui] control_group`;
- *reader* (snapshot and events only): everyone else who can open the socket, unless
  `control_read_only_others = false`, in which case they are refused.

The socket file itself is mode 0660 (group: `control_group` when set) in a 0750 directory,
so the filesystem already keeps strangers out; the role check is the second gate.

Every command, accepted or refused, is appended to the audit log as one JSON line. A
command is not run when the audit log cannot take its line (read-only or missing
directory, a full filesystem): the caller gets an ``audit`` error and the daemon logs it.
Nothing is done that is not recorded.

Descriptors are a shared budget (issue 10): at most `max_connections` clients in all and
`max_per_uid` per user, and none while the process is within its descriptor reserve
(`lvstui.descriptors`), so a flood of idle connections never starves the health checks.
A refused client gets a ``busy`` error saying why, then the connection is closed.

The engine is reached through `EngineClient` objects made per connection by a factory
(`LocalClient(engine, read_only=..., who=...)` in the daemon), so this module knows nothing
of the engine's internals and tests drive it with a fake. A slow client never stalls the
engine: its events go through a bounded queue and a client that lets it fill is cut off (it
can reconnect and take a fresh snapshot; a client that silently missed events would show a
wrong picture).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import errno
import grp
import json
import logging
import os
import pwd
import socket
import stat
import struct
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from lvstui import __version__
from lvstui.control.client import EngineClient
from lvstui.control.delta import encode_delta, encode_snapshot_json
from lvstui.control.protocol import (
    MAX_REQUEST_LINE,
    VERSION,
    ProtocolError,
    decode_command,
    encode,
    error_message,
    message,
    parse_line,
    snapshot_message,
)
from lvstui.descriptors import DescriptorReserve
from lvstui.errors import CommandError, ControlError, LvstuiError, PermissionDenied
from lvstui.model import Command, CommandResult, Event, ProcessView, Snapshot

__all__ = [
    "AuditError",
    "AuditLog",
    "ClientFactory",
    "ControlServer",
    "Peer",
    "Role",
    "decide_role",
    "peer_credentials",
]

log = logging.getLogger("lvstui.control")

EVENT_QUEUE: Final = 1024  # events buffered per client before it is cut off as too slow
MAX_IN_FLIGHT: Final = 16  # requests of one connection handled concurrently
MAX_CONNECTIONS: Final = 256  # clients at once, all users together
MAX_PER_UID: Final = 64  # clients at once per uid (root included: a runaway script)
REFUSE_LINGER: Final = 0.2  # seconds a refused client gets to have its hello read
REFUSAL_LOG_EVERY: Final = 10.0  # seconds between two log lines about refused clients
AUDIT_MIN_FREE: Final = 64 * 1024  # bytes the audit log's filesystem must have left


class Role(enum.Enum):
    OPERATOR = "operator"
    READER = "reader"


@dataclass(frozen=True, slots=True)
class Peer:
    """The process at the other end, as the kernel reports it."""

    pid: int
    uid: int
    gid: int
    user: str
    groups: frozenset[int] = frozenset()

    @property
    def who(self) -> str:
        return f"{self.user} (uid {self.uid}, pid {self.pid})"


# (peer, read_only) → the EngineClient that serves this connection.
ClientFactory = Callable[[Peer, bool], EngineClient]


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _proc_groups(pid: int) -> frozenset[int]:
    """Supplementary groups of a live process (the kernel's view, not /etc/group's)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("Groups:"):
            return frozenset(int(g) for g in line.split()[1:])
    return frozenset()


def peer_credentials(sock: socket.socket) -> Peer:
    fmt = "3i"  # struct ucred: pid, uid, gid
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize(fmt))
    pid, uid, gid = struct.unpack(fmt, raw)
    return Peer(pid, uid, gid, _user_name(uid), _proc_groups(pid) | {gid})


def decide_role(peer: Peer, group: str, read_only_others: bool) -> Role | None:
    """The role of a peer, or None when it must be refused."""
    if peer.uid in (0, os.geteuid()):
        return Role.OPERATOR
    if group:
        try:
            g = grp.getgrnam(group)
        except KeyError:
            log.warning("control_group %r does not exist: only root may operate", group)
        else:
            if g.gr_gid in peer.groups or peer.user in g.gr_mem:
                return Role.OPERATOR
    return Role.READER if read_only_others else None


class AuditError(OSError):
    """The audit log cannot take a line: the command is not run."""


class AuditLog:
    """One JSON line per command: when, who, what, and the result (or why it was refused).

    `check()` runs before a command: the file must open for appending and its filesystem
    must have `AUDIT_MIN_FREE` bytes left, else AuditError and the command is not run.
    `write()` raises AuditError too (a line lost after a change was made is an error the
    caller hears of); `record()` is for refusals, where there is nobody left to tell."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.failures = 0  # lines that could not be written, or checks that failed

    def _fail(self, why: str) -> AuditError:
        self.failures += 1
        log.error("cannot write the audit log %s: %s", self.path, why)
        return AuditError(f"the audit log {self.path} cannot be written: {why}")

    def check(self) -> None:
        if self.path is None:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            try:
                st = os.fstatvfs(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise self._fail(exc.strerror or str(exc)) from None
        # root may use the blocks reserved for it; the daemon's user may not
        blocks = st.f_bfree if os.geteuid() == 0 else st.f_bavail
        if blocks * st.f_frsize < AUDIT_MIN_FREE:
            raise self._fail(f"no space left ({blocks * st.f_frsize} bytes free)")

    def write(self, peer: Peer, role: Role | None, command: Any, result: dict[str, Any]) -> None:
        if self.path is None:
            return
        now = time.time()
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
            + f".{int(now % 1 * 1000):03d}Z",
            "uid": peer.uid,
            "user": peer.user,
            "pid": peer.pid,
            "role": role.value if role else None,
            "command": command,
            "result": result,
        }
        line = json.dumps(entry, separators=(",", ":"), allow_nan=False) + "\n"
        try:
            # Opened per line: survives logrotate, and a line is one write() (O_APPEND).
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            try:
                data = line.encode()
                if os.write(fd, data) != len(data):
                    raise OSError(errno.ENOSPC, "short write")
            finally:
                os.close(fd)
        except OSError as exc:
            raise self._fail(exc.strerror or str(exc)) from None

    def record(self, peer: Peer, role: Role | None, command: Any, result: dict[str, Any]) -> None:
        """`write` for a refusal: a failure is logged and counted, not raised."""
        with contextlib.suppress(AuditError):
            self.write(peer, role, command, result)


class _Connection:
    def __init__(
        self,
        server: ControlServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: Peer,
        role: Role,
        client: EngineClient,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.peer = peer
        self.role = role
        self.client = client
        self.write_lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()
        self.slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.events: asyncio.Queue[Event] | None = None
        self.closing = False
        # The last snapshot sent to a delta-capable client, and the number it knows it by.
        self.snapshot_lock = asyncio.Lock()
        self.sent: Snapshot | None = None
        self.sent_ref = 0

    async def send(self, line: bytes) -> None:
        async with self.write_lock:
            self.writer.write(line)
            await self.writer.drain()

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def serve(self) -> None:
        try:
            while not self.closing:
                try:
                    line = await self.reader.readline()
                except ValueError:  # longer than MAX_REQUEST_LINE: cannot resync, hang up
                    await self._try_send(
                        error_message(
                            None, "too_long", f"line longer than {MAX_REQUEST_LINE} bytes"
                        )
                    )
                    return
                except (ConnectionError, OSError):  # the peer hung up: nothing to report
                    return
                if not line:
                    return
                if not line.strip():
                    continue
                try:
                    req = parse_line(line)
                except ProtocolError as exc:
                    # A client that sent garbage and hung up must not leave a traceback.
                    await self._try_send(error_message(None, exc.code, exc.message, exc.hint))
                    continue
                await self.slots.acquire()
                self._spawn(self._handle(req))
        finally:
            await self.close()

    async def _handle(self, req: dict[str, Any]) -> None:
        try:
            reply = await self._reply(req)
            try:
                await self.send(reply)
            except (ConnectionError, OSError):  # the peer is gone: nobody to tell
                self.closing = True
        finally:
            self.slots.release()

    async def _reply(self, req: dict[str, Any]) -> bytes:
        """The answer to one request, or the error reply that says why there is none.
        Whatever fails here (the engine, the state dir, the audit log) the caller hears of
        it: an OSError from below is not the peer hanging up (issue 10: `ctl drain` with a
        read-only state dir waited 10 s for a reply that never came)."""
        id_ = req.get("id")
        try:
            return await self._answer(req)
        except ProtocolError as exc:
            return error_message(id_, exc.code, exc.message, exc.hint)
        except PermissionDenied as exc:
            return error_message(id_, "permission", exc.message, exc.hint)
        except CommandError as exc:
            return error_message(id_, "command", exc.message, exc.hint)
        except AuditError as exc:
            return error_message(
                id_, "audit", str(exc), "free space in the state directory, or make it writable"
            )
        except LvstuiError as exc:
            return error_message(id_, "engine", str(exc))
        except OSError as exc:  # a file or socket of the daemon's own: say which
            log.error("control request %r failed: %s", req.get("type"), exc)
            return error_message(id_, "engine", f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # the engine misbehaved: say so, keep serving others
            log.exception("control request %r failed", req.get("type"))
            return error_message(id_, "internal", f"{type(exc).__name__}: {exc}")

    async def _try_send(self, line: bytes) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await self.send(line)

    async def _answer(self, req: dict[str, Any]) -> bytes:
        id_ = req.get("id")
        type_ = req["type"]
        if type_ == "hello":
            return message(
                "hello",
                id_,
                role=self.role.value,
                server=f"lvstui {__version__}",
                protocol=VERSION,
                user=self.peer.user,
                uid=self.peer.uid,
            )
        if type_ == "snapshot":
            snap = await self.client.snapshot()
            process = self.server.process
            snap = dataclasses.replace(
                snap,
                read_only=self.role is not Role.OPERATOR,
                process=process() if process is not None else snap.process,
            )
            return await self._snapshot_reply(id_, req, snap)
        if type_ == "subscribe":
            if self.events is None:
                self.events = asyncio.Queue(self.server.event_queue)
                # Registered before we answer, so the client misses nothing after the reply.
                stream = self.client.events()
                self._spawn(self._pump_events(stream))
                self._spawn(self._write_events())
            return message("result", id_, result=encode(CommandResult(True, "subscribed")))
        # "call"
        raw = req.get("command")
        try:
            command = decode_command(raw)
        except ProtocolError:
            self.server.audit.record(self.peer, self.role, raw, {"refused": "malformed command"})
            raise
        return message("result", id_, result=encode(await self._call(command, raw)))

    async def _snapshot_reply(self, id_: int | None, req: dict[str, Any], snap: Snapshot) -> bytes:
        """A full snapshot, or (for a client that sent ``base``) the delta from the one it
        holds. Encoded in a worker thread: at 1,000 x 10 a snapshot is 7 MB of JSON, and
        the event loop (VRRP adverts, checks) must not wait for it. The snapshot is frozen,
        so the thread reads nothing that changes under it."""
        if "base" not in req:  # a client that only knows full snapshots
            payload = await asyncio.to_thread(encode_snapshot_json, snap)
            return snapshot_message(id_, payload)
        base = req["base"]
        async with self.snapshot_lock:  # keeps (ref, last snapshot) paired
            last = self.sent if base is not None and base == self.sent_ref else None
            self.sent_ref += 1
            ref = self.sent_ref
            if last is None:
                payload = await asyncio.to_thread(encode_snapshot_json, snap)
            else:
                payload = await asyncio.to_thread(encode_delta, last, snap)
            self.sent = snap
        if last is None:
            return snapshot_message(id_, payload, ref=ref)
        return snapshot_message(id_, payload, delta=True, ref=ref, base=base)

    async def _call(self, command: Command, raw: Any) -> CommandResult:
        audit = self.server.audit
        if self.role is not Role.OPERATOR:
            audit.record(self.peer, self.role, raw, {"refused": "read-only role"})
            raise PermissionDenied(
                f"{self.peer.user} may only read: {command.kind} refused",
                hint="run it as root or as a member of [lvstui] control_group",
            )
        # Before anything changes: a command whose line cannot be written is not run.
        if audit.path is not None:
            await asyncio.to_thread(audit.check)  # a filesystem call: off the event loop
        try:
            result = await self.client.call(command)
        except LvstuiError as exc:
            audit.record(self.peer, self.role, raw, {"ok": False, "error": exc.message})
            raise
        except Exception as exc:
            audit.record(self.peer, self.role, raw, {"ok": False, "error": repr(exc)})
            raise
        entry = {"ok": result.ok, "message": result.message}
        try:
            audit.write(self.peer, self.role, raw, entry)
        except AuditError as exc:  # checked a moment ago; lost since (a race with a filler)
            raise AuditError(f"{command.kind} was applied ({result.message}) but {exc}") from None
        return result

    async def _pump_events(self, stream: AsyncIterator[Event]) -> None:
        """Engine events → this client's bounded queue, never waiting on the client."""
        assert self.events is not None
        try:
            async for ev in stream:
                try:
                    self.events.put_nowait(ev)
                except asyncio.QueueFull:
                    # Its socket is full too, so no goodbye can be written: hang up. The
                    # client sees the connection end and reconnects with a fresh snapshot.
                    log.warning(
                        "control: %s left %d events unread: disconnected",
                        self.peer.who,
                        self.events.maxsize,
                    )
                    self._abort()
                    return
        except ControlError as exc:
            await self._try_send(error_message(None, "engine", f"event stream ended: {exc}"))
            self._abort()

    async def _write_events(self) -> None:
        assert self.events is not None
        while True:
            ev = await self.events.get()
            try:
                await self.send(message("event", None, event=encode(ev)))
            except (ConnectionError, OSError):
                self._abort()
                return

    def _abort(self) -> None:
        self.closing = True
        transport = self.writer.transport
        if not transport.is_closing():
            transport.abort()

    async def close(self) -> None:
        self.closing = True
        # First, synchronously: whatever cancels us next, the socket is released.
        self.writer.close()
        current = asyncio.current_task()
        tasks = [t for t in self.tasks if t is not current]
        for t in tasks:
            t.cancel()
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            with contextlib.suppress(Exception):
                await self.client.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


class ControlServer:
    """Serves one control socket. `start()` binds, `close()` stops and removes the file."""

    def __init__(
        self,
        path: str | Path,
        client_factory: ClientFactory,
        *,
        group: str = "",
        read_only_others: bool = True,
        audit_path: str | Path | None = None,
        event_queue: int = EVENT_QUEUE,
        max_connections: int = MAX_CONNECTIONS,
        max_per_uid: int = MAX_PER_UID,
        reserve: DescriptorReserve | None = None,
        process: Callable[[], ProcessView] | None = None,
    ) -> None:
        self.path = Path(path)
        self.process = process  # the daemon's tasks, descriptors, memory for snapshots
        self.max_connections = max_connections
        self.max_per_uid = max_per_uid
        self.reserve = reserve or DescriptorReserve()
        self.refused = 0  # clients turned away (limits, descriptor reserve)
        self._per_uid: dict[int, int] = {}
        self._refusal_logged = -REFUSAL_LOG_EVERY
        self.client_factory = client_factory
        self.group = group
        self.read_only_others = read_only_others
        self.audit = AuditLog(Path(audit_path) if audit_path else None)
        self.event_queue = event_queue
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self._live: set[_Connection] = set()

    @property
    def connections(self) -> int:
        return len(self._conns)

    def counters(self) -> dict[str, int]:
        """For the metrics: clients now, clients refused, audit lines that failed."""
        return {
            "control_clients": len(self._conns),
            "control_refused": self.refused,
            "audit_failures": self.audit.failures,
        }

    async def start(self, sock: socket.socket | None = None) -> None:
        """Bind the socket (the caller has checked that no daemon answers on it), or adopt
        `sock`, the listening socket a previous daemon handed over (lvstui.handover)."""
        if sock is not None:
            sock.setblocking(False)
            self._server = await asyncio.start_unix_server(
                self._on_connect, sock=sock, limit=MAX_REQUEST_LINE
            )
            log.info("control socket %s taken over from the previous daemon", self.path)
            return
        d = self.path.parent
        if not d.exists():
            d.mkdir(mode=0o750, parents=True)
        if self.path.is_socket() or (
            self.path.exists() and stat.S_ISSOCK(self.path.lstat().st_mode)
        ):
            self.path.unlink()  # stale: nobody answered (checked by the caller)
        gid = -1
        if self.group:
            try:
                gid = grp.getgrnam(self.group).gr_gid
            except KeyError:
                log.warning(
                    "control_group %r does not exist: socket left to root's group", self.group
                )
        old_umask = os.umask(0o117)  # the socket is born 0660: no window where it is wider
        try:
            self._server = await asyncio.start_unix_server(
                self._on_connect, path=str(self.path), limit=MAX_REQUEST_LINE
            )
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o660)
        if gid >= 0:
            try:
                os.chown(self.path, -1, gid)
                if d.stat().st_uid == os.geteuid():
                    os.chown(d, -1, gid)
            except OSError as exc:
                log.warning("cannot give %s to group %s: %s", self.path, self.group, exc)
        log.info("control socket listening on %s", self.path)

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._conns.discard(task)
            writer.close()  # idempotent; covers a cancel at any point above

    async def _refuse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, why: str, who: str = ""
    ) -> None:
        """Say why, then hang up. Logged at most every REFUSAL_LOG_EVERY seconds: a flood of
        clients must not become a flood of log lines.

        The client's first line (its hello) is read before closing, for a moment at most:
        closing a Unix socket with unread input resets it, and the client would see
        "connection reset" instead of the reason."""
        self.refused += 1
        now = time.monotonic()
        if now - self._refusal_logged >= REFUSAL_LOG_EVERY:
            self._refusal_logged = now
            log.warning(
                "control: refused %s: %s (%d refused so far)", who or "a client", why, self.refused
            )
        with contextlib.suppress(ConnectionError, OSError):
            writer.write(
                error_message(None, "busy", why, hint="close idle clients (lvstui attach, scripts)")
            )
            await writer.drain()
            writer.write_eof()
            with contextlib.suppress(TimeoutError, ValueError):
                await asyncio.wait_for(reader.read(MAX_REQUEST_LINE), REFUSE_LINGER)
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        # Cheap refusals first, before a thread is spent on the peer's credentials.
        if self.reserve.exhausted(sock.fileno()):
            await self._refuse(
                reader,
                writer,
                f"the daemon is close to its limit of {self.reserve.limit} open files "
                "(descriptors are kept for health checks and VRRP)",
            )
            return
        if len(self._conns) > self.max_connections:  # _conns counts this one
            await self._refuse(reader, writer, f"{self.max_connections} control clients already")
            return
        try:
            # user and group names may come from NSS (LDAP, ...): never on the event loop
            peer, role = await asyncio.to_thread(self._identify, sock)
        except OSError as exc:
            log.warning("control: cannot read the peer's credentials: %s", exc)
            return
        if role is None:
            self.audit.record(peer, None, None, {"refused": "connection: not in control_group"})
            log.warning("control: refused %s (not root, not in control_group)", peer.who)
            with contextlib.suppress(ConnectionError, OSError):
                writer.write(
                    error_message(
                        None,
                        "permission",
                        f"{peer.user} may not use this control socket",
                        hint="run as root or as a member of [lvstui] control_group",
                    )
                )
                await writer.drain()
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            return
        if self._per_uid.get(peer.uid, 0) >= self.max_per_uid:
            await self._refuse(
                reader,
                writer,
                f"{self.max_per_uid} control clients of {peer.user} already",
                peer.who,
            )
            return
        self._per_uid[peer.uid] = self._per_uid.get(peer.uid, 0) + 1
        try:
            client = self.client_factory(peer, role is not Role.OPERATOR)
            conn = _Connection(self, reader, writer, peer, role, client)
            self._live.add(conn)
            try:
                await conn.serve()
            finally:
                self._live.discard(conn)
        finally:
            left = self._per_uid[peer.uid] - 1
            if left:
                self._per_uid[peer.uid] = left
            else:
                del self._per_uid[peer.uid]

    def _identify(self, sock: socket.socket) -> tuple[Peer, Role | None]:
        peer = peer_credentials(sock)
        return peer, decide_role(peer, self.group, self.read_only_others)

    def fileno(self) -> int:
        """The listening socket's descriptor (to hand it over), -1 when not listening."""
        if self._server is None or not self._server.sockets:
            return -1
        return self._server.sockets[0].fileno()

    async def close(self, *, unlink: bool = True) -> None:
        """Stop listening, hang up on every client, remove the socket file (unless
        `unlink` is False: a new daemon serves it now)."""
        if self._server is not None:
            self._server.close()
            # Hang up on every client (their handlers then end on EOF). Cancelling the
            # handler tasks instead makes asyncio's stream callback log a spurious error.
            for conn in list(self._live):
                conn._abort()
            if self._conns:
                _, pending = await asyncio.wait(list(self._conns), timeout=5)
                for t in pending:
                    t.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
        if not unlink:
            return
        with contextlib.suppress(FileNotFoundError):
            if self.path.is_socket():
                self.path.unlink()
