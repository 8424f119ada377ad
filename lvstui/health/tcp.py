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

Two ways in: `tcp_check` (a coroutine, for callers in a task) and `TcpChecker.begin` (plain
callbacks, for the scheduler's callback loop, `lvstui.health.fastloop`): the socket is
opened in the timer callback that finds the check due and closed in the epoll callback
that sees it connect, so a run costs two event-loop iterations instead of four (a future
set in a callback wakes its task one iteration later) and no task step. On a host where
every system call is expensive (a VM trapping them) that is most of a check's cost. Both
ways share the same code and give the same results. A connect that reports writable
without an error is a success without asking SO_ERROR (one system call less);
SOCK_NONBLOCK at creation saves the ioctl of setblocking().
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import select
import socket
import struct
import time
import weakref
from collections.abc import Callable

from lvstui.health.base import Cancellable, CheckResult, CheckSpec, CheckTarget, is_local_failure
from lvstui.netutil import is_ipv6

__all__ = ["TcpChecker", "tcp_check"]

log = logging.getLogger(__name__)

_LINGER0 = struct.pack("ii", 1, 0)
_IN_PROGRESS = frozenset({errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY})
_ONESHOT_OUT = select.EPOLLOUT | select.EPOLLONESHOT
_BROKEN = select.EPOLLERR | select.EPOLLHUP
_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)  # Linux: created non-blocking, no ioctl
SWEEP = 0.01  # connect timeouts are honoured within 10 ms (never early)

# what a waiter is told: the epoll events of its socket, or None when its deadline passed
Ready = Callable[[int | None], None]


class _ConnectWatcher:
    """An epoll set, itself watched by the event loop, for sockets waiting to connect, and
    their deadlines.

    A finished connect leaves nothing behind (its entry is popped at once): per-check timer
    entries would keep a callback alive for a whole connect_timeout after the check ended,
    ten thousand of them at 10,000 checks a second, for the garbage collector to walk. The
    deadlines are swept by one loop timer armed for the earliest of them (not every SWEEP
    seconds while any connect is pending: at 100 checks a second that was one more
    event-loop wake-up per check); a sweep handles every deadline passed and re-arms no
    sooner than SWEEP later, so a burst of deadlines costs one wake-up per SWEEP."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._epoll = select.epoll()
        self._waiters: dict[int, tuple[Ready, float]] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._sweep_at = 0.0
        loop.add_reader(self._epoll.fileno(), self._ready)

    def watch(self, fd: int, deadline: float, ready: Ready) -> None:
        """Call `ready(events)` when `fd` is writable (connected or failed), or `ready(None)`
        once loop time `deadline` has passed; whichever comes first, once."""
        self._epoll.register(fd, _ONESHOT_OUT)
        self._waiters[fd] = (ready, deadline)
        if self._sweeper is None or deadline < self._sweep_at:
            self._arm(deadline)

    def wait(self, fd: int, timeout: float) -> asyncio.Future[bool]:
        """A future: True when `fd` is writable (connected or failed), False at timeout."""
        fut: asyncio.Future[bool] = self._loop.create_future()

        def ready(events: int | None) -> None:
            if not fut.done():
                fut.set_result(events is not None)

        self.watch(fd, self._loop.time() + timeout, ready)
        return fut

    def forget(self, fd: int) -> None:
        """Before closing `fd` (closing removes it from the epoll set)."""
        self._waiters.pop(fd, None)

    def _arm(self, when: float) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        self._sweep_at = when
        self._sweeper = self._loop.call_at(when, self._sweep)

    def _ready(self) -> None:
        waiters = self._waiters
        for fd, events in self._epoll.poll(0):
            entry = waiters.pop(fd, None)
            if entry is not None:
                _call(entry[0], events)

    def _sweep(self) -> None:
        self._sweeper = None
        waiters = self._waiters
        if not waiters:
            return
        now = self._loop.time()
        for fd in [fd for fd, (_, deadline) in waiters.items() if deadline <= now]:
            _call(waiters.pop(fd)[0], None)
        if waiters:
            self._arm(max(min(d for _, d in waiters.values()), now + SWEEP))


def _call(ready: Ready, events: int | None) -> None:
    try:
        ready(events)
    except Exception:  # one waiter's bug must not starve the others
        log.exception("connect watcher callback failed")


_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _ConnectWatcher] = (
    weakref.WeakKeyDictionary()
)


def _watcher(loop: asyncio.AbstractEventLoop) -> _ConnectWatcher:
    w = _watchers.get(loop)
    if w is None:
        w = _watchers[loop] = _ConnectWatcher(loop)
    return w


def _open(target: CheckTarget) -> tuple[socket.socket, int]:
    """A non-blocking socket with its connect started: (socket, errno of connect_ex).
    Raises OSError (the socket closed) for what happens before the connect."""
    v6 = is_ipv6(target.ip)
    sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM | _NONBLOCK)
    try:
        if not _NONBLOCK:
            sock.setblocking(False)
        if target.bindto or target.bind_port:
            if target.bind_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((target.bindto or ("::" if v6 else "0.0.0.0"), target.bind_port or 0))
        return sock, sock.connect_ex((target.ip, target.port))
    except BaseException:
        sock.close()
        raise


def _settle(sock: socket.socket, err: int, started: float) -> CheckResult:
    """The result of a connect whose outcome is known (`err`: its errno, 0 = connected);
    closes the socket (with a reset when connected)."""
    try:
        if err:
            return _result(False, f"connect failed: {os.strerror(err)}", started)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER0)
    except OSError as exc:
        if is_local_failure(exc):
            raise
        return _result(False, f"connect failed: {_why(exc)}", started)
    finally:
        sock.close()
    return _result(True, "connected", started)


def _events_errno(sock: socket.socket, events: int) -> int:
    """The connect's errno from its epoll events: writable and nothing else is connected."""
    if events & _BROKEN:
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) or errno.ECONNRESET
    return 0


