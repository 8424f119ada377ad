"""EngineClient: the one interface the console and the CLI use to talk to an engine.

`LocalClient` (in `lvstui.control.local`) wraps an engine running in the same process;
`SocketClient` talks to a daemon over the control socket. A console cannot tell them apart.

Reconnecting (for the console): when `events()` raises `ControlError` the daemon went away
(restart, crash). Call `await client.reconnect()` — it retries with a bound and raises
`ControlError` when the daemon does not come back — then take a fresh `snapshot()` and
iterate `events()` again::

    while True:
        try:
            async for ev in client.events():
                ...
        except ControlError:
            await client.reconnect(timeout=30)
            snap = await client.snapshot()
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import msgspec

from lvstui.control.delta import apply_delta, decode_snapshot_json
from lvstui.control.protocol import (
    MAX_RESPONSE_LINE,
    ProtocolError,
    decode_event,
    decode_result,
    decode_snapshot,
    encode,
    message,
    parse_reply,
)
from lvstui.errors import CommandError, ControlError, LvstuiError, PermissionDenied
from lvstui.model import Command, CommandResult, Event, Snapshot

__all__ = ["EngineClient", "SocketClient", "connect"]


class EngineClient(Protocol):
    @property
    def read_only(self) -> bool:
        """True when this client's role may not change anything."""
        ...

    @property
    def description(self) -> str:
        """Where the engine is: "embedded" or "attached to /run/lvstui/control.sock"."""
        ...

    async def snapshot(self) -> Snapshot:
        """The engine's current state. Raises ControlError when the engine is gone."""
        ...

    def events(self, replay: bool = False) -> AsyncIterator[Event]:
        """Events as they happen, from now on. Ends (or raises ControlError) on disconnect.
        `replay`: start with the engine's recent events (a console attaching shows what
        happened before it came); an engine that keeps none starts with the live ones."""
        ...

    async def call(self, command: Command) -> CommandResult:
        """Run one operator command. PermissionDenied for a read-only role."""
        ...

    async def close(self) -> None: ...


_EVENT_BUFFER = 10_000  # events waiting for a slow consumer of events() before it is failed
_GONE = object()  # sentinel pushed to event queues when the connection ends


def _no_daemon(path: Path) -> ControlError:
    return ControlError(
        f"no daemon listening on {path}",
        hint="start `lvstui --daemon` or pass --socket",
    )


