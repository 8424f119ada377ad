"""Moving bytes between two TCP sockets without Python touching them (splice), or with one
buffer per direction where splice is not available.

`os.splice` moves data socket → pipe → socket inside the kernel: no copy into Python and no
per-byte work, which is what lets a Python forwarder keep up with HAProxy on bulk transfers.

The relay is callback-driven rather than a coroutine per direction: each direction keeps a
reader registered on its source while the destination accepts data, and swaps it for a
writer on the destination only when the destination is full. No future or task is created
per read, which matters for small request/response traffic. A direction holds a pipe only
while bytes are in flight: it takes one from a small pool when its source is readable and
gives it back once the pipe is empty, so an idle connection costs its two sockets and no
pipe (200 idle clients used to hold 800 pipe descriptors). The pool is bounded and shrinks
after a burst (`PipePool`). When no pipe can be had (the descriptor limit), that read is
copied through a buffer instead: the connection never fails for want of a pipe.

A direction that reaches end of file half-closes the other socket (`shutdown(SHUT_WR)`),
so protocols that close one way first keep working.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable

__all__ = ["CHUNK", "Count", "PipePool", "Relay", "pipe_pool", "splice_supported"]

# called with the size of every read that returned data (bytes, and one "packet")
Count = Callable[[int], None]

CHUNK = 1 << 20  # bytes asked of one splice call (bounded by the pipe size)
_BUF = 1 << 16  # fallback buffer per direction
_F = getattr(os, "SPLICE_F_MOVE", 1) | getattr(os, "SPLICE_F_NONBLOCK", 2)
# Pipes keep the system's default size (64 KiB). Measured with bench/proxy_vs_haproxy.sh
# (bulk, 4 connections, on a loaded 2-core host, several interleaved variants per round):
# 64 KiB gave the best throughput, 1.3-1.4× HAProxy's (median), against 1.1-1.2× for 256 KiB
# and 1.06-1.15× for 1 MiB, and 0.97× for 16 KiB. Bigger pipes save calls and CPU (0.29 s
# of CPU per GB at 1 MiB, 0.34 at 64 KiB; HAProxy 0.5) but move the bytes in bigger
# batches: nginx, the forwarder and the client overlap less. The default size also keeps
# an unprivileged forwarder under the kernel's per-user pipe quota (fs/pipe-user-pages-soft)
# for more connections.
POOL_MAX = 64  # idle pipes kept (2 descriptors each): enough for the transfers in flight
POOL_TRIM = 10.0  # seconds: pipes the pool did not need for this long are closed
# Once one side has closed, the other gets this long to finish (the kernel's IPVS gives a
# TCP connection 120 s in FIN_WAIT/CLOSE_WAIT). Without it a real server that never reads
# nor closes keeps a half-closed connection, its sockets and an ActiveConn forever, and a
# drain of that server never gets to "safe".
HALF_CLOSE_TIMEOUT = 120.0

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


class PipePool:
    """Idle pipes for splice, bounded, and shrinking once a burst is over.

    `low` is the fewest idle pipes the pool held since the last trim: that many were never
    needed during the whole period, so they are closed (the classic low-water-mark trim).
    The clock is read only when a pipe is taken or given back: no timer."""

    def __init__(
        self,
        max_idle: int = POOL_MAX,
        trim_after: float = POOL_TRIM,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_idle = max_idle
        self.trim_after = trim_after
        self.clock = clock
        self.idle: list[tuple[int, int]] = []
        self.low = 0
        self.last_trim = clock()
        self.in_use = 0

    def get(self) -> tuple[int, int]:
        """A pipe (read end, write end); OSError (EMFILE...) when none can be made."""
        if self.idle:
            pipe = self.idle.pop()
            self.low = min(self.low, len(self.idle))
        else:
            pipe = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.in_use += 1
        self._maybe_trim()
        return pipe

    def put(self, pipe: tuple[int, int], empty: bool) -> None:
        """Give a pipe back; one that still holds bytes is closed (they belong to no one)."""
        self.in_use -= 1
        if empty and len(self.idle) < self.max_idle:
            self.idle.append(pipe)
        else:
            _close_pipe(pipe)
        self._maybe_trim()

    def _maybe_trim(self) -> None:
        now = self.clock()
        if now - self.last_trim < self.trim_after:
            return
        for _ in range(min(self.low, len(self.idle))):
            _close_pipe(self.idle.pop(0))
        self.low = len(self.idle)
        self.last_trim = now

    def clear(self) -> None:
        while self.idle:
            _close_pipe(self.idle.pop())
        self.low = 0

    @property
    def descriptors(self) -> int:
        """Descriptors held by pipes, idle or carrying data."""
        return 2 * (len(self.idle) + self.in_use)


def _close_pipe(pipe: tuple[int, int]) -> None:
    os.close(pipe[0])
    os.close(pipe[1])


_pool = PipePool()


def pipe_pool() -> PipePool:
    """The process's pool (one per process: pipes are a process-wide resource)."""
    return _pool