def _why(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)


async def tcp_check(target: CheckTarget, timeout: float) -> CheckResult:
    """Connect, then close at once (see the module's docstring for why it is hand-rolled)."""
    started = time.monotonic()
    try:
        sock, err = _open(target)
    except OSError as exc:
        if is_local_failure(exc):
            raise  # this host, not the server: the scheduler counts the run as unknown
        return _result(False, f"connect failed: {_why(exc)}", started)
    if err in _IN_PROGRESS:
        watcher = _watcher(asyncio.get_running_loop())
        fd = sock.fileno()
        try:
            connected = await watcher.wait(fd, timeout)
            if connected:
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        except BaseException:
            watcher.forget(fd)
            sock.close()
            raise
        watcher.forget(fd)
        if not connected:
            sock.close()
            return _result(False, f"connect timeout after {timeout:g}s", started)
    return _settle(sock, err, started)


def _result(ok: bool, reason: str, started: float) -> CheckResult:
    now = time.monotonic()
    return CheckResult(ok, reason, now - started, None, started, now)


class _Connecting:
    """One TcpChecker.begin in flight: `cancel()` abandons it (the socket closed, `done`
    never called)."""

    __slots__ = ("_done", "_fd", "_sock", "_started", "_timeout", "_watcher")

    def __init__(
        self,
        watcher: _ConnectWatcher,
        sock: socket.socket,
        started: float,
        timeout: float,
        done: Callable[[CheckResult], None],
    ) -> None:
        self._watcher = watcher
        self._sock = sock
        self._fd = sock.fileno()
        self._started = started
        self._timeout = timeout
        self._done = done
        watcher.watch(self._fd, started + timeout, self._ready)

    def _ready(self, events: int | None) -> None:
        sock = self._sock
        if events is None:
            sock.close()
            result = _result(False, f"connect timeout after {self._timeout:g}s", self._started)
        else:
            try:
                result = _settle(sock, _events_errno(sock, events), self._started)
            except OSError as exc:  # a local reason: unknown, as the scheduler says
                sock.close()
                result = CheckResult(False, f"unknown: cannot check from here: {exc}", local=True)
        self._done(result)

    def cancel(self) -> None:
        self._watcher.forget(self._fd)
        self._sock.close()


class TcpChecker:
    __slots__ = ("_spec",)

    def __init__(self, spec: CheckSpec) -> None:
        self._spec = spec

    @property
    def spec(self) -> CheckSpec:
        return self._spec

    async def run(self) -> CheckResult:
        return await tcp_check(self._spec.target, self._spec.timeout)

    def begin(
        self,
        loop: asyncio.AbstractEventLoop,
        started: float,
        done: Callable[[CheckResult], None],
    ) -> CheckResult | Cancellable:
        """Start one attempt from a callback at loop time `started`: its result when known
        at once (refused on the spot, a bind error), else the attempt in flight, which calls
        `done(result)` from a later callback unless cancelled. Raises OSError for a local
        reason (out of descriptors ...), like `run`."""
        target = self._spec.target
        try:
            sock, err = _open(target)
        except OSError as exc:
            if is_local_failure(exc):
                raise
            return _result(False, f"connect failed: {_why(exc)}", started)
        if err in _IN_PROGRESS:
            return _Connecting(_watcher(loop), sock, started, self._spec.timeout, done)
        return _settle(sock, err, started)
