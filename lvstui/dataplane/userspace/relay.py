"""Moving bytes between two TCP sockets without Python touching them (splice), or with one
reused buffer per direction where splice is not available.

`os.splice` moves data socket → pipe → socket inside the kernel: no copy into Python and no
per-byte work, which is what lets a Python forwarder keep up with HAProxy on bulk transfers.
Each direction ends with `shutdown(SHUT_WR)` on the other socket when its source reaches
end of file (half-close), so protocols that close one way first keep working.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable

# called with the size of every read that returned data (bytes, and one "packet")
Count = Callable[[int], None]
__all__ = ["CHUNK", "pump", "splice_supported"]

CHUNK = 1 << 20  # bytes per splice call (the pipe holds 64 KiB unless enlarged)
_BUF = 1 << 16  # fallback buffer per direction
_F = getattr(os, "SPLICE_F_MOVE", 1) | getattr(os, "SPLICE_F_NONBLOCK", 2)
_F_SETPIPE_SZ = 1031
_PIPE_SIZE = 1 << 18

_splice_ok: bool | None = None


def splice_supported() -> bool:
    """Whether splice works between TCP sockets here (checked once, on loopback)."""
    global _splice_ok
    if _splice_ok is not None:
        return _splice_ok
    ok = False
    if hasattr(os, "splice"):
        srv = socket.socket()
        a = b = None
        r = w = -1
        try:
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)
            a = socket.create_connection(srv.getsockname(), timeout=2)
            b, _ = srv.accept()
            a.sendall(b"x")
            r, w = os.pipe()
            b.setblocking(True)  # the byte is already there on loopback
            n = os.splice(b.fileno(), w, 1)
            ok = n == 1 and os.read(r, 1) == b"x"
        except OSError:
            ok = False
        finally:
            for fd in (r, w):
                if fd >= 0:
                    os.close(fd)
            for s in (a, b, srv):
                if s is not None:
                    s.close()
    _splice_ok = ok
    return ok


async def _wait(loop: asyncio.AbstractEventLoop, fd: int, write: bool) -> None:
    fut = loop.create_future()
    if write:
        loop.add_writer(fd, fut.set_result, None)
    else:
        loop.add_reader(fd, fut.set_result, None)
    try:
        await fut
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


async def _pump_splice(src: socket.socket, dst: socket.socket, count: Count) -> None:
    loop = asyncio.get_running_loop()
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        try:
            import fcntl

            fcntl.fcntl(w, _F_SETPIPE_SZ, _PIPE_SIZE)
        except OSError:
            pass  # keep the default pipe size
        sfd, dfd = src.fileno(), dst.fileno()
        splice = os.splice
        while True:
            try:
                n = splice(sfd, w, CHUNK, flags=_F)
            except BlockingIOError:
                await _wait(loop, sfd, False)
                continue
            if n == 0:
                break
            count(n)
            left = n
            while left:
                try:
                    left -= splice(r, dfd, left, flags=_F)
                except BlockingIOError:
                    await _wait(loop, dfd, True)
    finally:
        os.close(r)
        os.close(w)


async def _pump_copy(src: socket.socket, dst: socket.socket, count: Count) -> None:
    loop = asyncio.get_running_loop()
    buf = bytearray(_BUF)
    view = memoryview(buf)
    recv_into = loop.sock_recv_into
    sendall = loop.sock_sendall
    while True:
        n = await recv_into(src, buf)
        if n == 0:
            break
        count(n)
        await sendall(dst, view[:n])


async def pump(src: socket.socket, dst: socket.socket, count: Count, use_splice: bool) -> None:
    """Relay src → dst until src's end of file, then half-close dst's sending side."""
    if use_splice:
        await _pump_splice(src, dst, count)
    else:
        await _pump_copy(src, dst, count)
    with contextlib.suppress(OSError):  # the peer may be gone already
        dst.shutdown(socket.SHUT_WR)
