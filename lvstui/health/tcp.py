"""TCP_CHECK: the server is alive if a TCP connection to connect_ip:connect_port opens within
connect_timeout.

The path is kept lean (one non-blocking socket, `loop.sock_connect`, no stream objects),
because a director may run thousands of these a second. The socket is closed with
SO_LINGER 0 (a reset, like HAProxy's checks): thousands of checks a second would otherwise
leave the director's side full of TIME_WAIT sockets.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import struct
import time

from lvstui.health.base import CheckResult, CheckSpec, CheckTarget
from lvstui.health.timers import timers_for

__all__ = ["TcpChecker", "tcp_check"]

_LINGER0 = struct.pack("ii", 1, 0)
_IN_PROGRESS = frozenset({errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY})


async def tcp_check(target: CheckTarget, timeout: float) -> CheckResult:
    """Connect, then close at once. Hand-rolled on the event loop's add_writer (instead of
    `loop.sock_connect` under `asyncio.timeout`): no Timeout object, no cancellation, no
    address re-resolution, and the timeout on the coarse timers (lvstui.health.timers)
    rather than asyncio's heap; this path runs thousands of times a second."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    v6 = ":" in target.ip
    sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        if target.bindto or target.bind_port:
            if target.bind_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((target.bindto or ("::" if v6 else "0.0.0.0"), target.bind_port or 0))
        err = sock.connect_ex((target.ip, target.port))
        if err in _IN_PROGRESS:
            fd = sock.fileno()
            waiter: asyncio.Future[bool] = loop.create_future()
            loop.add_writer(fd, _set, waiter, True)
            timers_for(loop).call_at(loop.time() + timeout, _set, waiter, False)
            try:
                in_time = await waiter
            finally:
                loop.remove_writer(fd)
            if not in_time:
                return _result(False, f"connect timeout after {timeout:g}s", started)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            return _result(False, f"connect failed: {os.strerror(err)}", started)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER0)
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        return _result(False, f"connect failed: {why}", started)
    finally:
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