class SocketClient:
    """`EngineClient` over the control socket. Connects on first use (or `connect()`)."""

    def __init__(self, path: str | Path, *, timeout: float = 10.0, deltas: bool = True) -> None:
        self.path = Path(path)
        self.timeout = timeout  # per request
        self.deltas = deltas  # False: always ask for full snapshots (protocol v1 as first shipped)
        self._snap_lock = asyncio.Lock()
        self._base: Snapshot | None = None  # the last snapshot received, and its number
        self._base_ref: int | None = None
        self.hello: dict[str, Any] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._subscribers: set[asyncio.Queue[object]] = set()
        self._subscribed = False
        self._lost: LvstuiError | None = None
        self._lock = asyncio.Lock()
        self._sub_lock = asyncio.Lock()

    # --- EngineClient ----------------------------------------------------------------------

    @property
    def read_only(self) -> bool:
        return bool(self.hello.get("role", "reader") != "operator")

    @property
    def description(self) -> str:
        return f"attached to {self.path}"

    @property
    def connected(self) -> bool:
        return self._writer is not None and self._lost is None

    async def snapshot(self) -> Snapshot:
        """The engine's state. After the first full snapshot of a connection, the daemon
        sends only the services that changed since the one this client holds (see
        `lvstui.control.delta`); the result is the same full Snapshot either way."""
        async with self._snap_lock:  # one at a time: each delta builds on the previous one
            for attempt in range(2):
                if self.deltas:
                    reply = await self._request("snapshot", base=self._base_ref)
                else:
                    reply = await self._request("snapshot")
                try:
                    snap = self._snapshot_from(reply)
                except ProtocolError:
                    self._base, self._base_ref = None, None
                    if attempt == 0 and "delta" in reply:
                        continue  # a delta that does not fit: ask for a full one
                    raise
                ref = reply.get("ref")
                if self.deltas and type(ref) is int:
                    self._base, self._base_ref = snap, ref
                return snap
        raise AssertionError("unreachable")

    def _snapshot_from(self, reply: dict[str, Any]) -> Snapshot:
        if "delta" in reply:
            if self._base is None or reply.get("base") != self._base_ref:
                raise ProtocolError("a delta from a snapshot this client does not hold")
            return apply_delta(self._base, reply["delta"])
        raw = reply.get("snapshot")
        if isinstance(raw, msgspec.Raw):
            return decode_snapshot_json(raw)
        return decode_snapshot(raw)

    async def call(self, command: Command) -> CommandResult:
        reply = await self._request("call", command=encode(command))
        return decode_result(reply.get("result"))

    async def call_on(self, director: str, command: Command) -> CommandResult:
        """`command` run by the group's director `director`, through this daemon."""
        await self._need_director()
        reply = await self._request("call", command=encode(command), director=director)
        return decode_result(reply.get("result"))

    async def snapshot_of(self, director: str) -> Snapshot:
        """The snapshot of the group's director `director`, read through this daemon."""
        await self._need_director()
        return self._snapshot_from(await self._request("snapshot", director=director))

    async def _need_director(self) -> None:
        # an older daemon ignores the key and would act on itself: never send it there
        await self._ensure()
        if "director" not in self.hello.get("features", ()):
            raise CommandError(
                f"the daemon on {self.path} ({self.hello.get('server', '?')}) cannot act "
                "through another director",
                hint="upgrade it (lvstui ctl upgrade), or run the command on that director",
            )

    def events(self, replay: bool = False) -> AsyncIterator[Event]:
        """Events from the moment of this call: the queue is registered at once, and the
        subscription (when this connection has none yet) is sent right away. `replay`
        asks the daemon for its recent events first; only the first subscription of a
        connection can have them (the daemon sends them once, to every stream of it)."""
        return _EventStream(self, replay)

    async def subscribe(self, replay: bool = False) -> None:
        """Ask the daemon for the event stream (once per connection). Idempotent."""
        await self._ensure()
        async with self._sub_lock:
            if not self._subscribed:
                if replay:  # an older daemon ignores the key: no replay, live events
                    await self._request("subscribe", replay=True)
                else:
                    await self._request("subscribe")
                self._subscribed = True

    async def close(self) -> None:
        await self._disconnect(ControlError("client closed"))

    # --- connection ------------------------------------------------------------------------

    async def connect(self) -> dict[str, Any]:
        """Open the socket and say hello. Returns the server's hello (role, version)."""
        async with self._lock:
            if self.connected:
                return self.hello
            await self._disconnect(None)
            try:
                self._reader, self._writer = await asyncio.wait_for(
                    asyncio.open_unix_connection(str(self.path), limit=MAX_RESPONSE_LINE),
                    self.timeout,
                )
            except (FileNotFoundError, ConnectionRefusedError):
                raise _no_daemon(self.path) from None
            except PermissionError:
                raise PermissionDenied(
                    f"permission denied on {self.path}",
                    hint="run as root or as a member of the daemon's control_group",
                ) from None
            except OSError as exc:
                if exc.errno in (errno.ENOTSOCK, errno.ENOTDIR):
                    raise _no_daemon(self.path) from None
                raise ControlError(f"cannot connect to {self.path}: {exc}") from None
            except TimeoutError:
                raise ControlError(f"{self.path}: no answer within {self.timeout}s") from None
            self._lost = None
            self._subscribed = False
            self._base, self._base_ref = None, None  # a new connection knows no snapshot
            self._reader_task = asyncio.create_task(self._read_loop())
        self.hello = await self._request("hello", client="lvstui")
        return self.hello

    async def reconnect(self, timeout: float = 30.0, interval: float = 0.5) -> dict[str, Any]:
        """Reconnect, retrying until `timeout`; ControlError if the daemon stays away.

        Event streams of the old connection end (with ControlError): iterate `events()`
        again after this returns."""
        await self._disconnect(ControlError(f"reconnecting to {self.path}"))
        hello: dict[str, Any] = await _retry(self.connect, timeout, interval)
        return hello

    async def _ensure(self) -> None:
        if not self.connected:
            if self._lost is not None and self._writer is not None:
                raise self._lost
            await self.connect()

    async def _request(self, type_: str, **body: Any) -> dict[str, Any]:
        if type_ != "hello":
            await self._ensure()
        if self._lost is not None:
            raise self._lost
        assert self._writer is not None
        id_ = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[id_] = fut
        try:
            self._writer.write(message(type_, id_, **body))
            await self._writer.drain()
            reply = await asyncio.wait_for(fut, self.timeout)
        except (ConnectionError, OSError) as exc:
            raise ControlError(f"connection to {self.path} lost: {exc}") from None
        except TimeoutError:
            raise ControlError(
                f"the daemon on {self.path} did not answer {type_!r} within {self.timeout}s"
            ) from None
        finally:
            self._pending.pop(id_, None)
        if reply.get("type") == "error":
            raise _error_from(reply)
        return reply

    async def _read_loop(self) -> None:
        assert self._reader is not None
        reason: LvstuiError = ControlError(
            f"the daemon on {self.path} closed the connection",
            hint="it stopped or restarted; reconnect",
        )
        try:
            while True:
                try:
                    line = await self._reader.readline()
                except ValueError:
                    reason = ControlError("the daemon sent a line that is too long")
                    break
                if not line:
                    break
                try:
                    msg = parse_reply(line)
                except ProtocolError as exc:
                    reason = exc
                    break
                id_ = msg.get("id")
                if msg["type"] == "event":
                    self._publish(msg.get("event"))
                elif id_ is not None and id_ in self._pending:
                    fut = self._pending[id_]
                    if not fut.done():
                        fut.set_result(msg)
                elif msg["type"] == "error":
                    # Not an answer: the server is telling us why it hangs up (refused, slow).
                    reason = _error_from(msg)
        except (ConnectionError, OSError) as exc:
            reason = ControlError(f"connection to {self.path} lost: {exc}")
        self._lose(reason)

    def _lose(self, reason: LvstuiError) -> None:
        """The connection is gone for `reason`: every waiting call fails with it and every
        event iteration ends."""
        self._lost = reason
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(reason)
        for q in list(self._subscribers):
            _push(q, _GONE)

    def _publish(self, data: Any) -> None:
        for q in list(self._subscribers):
            if not _push(q, data):
                # The consumer fell far behind: end its iteration rather than lie to it.
                self._subscribers.discard(q)

    async def _disconnect(self, reason: ControlError | None) -> None:
        task, self._reader_task = self._reader_task, None
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if reason is not None:
            self._lose(reason)
        self._reader = None
        self._subscribed = False


