"""One control client's connection: request dispatch, commands, snapshots, event stream.

A slow client never stalls the engine: its events go through a bounded queue and a client
that lets it fill is cut off (it can reconnect and take a fresh snapshot; a client that
silently missed events would show a wrong picture).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from typing import Any, Final, Protocol

from lvstui import __version__
from lvstui.control.audit import AuditError, AuditLog
from lvstui.control.client import EngineClient
from lvstui.control.delta import encode_delta, encode_snapshot_json
from lvstui.control.peer import Peer, Role
from lvstui.control.protocol import (
    FEATURES,
    MAX_REQUEST_LINE,
    VERSION,
    ProtocolError,
    decode_command,
    director_of,
    encode,
    error_message,
    message,
    parse_line,
    snapshot_message,
)
from lvstui.errors import CommandError, ControlError, LvstuiError, PermissionDenied
from lvstui.model import Command, CommandResult, Event, ProcessView, Snapshot

__all__ = ["EVENT_QUEUE", "Connection", "DirectorRelay"]

log = logging.getLogger("lvstui.control")

EVENT_QUEUE: Final = 1024  # events buffered per client before it is cut off as too slow
MAX_IN_FLIGHT: Final = 16  # requests of one connection handled concurrently


class DirectorRelay(Protocol):
    """The director group, as the control socket needs it to act or read through a peer
    (`ctl --director NAME`); lvstui.group.runtime.GroupRuntime fits. Both raise
    CommandError saying why when the peer is unknown or unreachable."""

    @property
    def name(self) -> str:
        """This director's name in the group: `--director` naming it acts here."""
        ...

    async def forward(
        self, director: str, command: Mapping[str, Any], operator: str
    ) -> CommandResult: ...

    async def read(self, director: str) -> Snapshot: ...


class Connection:
    """Serves one client until it hangs up. `audit` records its commands, `process` (when
    set) fills the daemon's own figures into its snapshots, `event_queue` bounds the events
    it may leave unread."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: Peer,
        role: Role,
        client: EngineClient,
        *,
        audit: AuditLog,
        process: Callable[[], ProcessView] | None = None,
        event_queue: int = EVENT_QUEUE,
        relay: DirectorRelay | None = None,
    ) -> None:
        self.relay = relay
        self.audit = audit
        self.process = process
        self.event_queue = event_queue
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

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
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
                features=list(FEATURES),
            )
        director = self._remote(director_of(req))
        if type_ == "snapshot" and director is not None:
            assert self.relay is not None
            snap = await self.relay.read(director)
            snap = dataclasses.replace(snap, read_only=self.role is not Role.OPERATOR)
            return snapshot_message(id_, await asyncio.to_thread(encode_snapshot_json, snap))
        if type_ == "snapshot":
            snap = await self.client.snapshot()
            process = self.process
            snap = dataclasses.replace(
                snap,
                read_only=self.role is not Role.OPERATOR,
                process=process() if process is not None else snap.process,
            )
            return await self._snapshot_reply(id_, req, snap)
        if type_ == "subscribe":
            if self.events is None:
                self.events = asyncio.Queue(self.event_queue)
                # Registered before we answer, so the client misses nothing after the reply.
                stream = self.client.events(replay=req.get("replay") is True)
                self._spawn(self._pump_events(stream))
                self._spawn(self._write_events())
            return message("result", id_, result=encode(CommandResult(True, "subscribed")))
        # "call"
        raw = req.get("command")
        try:
            command = decode_command(raw)
        except ProtocolError:
            self.audit.record(self.peer, self.role, raw, {"refused": "malformed command"})
            raise
        return message("result", id_, result=encode(await self._call(command, raw, director)))

    def _remote(self, director: str | None) -> str | None:
        """The peer a request is for, None when it is for this director."""
        if director is None:
            return None
        if self.relay is None:
            raise CommandError(
                f"cannot reach director {director!r}: this director is in no group",
                hint="[lvstui.group] in the configuration; or leave --director out",
            )
        return None if director == self.relay.name else director

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

    async def _call(self, command: Command, raw: Any, director: str | None) -> CommandResult:
        audit = self.audit
        sent = raw
        if director is not None:  # audited here with it; the peer audits "<who> via <us>"
            raw = {**raw, "director": director}
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
            if director is not None:
                assert self.relay is not None
                result = await self.relay.forward(director, sent, self.peer.who)
            else:
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
                    self.abort()
                    return
        except ControlError as exc:
            await self._try_send(error_message(None, "engine", f"event stream ended: {exc}"))
            self.abort()

    async def _write_events(self) -> None:
        assert self.events is not None
        while True:
            ev = await self.events.get()
            try:
                await self.send(message("event", None, event=encode(ev)))
            except (ConnectionError, OSError):
                self.abort()
                return

    def abort(self) -> None:
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
