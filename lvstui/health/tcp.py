"""TCP_CHECK: the server is alive if a TCP connection to connect_ip:connect_port opens within
connect_timeout.

The path is kept lean because a director may run thousands of these a second: one
non-blocking socket, no stream objects, no asyncio.timeout, and the wait for the
connection goes through an epoll set of our own (`_ConnectWatcher`, registered once with
the event loop) instead of the loop's add_writer/remove_writer: one EPOLLONESHOT
registration per check, removed by the kernel when the socket is closed; the same watcher
sweeps the deadlines. The socket is closed with SO_LINGER 0 (a reset, like HAProxy's
checks): thousands of checks a second would otherwise fill the director with TIME_WAIT
sockets.
"""

from __future__ import annotations

import asyncio
import errno
import os
import select
import socket
import struct
import time
import weakref

from lvstui.health.base import CheckResult, CheckSpec, CheckTarget, is_local_failure
from lvstui.netutil import is_ipv6

__all__ = ["TcpChecker", "tcp_check"]

_LINGER0 = struct.pack("ii", 1, 0)
_IN_PROGRESS = frozenset({errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY})
_ONESHOT_OUT = select.EPOLLOUT | select.EPOLLONESHOT
SWEEP = 0.01  # connect timeouts are honoured within 10 ms (never early)


class _ConnectWatcher:
    """An epoll set, itself watched by the event loop, for sockets waiting to connect, and
    their deadlines, swept every SWEEP seconds while any is pending.

    A finished connect leaves nothing behind (its entry is popped at once): per-check timer
    entries would keep a future alive for a whole connect_timeout after the check ended,
    ten thousand of them at 10,000 checks a second, for the garbage collector to walk."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._epoll = select.epoll()
        self._waiters: dict[int, tuple[asyncio.Future[bool], float]] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        loop.add_reader(self._epoll.fileno(), self._ready)

    def wait(self, fd: int, timeout: float) -> asyncio.Future[bool]:
        """A future: True when `fd` is writable (connected or failed), False at timeout."""
        loop = self._loop
        fut: asyncio.Future[bool] = loop.create_future()
        self._epoll.register(fd, _ONESHOT_OUT)
        self._waiters[fd] = (fut, loop.time() + timeout)
        if self._sweeper is None:
            self._sweeper = loop.call_later(SWEEP, self._sweep)
        return fut

    def forget(self, fd: int) -> None:
        """Before closing `fd` (closing removes it from the epoll set)."""
        self._waiters.pop(fd, None)

    def _ready(self) -> None:
        waiters = self._waiters
        for fd, _ in self._epoll.poll(0):
            entry = waiters.pop(fd, None)
            if entry is not None and not entry[0].done():
                entry[0].set_result(True)

    def _sweep(self) -> None:
        self._sweeper = None
        waiters = self._waiters
        now = self._loop.time()
        for fd in [fd for fd, (_, deadline) in waiters.items() if deadline <= now]:
            fut, _ = waiters.pop(fd)
            if not fut.done():
                fut.set_result(False)
        if waiters:
            self._sweeper = self._loop.call_later(SWEEP, self._sweep)


_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _ConnectWatcher] = (
    weakref.WeakKeyDictionary()
)


def _watcher(loop: asyncio.AbstractEventLoop) -> _ConnectWatcher:
    w = _watchers.get(loop)
    if w is None:
        w = _watchers[loop] = _ConnectWatcher(loop)
    return w


async def tcp_check(target: CheckTarget, timeout: float) -> CheckResult:
    """Connect, then close at once (see the module's docstring for why it is hand-rolled)."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    v6 = is_ipv6(target.ip)
    sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
    watcher: _ConnectWatcher | None = None
    fd = -1
    try:
        sock.setblocking(False)
        if target.bindto or target.bind_port:
            if target.bind_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((target.bindto or ("::" if v6 else "0.0.0.0"), target.bind_port or 0))
        err = sock.connect_ex((target.ip, target.port))
        if err in _IN_PROGRESS:
            fd = sock.fileno()
            watcher = _watcher(loop)
            if not await watcher.wait(fd, timeout):
                return _result(False, f"connect timeout after {timeout:g}s", started)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            return _result(False, f"connect failed: {os.strerror(err)}", started)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER0)
    except OSError as exc:
        if is_local_failure(exc):
            raise  # this host, not the server: the scheduler counts the run as unknown
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        return _result(False, f"connect failed: {why}", started)
    finally:
        if watcher is not None:
            watcher.forget(fd)
        sock.close()
    return _result(True, "connected", started)


def _result(ok: bool, reason: str, started: float) -> CheckResult:
    now = time.monotonic()
    return CheckResult(ok, reason, now - started, None, started, now)


class TcpChecker:
    __slots__ = ("_spec",)

    def __init__(self, spec: CheckSpec) -> None:
        self._spec = spec

    @property
    def spec(self) -> CheckSpec:
        return self._spec

    async def run(self) -> CheckResult:
        return await tcp_check(self._spec.target, self._spec.timeout)
