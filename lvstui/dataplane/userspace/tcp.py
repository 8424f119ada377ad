"""One relayed TCP connection of the userspace forwarder, driven by callbacks.

schedule → non-blocking connect → optional PROXY header (and the request line read for the
application hash) → splice relay → accounting. No task or timer per connection: connect
deadlines are checked by the dataplane's sweeper, the relay's end is a callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import struct

from lvstui.dataplane.userspace import proxyproto
from lvstui.dataplane.userspace.context import ConnContext
from lvstui.dataplane.userspace.persist import Template
from lvstui.dataplane.userspace.relay import Relay
from lvstui.dataplane.userspace.sched import RealServer
from lvstui.dataplane.userspace.service import VirtualService

__all__ = ["REQUEST_LINE_MAX", "Connection", "read_then_begin"]

REQUEST_LINE_MAX = 8192
# SO_LINGER on, 0 s: close() sends a reset instead of a FIN (an aborted connection)
_RESET = struct.pack("ii", 1, 0)


class Connection:
    """One relayed TCP connection, driven by callbacks (no task per connection):
    schedule → non-blocking connect → optional PROXY header → splice relay → accounting."""

    __slots__ = ("addr", "conn", "ctx", "deadline", "dest", "relay", "state", "svc", "tpl", "up")

    def __init__(
        self,
        ctx: ConnContext,
        svc: VirtualService,
        conn: socket.socket,
        addr: tuple[str, int],
    ) -> None:
        self.ctx, self.svc, self.conn, self.addr = ctx, svc, conn, addr
        self.up: socket.socket | None = None
        self.dest: RealServer | None = None
        self.tpl: Template | None = None
        self.relay: Relay | None = None
        self.deadline = 0.0
        self.state = 0  # 0 nothing bound, 1 connecting (inactive), 2 established, 3 finished
        ctx.live_conns.add(self)

    def begin(self, first: bytes) -> None:
        svc, ctx = self.svc, self.ctx
        dest, self.tpl = svc.pick(self.addr[0], self.addr[1], first, ctx.clock())
        if dest is None:
            self.finish()  # no real server available: the client sees its connection closed
            return
        self.dest = dest
        svc.totals.conns += 1
        dest.conns += 1
        dest.inact += 1
        self.state = 1
        dest.check_overload_up()
        try:
            up = self.up = socket.socket(dest.family, socket.SOCK_STREAM)
            up.setblocking(False)
            up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            err = up.connect_ex((dest.addr, dest.port))
        except OSError:
            self.finish()
            return
        if err == errno.EINPROGRESS:
            asyncio.get_running_loop().add_writer(up.fileno(), self._on_connect, first)
            # the sweeper ends it if still connecting then (no timer per connection)
            self.deadline = ctx.clock() + ctx.connect_timeout
            ctx.connecting.append(self)
        elif err == 0:
            self._connected(first)
        else:
            self.finish()

    def _on_connect(self, first: bytes) -> None:
        up = self.up
        assert up is not None
        asyncio.get_running_loop().remove_writer(up.fileno())
        if up.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            self.finish()  # refused / unreachable
            return
        self._connected(first)

    def _connected(self, first: bytes) -> None:
        dest, up, svc = self.dest, self.up, self.svc
        assert dest is not None and up is not None
        dest.inact -= 1
        dest.active += 1
        self.state = 2
        try:
            self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            head = b""
            if svc.want.proxy_protocol:
                vip = self.conn.getsockname()
                head = proxyproto.build(svc.want.proxy_protocol, self.addr[:2], vip[:2])
            if head or first:
                # a fresh connection's send buffer takes a header and a request line whole
                if up.send(head + first) != len(head) + len(first):
                    raise OSError("short send of the first bytes")
                if first:
                    self.count_in(len(first))
        except OSError:
            self.finish()
            return
        relay = Relay(self.conn, up, self.count_in, self.count_out, self.ctx.splice, self.finish)
        self.relay = relay
        relay.start()

    def count_in(self, n: int) -> None:
        tot, d = self.svc.totals, self.dest
        tot.inbytes += n
        tot.inpkts += 1
        d.inbytes += n  # type: ignore[union-attr]
        d.inpkts += 1  # type: ignore[union-attr]

    def count_out(self, n: int) -> None:
        tot, d = self.svc.totals, self.dest
        tot.outbytes += n
        tot.outpkts += 1
        d.outbytes += n  # type: ignore[union-attr]
        d.outpkts += 1  # type: ignore[union-attr]

    def abort(self) -> None:
        """End at once with a reset to both sides (drain timeout: connections expired). An
        aborted connection is gone, like an expired kernel entry: it does not linger in
        InActConn."""
        if self.state == 3:
            return
        for s in (self.conn, self.up):
            if s is not None:
                with contextlib.suppress(OSError):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        self.finish(linger=False)

    def finish(self, linger: bool = True) -> None:
        """End the connection and its accounting (idempotent)."""
        if self.state == 3:
            return
        state, self.state = self.state, 3
        ctx = self.ctx
        ctx.live_conns.discard(self)
        if self.relay is not None:
            self.relay.close()
        up = self.up
        if up is not None:
            if state == 1:
                with contextlib.suppress(Exception):
                    asyncio.get_running_loop().remove_writer(up.fileno())
            up.close()
        self.conn.close()
        dest = self.dest
        if dest is not None:
            if state == 2:
                dest.active -= 1
                if linger:
                    dest.inact += 1
                    ctx.lingering.append((ctx.clock() + ctx.inact_linger, dest))
                else:
                    dest.check_overload_down()
            elif state == 1:
                dest.inact -= 1
                dest.check_overload_down()
            self.svc.release(self.tpl, ctx.clock())


async def read_then_begin(ctx: ConnContext, c: Connection) -> None:
    """app_hash: read the request line first (bounded in size and time), then schedule."""
    loop = asyncio.get_running_loop()
    data = b""
    try:
        async with asyncio.timeout(ctx.connect_timeout):
            while b"\r\n" not in data and len(data) < REQUEST_LINE_MAX:
                chunk = await loop.sock_recv(c.conn, REQUEST_LINE_MAX - len(data))
                if not chunk:
                    break
                data += chunk
    except (OSError, TimeoutError):
        c.finish()
        return
    try:
        c.begin(data)
    except Exception:
        c.finish()
        raise