class _Direction:
    __slots__ = (
        "buf",
        "count",
        "dfd",
        "dst",
        "loop",
        "pending",
        "pipe",
        "relay",
        "rest",
        "sfd",
        "splice",
        "src",
        "state",
    )

    def __init__(
        self, relay: Relay, src: socket.socket, dst: socket.socket, count: Count, splice: bool
    ) -> None:
        self.relay = relay
        self.loop = relay.loop
        self.src, self.dst = src, dst
        self.sfd, self.dfd = src.fileno(), dst.fileno()
        self.count = count
        self.pending = 0  # bytes in the pipe not yet written
        self.splice = splice
        self.pipe: tuple[int, int] | None = None  # held only while it carries bytes
        self.buf: bytearray | None = None if splice else bytearray(_BUF)
        self.rest: memoryview | None = None  # copy mode: bytes not yet sent
        self.state = 0  # 0 idle, 1 reading, 2 writing, 3 done

    def start(self) -> None:
        self.state = 1
        self.loop.add_reader(self.sfd, self._readable)

    # splice mode -----------------------------------------------------------------------------

    def _readable(self) -> None:
        if not self.splice:
            self._copy_read()
            return
        try:
            pipe = _pool.get()
        except OSError:  # no descriptor for a pipe: copy this read, the connection lives on
            if self.buf is None:
                self.buf = bytearray(_BUF)
            self._copy_read()
            return
        self.pipe = pipe
        try:
            n = os.splice(self.sfd, pipe[1], CHUNK, flags=_F)
        except BlockingIOError:
            self._release_pipe()
            return
        except OSError:
            self.relay.abort()
            return
        if n == 0:
            self._release_pipe()
            self._eof()
            return
        self.count(n)
        self.pending = n
        self._flush()

    def _release_pipe(self) -> None:
        if self.pipe is not None:
            _pool.put(self.pipe, self.pending == 0)
            self.pipe = None

    def _flush(self) -> None:
        assert self.pipe is not None
        r = self.pipe[0]
        dfd = self.dfd
        try:
            while self.pending:
                self.pending -= os.splice(r, dfd, self.pending, flags=_F)
        except BlockingIOError:
            self._wait_writable()
            return
        except OSError:
            self.relay.abort()
            return
        self._release_pipe()
        if self.state == 2:
            self._resume_reading()

    def _wait_writable(self) -> None:
        if self.state == 1:
            self.loop.remove_reader(self.sfd)
            self.loop.add_writer(self.dfd, self._writable)
            self.state = 2

    def _resume_reading(self) -> None:
        self.loop.remove_writer(self.dfd)
        self.loop.add_reader(self.sfd, self._readable)
        self.state = 1

    def _writable(self) -> None:
        if self.pipe is not None:
            self._flush()
        else:
            self._copy_send()

    # copy mode -------------------------------------------------------------------------------

    def _copy_read(self) -> None:
        assert self.buf is not None
        try:
            n = self.src.recv_into(self.buf)
        except BlockingIOError:
            return
        except OSError:
            self.relay.abort()
            return
        if n == 0:
            self._eof()
            return
        self.count(n)
        self.rest = memoryview(self.buf)[:n]
        self._copy_send()

    def _copy_send(self) -> None:
        rest = self.rest
        try:
            while rest is not None and len(rest):
                rest = rest[self.dst.send(rest) :]
        except BlockingIOError:
            self.rest = rest
            self._wait_writable()
            return
        except OSError:
            self.relay.abort()
            return
        self.rest = None
        if self.state == 2:
            self._resume_reading()

    # end -------------------------------------------------------------------------------------

    def _eof(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):  # the peer may be gone already
            self.dst.shutdown(socket.SHUT_WR)
        self.relay.finished()

    def stop(self) -> None:
        if self.state == 1:
            self.loop.remove_reader(self.sfd)
        elif self.state == 2:
            self.loop.remove_writer(self.dfd)
        self.state = 3
        self._release_pipe()


class Relay:
    """Both directions of one connection. `on_done` is called once, when both reached end
    of file, or at once when either side fails (reset, broken pipe: a normal end here)."""

    __slots__ = ("ab", "ba", "half", "loop", "on_done", "open")

    def __init__(
        self,
        a: socket.socket,
        b: socket.socket,
        count_ab: Count,
        count_ba: Count,
        use_splice: bool,
        on_done: Callable[[], None],
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.on_done: Callable[[], None] | None = on_done
        self.open = 2
        self.half: asyncio.TimerHandle | None = None
        self.ab = _Direction(self, a, b, count_ab, use_splice)
        self.ba = _Direction(self, b, a, count_ba, use_splice)

    def start(self) -> None:
        self.ab.start()
        self.ba.start()

    def _done(self) -> None:
        cb, self.on_done = self.on_done, None
        if cb is not None:
            cb()

    def finished(self) -> None:
        self.open -= 1
        if self.open == 0:
            self._done()
        elif self.half is None:
            self.half = self.loop.call_later(HALF_CLOSE_TIMEOUT, self.abort)

    def abort(self) -> None:
        self.close()
        self._done()

    def close(self) -> None:
        """Unregister every callback and return the pipes; call before closing the sockets."""
        if self.half is not None:
            self.half.cancel()
        self.ab.stop()
        self.ba.stop()
