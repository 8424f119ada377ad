"""The control socket server: a Unix socket speaking `lvstui.control.protocol`.

This module binds the socket and admits clients; the rest lives beside it:
`lvstui.control.peer` (who is calling and in which role), `lvstui.control.audit` (the
audit log no command bypasses), `lvstui.control.connection` (one client's requests,
snapshots and events).

The socket file itself is mode 0660 (group: `control_group` when set) in a 0750 directory,
so the filesystem already keeps strangers out; the role check is the second gate.

Descriptors are a shared budget (issue 10): at most `max_connections` clients in all and
`max_per_uid` per user, and none while the process is within its descriptor reserve
(`lvstui.descriptors`), so a flood of idle connections never starves the health checks.
A refused client gets a ``busy`` error saying why, then the connection is closed.

The engine is reached through `EngineClient` objects made per connection by a factory
(`LocalClient(engine, read_only=..., who=...)` in the daemon), so this module knows nothing
of the engine's internals and tests drive it with a fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import socket
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from lvstui.control.audit import AuditError, AuditLog
from lvstui.control.client import EngineClient
from lvstui.control.connection import EVENT_QUEUE, Connection, DirectorRelay
from lvstui.control.peer import Peer, Role, decide_role, peer_credentials
from lvstui.control.protocol import MAX_REQUEST_LINE, error_message
from lvstui.descriptors import DescriptorReserve
from lvstui.model import ProcessView

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

MAX_CONNECTIONS: Final = 256  # clients at once, all users together
MAX_PER_UID: Final = 64  # clients at once per uid (root included: a runaway script)
REFUSE_LINGER: Final = 0.2  # seconds a refused client gets to have its hello read
REFUSAL_LOG_EVERY: Final = 10.0  # seconds between two log lines about refused clients

# (peer, read_only) → the EngineClient that serves this connection.
ClientFactory = Callable[[Peer, bool], EngineClient]


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
        relay: DirectorRelay | None = None,
    ) -> None:
        self.relay = relay  # the director group, for `--director NAME` (None: no group)
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
        self._live: set[Connection] = set()

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
        clients must not become a flood of log lines."""
        self.refused += 1
        now = time.monotonic()
        if now - self._refusal_logged >= REFUSAL_LOG_EVERY:
            self._refusal_logged = now
            log.warning(
                "control: refused %s: %s (%d refused so far)", who or "a client", why, self.refused
            )
        await _hang_up(
            writer,
            error_message(None, "busy", why, hint="close idle clients (lvstui attach, scripts)"),
            reader,
        )

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
            await _hang_up(
                writer,
                error_message(
                    None,
                    "permission",
                    f"{peer.user} may not use this control socket",
                    hint="run as root or as a member of [lvstui] control_group",
                ),
            )
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
            conn = Connection(
                reader,
                writer,
                peer,
                role,
                client,
                audit=self.audit,
                process=self.process,
                event_queue=self.event_queue,
                relay=self.relay,
            )
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
                conn.abort()
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


async def _hang_up(
    writer: asyncio.StreamWriter, line: bytes, reader: asyncio.StreamReader | None = None
) -> None:
    """Write the one line that says why, then close. With `reader`, the client's first line
    (its hello) is read first, for REFUSE_LINGER at most: closing a Unix socket with unread
    input resets it, and the client would see "connection reset" instead of the reason."""
    with contextlib.suppress(ConnectionError, OSError):
        writer.write(line)
        await writer.drain()
        if reader is not None:
            writer.write_eof()
            with contextlib.suppress(TimeoutError, ValueError):
                await asyncio.wait_for(reader.read(MAX_REQUEST_LINE), REFUSE_LINGER)
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()
