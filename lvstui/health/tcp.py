"""TCP_CHECK: the server is alive if a TCP connection to connect_ip:connect_port opens within
connect_timeout.

The path is kept lean because a director may run thousands of these a second: one
non-blocking socket, no stream objects, no asyncio.timeout (the timeout sits on the coarse
timers of lvstui.health.timers), and the wait for the connection goes through an epoll set
of our own (`_ConnectWatcher`, registered once with the event loop) instead of the loop's
add_writer/remove_writer: one EPOLLONESHOT registration per check, removed by the kernel
when the socket is closed. The socket is closed with SO_LINGER 0 (a reset, like HAProxy's
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

from lvstui.health.base import CheckResult, CheckSpec, CheckTarget
from lvstui.health.timers import timers_for

__all__ = ["TcpChecker", "tcp_check"]

_LINGER0 = struct.pack("ii", 1, 0)
_IN_PROGRESS = frozenset({errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY})
_ONESHOT_OUT = select.EPOLLOUT | select.EPOLLONESHOT


class _ConnectWatcher:
    """An epoll set, itself watched by the event loop, for sockets waiting to connect."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._epoll = select.epoll()
        self._waiters: dict[int, asyncio.Future[bool]] = {}
        loop.add_reader(self._epoll.fileno(), self._ready)

    def wait(self, fd: int) -> asyncio.Future[bool]:
        fut: asyncio.Future[bool] = self._loop.create_future()
        self._epoll.register(fd, _ONESHOT_OUT)
        self._waiters[fd] = fut
        return fut

    def forget(self, fd: int) -> None:
        """Before closing `fd` (closing removes it from the epoll set)."""
        self._waiters.pop(fd, None)

    def _ready(self) -> None:
        waiters = self._waiters
        for fd, _ in self._epoll.poll(0):
            fut = waiters.pop(fd, None)
            if fut is not None and not fut.done():
                fut.set_result(True)


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
    v6 = ":" in target.ip
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
            waiter = watcher.wait(fd)
            timers_for(loop).call_at(loop.time() + timeout, _set, waiter, False)
            if not await waiter:
                return _result(False, f"connect timeout after {timeout:g}s", started)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            return _result(False, f"connect failed: {os.strerror(err)}", started)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER0)
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        return _result(False, f"connect failed: {why}", started)
    finally:
        if watcher is not None:
            watcher.forget(fd)
        sock.close()
    return _result(True, "connected", started)


def _set(fut: asyncio.Future[bool], value: bool) -> None:
    if not fut.done():
        fut.set_result(value)


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
