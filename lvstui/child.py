"""Run a program as a child that cannot outlast its bounds: MISC_CHECK, notify and quorum
scripts, vrrp_script all go through `run_child`.

- The child starts a session of its own, so it and everything it forks form one process
  group. At the timeout, and when the caller is cancelled (stop, check removed), the whole
  group gets SIGKILL.
- We wait for the child's *exit*, not for the end of its output: a grandchild that left the
  group (`setsid`) and still holds the pipe can neither lengthen a run nor wedge a worker —
  once the group is gone, our end of the pipe is closed after a short grace.
- Output is bounded while it is read: the first `cap` bytes are kept, the rest is counted
  and dropped as it arrives (100 MB of output costs nothing but the reading).
- Dropping to another user works on every event loop: asyncio's own loop gets
  `user`/`group`/`extra_groups`; others (uvloop rejects those keywords) get the same three
  system calls in the child before exec.
- `printable` turns output into one log-safe line: no NUL or control bytes, length-capped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import signal
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EXIT_GRACE",
    "ChildResult",
    "Credentials",
    "printable",
    "resolve_user",
    "run_child",
]

EXIT_GRACE = 1.0  # after the group is killed or the child exited: how long output may take
REAP_GRACE = 5.0  # after SIGKILL: how long the exit status may take to be reported


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who a child runs as (resolved once, at build time, so a typo is a clear error)."""

    user: str
    uid: int
    gid: int
    groups: tuple[int, ...]


def resolve_user(user: str) -> Credentials:
    """Credentials for a user name or numeric uid; KeyError names an unknown user."""
    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except KeyError:
        raise KeyError(f"no such user {user!r}") from None
    groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
    return Credentials(entry.pw_name, entry.pw_uid, entry.pw_gid, groups)


@dataclass(frozen=True, slots=True)
class ChildResult:
    returncode: int | None  # None: the timeout struck (the group was killed)
    output: bytes  # the first `cap` bytes of stdout+stderr
    dropped: int  # bytes of output read past the cap and thrown away
    elapsed: float  # seconds, monotonic

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


class _Collector(asyncio.SubprocessProtocol):
    """Keeps the first `cap` bytes; tells when the child exited and when the pipes closed."""

    def __init__(self, loop: asyncio.AbstractEventLoop, cap: int) -> None:
        self.cap = cap
        self.output = bytearray()
        self.dropped = 0
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        room = self.cap - len(self.output)
        if room > 0:
            self.output += data[:room]
        self.dropped += max(0, len(data) - max(room, 0))

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def run_child(
    argv: Sequence[str],
    *,
    timeout: float | None,
    cap: int = 4096,
    capture: bool = True,
    env: Mapping[str, str] | None = None,
    credentials: Credentials | None = None,
    kill_group_on_exit: bool = False,
) -> ChildResult:
    """Run `argv` (never through a shell) within `timeout` seconds (None: until cancelled).

    OSError (or ValueError) when it cannot start. `kill_group_on_exit`: also kill what the
    child left running in its group after a normal exit (a check leaves nothing behind; a
    notify script may legitimately start something in the background)."""
    loop = asyncio.get_running_loop()
    out = asyncio.subprocess.PIPE if capture else asyncio.subprocess.DEVNULL
    err = asyncio.subprocess.STDOUT if capture else asyncio.subprocess.DEVNULL
    started = time.monotonic()
    spawn = asyncio.ensure_future(
        loop.subprocess_exec(
            lambda: _Collector(loop, cap),
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            env=dict(env) if env is not None else None,
            **_drop_privileges(loop, credentials),
        )
    )
    try:
        transport, proto = await asyncio.shield(spawn)
    except asyncio.CancelledError:
        # stopped while the child was starting: it may run already; wait for the start, then
        # kill its group like any other run (the loop alone would kill the leader only)
        await _finish(_abort_spawn(spawn))
        raise
    pid = transport.get_pid()
    timed_out = False
    try:
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(proto.exited)
        except TimeoutError:
            timed_out = True
    finally:
        # Timeout or cancellation (stop): nothing of the group may survive. This runs before
        # any await, so a second cancellation cannot skip it.
        if timed_out or kill_group_on_exit or not proto.exited.done():
            _killpg(pid)
        await _finish(_settle(transport, proto))
    rc = None if timed_out else transport.get_returncode()
    return ChildResult(rc, bytes(proto.output), proto.dropped, time.monotonic() - started)


async def _settle(transport: asyncio.SubprocessTransport, proto: _Collector) -> None:
    """Bounded: the last output (unless a process that left the group holds the pipe), then
    our end of the pipes closed, then the exit status (SIGKILLed: it comes)."""
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(EXIT_GRACE):
                await asyncio.shield(proto.closed)
    finally:
        transport.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(REAP_GRACE):
            await asyncio.shield(proto.exited)


async def _abort_spawn(
    spawn: asyncio.Future[tuple[asyncio.SubprocessTransport, _Collector]],
) -> None:
    try:
        transport, proto = await spawn
    except Exception:  # it did not start: nothing to kill
        return
    _killpg(transport.get_pid())
    await _settle(transport, proto)


async def _finish(cleanup: Coroutine[Any, Any, None]) -> None:
    """Run a bounded clean-up to its end even if we are cancelled meanwhile (a stop that
    cancels twice must not leave a killed child unreaped), then re-raise the cancellation:
    it is never swallowed."""
    task = asyncio.ensure_future(cleanup)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    task.result()


def _killpg(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _drop_privileges(loop: asyncio.AbstractEventLoop, cred: Credentials | None) -> dict[str, Any]:
    if cred is None or (cred.uid == os.geteuid() and cred.gid == os.getegid()):
        return {}
    if isinstance(loop, asyncio.BaseEventLoop):
        # asyncio's own loop: CPython switches credentials in C between fork and exec
        return {"user": cred.uid, "group": cred.gid, "extra_groups": list(cred.groups)}
    # uvloop (and other loops) accept only preexec_fn for this: the same three calls
    return {"preexec_fn": _switcher(cred)}


def _switcher(cred: Credentials) -> Callable[[], None]:
    def switch() -> None:  # runs in the forked child, before exec
        os.setgroups(list(cred.groups))
        os.setgid(cred.gid)
        os.setuid(cred.uid)

    return switch


_CONTROL = {i: f"\\x{i:02x}" for i in (*range(0x20), 0x7F)}
_CONTROL.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})


def printable(data: bytes, limit: int = 200, dropped: int = 0) -> str:
    """One log-safe line: UTF-8 (bad bytes replaced), control characters escaped, at most
    `limit` characters, and a note of what was cut."""
    text = data.decode("utf-8", "replace").strip()
    safe = "".join(c if c.isprintable() else _CONTROL.get(ord(c), f"\\u{ord(c):04x}") for c in text)
    extra = dropped
    if len(safe) > limit:
        extra += len(safe[limit:].encode())
        safe = safe[:limit]
    return f"{safe} … (+{extra} bytes)" if extra else safe