class _EventStream:
    """One consumer of a SocketClient's events (what `SocketClient.events()` returns)."""

    def __init__(self, client: SocketClient, replay: bool = False) -> None:
        self._client = client
        self._replay = replay
        self._queue: asyncio.Queue[object] = asyncio.Queue(_EVENT_BUFFER)
        client._subscribers.add(self._queue)
        self._closed = False
        # Subscribe now, not at the first read, so nothing after this call is missed.
        self._subscribing: asyncio.Task[None] | None = None
        try:
            self._subscribing = asyncio.get_running_loop().create_task(client.subscribe(replay))
        except RuntimeError:  # no loop yet: subscribe at the first read
            self._subscribing = None

    def __aiter__(self) -> _EventStream:
        return self

    async def __anext__(self) -> Event:
        if self._closed:
            raise StopAsyncIteration
        try:
            if self._subscribing is not None:
                task, self._subscribing = self._subscribing, None
                await task
            elif not self._client._subscribed:
                await self._client.subscribe(self._replay)
            item = await self._queue.get()
        except BaseException:
            await self.aclose()
            raise
        if item is _GONE:
            await self.aclose()
            raise self._client._lost or ControlError(f"connection to {self._client.path} lost")
        return decode_event(item)

    async def aclose(self) -> None:
        self._closed = True
        self._client._subscribers.discard(self._queue)
        task, self._subscribing = self._subscribing, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, LvstuiError):
                await task
        elif task is not None and task.done() and not task.cancelled():
            task.exception()  # retrieved: a failed subscribe is reported by __anext__ only


def _push(q: asyncio.Queue[object], item: object) -> bool:
    try:
        q.put_nowait(item)
    except asyncio.QueueFull:
        with contextlib.suppress(asyncio.QueueEmpty):
            q.get_nowait()
        q.put_nowait(_GONE)
        return False
    return True


def _error_from(msg: dict[str, Any]) -> LvstuiError:
    code = msg.get("code", "")
    text = str(msg.get("error", "error"))
    hint = str(msg.get("hint", ""))
    if code == "permission":
        return PermissionDenied(text, hint=hint)
    if code == "command":
        # Same type as LocalClient raises for a command naming what does not exist.
        return CommandError(text, hint=hint)
    return ControlError(f"{text} [{code}]" if code else text, hint=hint)


_T = TypeVar("_T")


async def _retry(fn: Callable[[], Awaitable[_T]], timeout: float, interval: float) -> _T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await fn()
        except PermissionDenied:
            raise
        except ControlError:
            if time.monotonic() + interval > deadline:
                raise
            await asyncio.sleep(interval)


async def connect(
    path: str | Path, *, timeout: float = 0.0, interval: float = 0.5, request_timeout: float = 10.0
) -> SocketClient:
    """A connected SocketClient; with `timeout` > 0, retry until the daemon answers."""
    client = SocketClient(path, timeout=request_timeout)
    try:
        if timeout > 0:
            await _retry(client.connect, timeout, interval)
        else:
            await client.connect()
    except BaseException:
        await client.close()  # a refused hello (busy, permission) leaves no socket behind
        raise
    return client
