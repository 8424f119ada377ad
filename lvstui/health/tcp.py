"""TCP_CHECK: the server is alive if a TCP connection to connect_ip:connect_port opens within
connect_timeout.

The path is kept lean (one non-blocking socket, `loop.sock_connect`, no stream objects),
because a director may run thousands of these a second. The socket is closed with
SO_LINGER 0 (a reset, like HAProxy's checks): thousands of checks a second would otherwise
leave the director's side full of TIME_WAIT sockets.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time

from lvstui.health.base import CheckResult, CheckSpec, CheckTarget

__all__ = ["TcpChecker", "tcp_check"]

_LINGER0 = struct.pack("ii", 1, 0)


async def tcp_check(target: CheckTarget, timeout: float) -> CheckResult:
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
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, (target.ip, target.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER0)
    except TimeoutError:
        return _result(False, f"connect timeout after {timeout:g}s", started)
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        return _result(False, f"connect failed: {why}", started)
    finally:
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
