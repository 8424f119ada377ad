"""The userspace dataplane: an asyncio TCP/UDP forwarder behind the Dataplane contract.

For kernels without IPVS and for unprivileged users, so lvstui always serves. Each virtual
service listens on its VIP:port (any local address, loopback included; the socket is bound
with IP_FREEBIND so a VIP that VRRP has not added yet can be listened on already) and relays
every accepted connection to a real server chosen by the kernel's scheduler algorithms
(`sched.py`), with persistence (`persist.py`), PROXY protocol (`proxyproto.py`) and an
optional HTTP application hash. This module holds the Dataplane itself (operations,
listening, housekeeping); `service.py` a virtual service's state, `tcp.py` one relayed
connection, `relay.py` the splice relay, `udp.py` the UDP flows.

What the counters mean (same columns as `ipvsadm -L`):

- ActiveConn: relayed TCP connections whose real-server side is established.
- InActConn: TCP connections being connected, plus closed ones kept for `inact_linger`
  seconds (10 by default: a short stand-in for the kernel's TIME_WAIT/FIN states, so lc/wlc
  see recent load like the kernel does); UDP flows (as the kernel counts them).
- InPkts/OutPkts: relayed reads (one splice or recv that returned data) per direction, an
  estimate: the forwarder does not see packets. Bytes are exact.
- Rates: the kernel's estimator (2 s samples, EWMA), see `lvstui.dataplane.rates`.

Refused with `UnsupportedError`: DR and TUN forwarding (they rewrite packets, which only the
kernel can do), firewall-mark services, SCTP, and the kernel-only schedulers.

A weight change takes effect for the next connection; established connections continue
(weight 0 = drained). Deleting a real server or a service stops new connections to it and
lets established ones finish. `close()` stops listening; the forwarder lives in this process,
so closing it also ends the connections it relays.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence

from lvstui.dataplane.base import (
    NO_SYNC_OPTIONS,
    AddDest,
    AddService,
    Capabilities,
    DelDest,
    DelService,
    DesiredDest,
    DesiredService,
    EditDest,
    EditService,
    ObservedService,
    Op,
    SyncOptions,
    SyncRole,
    describe_op,
)
from lvstui.dataplane.rates import SAMPLE_PERIOD
from lvstui.dataplane.userspace.context import ConnContext
from lvstui.dataplane.userspace.sched import (
    SCHEDULERS,
)
from lvstui.dataplane.userspace.service import VirtualService
from lvstui.dataplane.userspace.tcp import Connection, read_then_begin
from lvstui.dataplane.userspace.udp import UdpListener, end_flow
from lvstui.descriptors import DescriptorReserve
from lvstui.errors import DataplaneError, UnsupportedError
from lvstui.handover import inherited, listener_name
from lvstui.model import LbKind, Protocol, RealKey, ServiceKey

__all__ = ["UserspaceDataplane"]

REFUSAL_LOG_EVERY = 10.0  # seconds between two log lines about clients closed at the limit

log = logging.getLogger(__name__)

_IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)
_IPV6_FREEBIND = 78
_REQUEST_LINE_MAX = 8192


class UserspaceDataplane:
    """The forwarder. `inact_linger`: how long a closed TCP connection counts in InActConn;
    `max_udp_flows`: per UDP service, datagrams from further new clients are dropped."""

    def __init__(
        self,
        reason: str = "",
        *,
        inact_linger: float = 10.0,
        connect_timeout: float = 5.0,
        use_splice: bool | None = None,
        max_udp_flows: int = 10000,
        auto_sample: bool = True,
        clock: Callable[[], float] = time.monotonic,
        reserve: DescriptorReserve | None = None,
    ) -> None:
        self._services: dict[ServiceKey, VirtualService] = {}
        # a client that would eat into the descriptors kept for checks and VRRP is closed
        # at once (it sees the connection end; the checks see no EMFILE)
        self.reserve = reserve or DescriptorReserve()
        self.refused_for_descriptors = 0
        self._refusal_logged = -REFUSAL_LOG_EVERY
        self._tasks: set[asyncio.Task[None]] = set()
        self._sampler: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.auto_sample = auto_sample  # False: rates move only on sample_rates() (tests)
        self.clock = clock
        self.ctx = ConnContext(clock, connect_timeout, inact_linger, max_udp_flows, use_splice)
        self._caps = Capabilities(
            name="userspace",
            lb_kinds=frozenset({LbKind.NAT}),
            schedulers=frozenset(SCHEDULERS),
            protocols=frozenset({"TCP", "UDP"}),
            fwmark=False,
            sync_daemon=False,
            reason=reason,
            expire_connections=True,
        )

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    @property
    def splice(self) -> bool:
        return self.ctx.splice

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        _ = self.splice  # probe once, off the per-connection path
        if self._sampler is None:
            self._sampler = asyncio.get_running_loop().create_task(self._sample_loop())
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_loop())

    async def close(self) -> None:
        for svc in self._services.values():
            self._stop_listening(svc)
            for flow in list(svc.flows.values()):
                end_flow(self.ctx, svc, flow)
        for t in (self._sampler, self._sweeper):
            if t is not None:
                t.cancel()
        tasks = [t for t in (self._sampler, self._sweeper) if t is not None] + list(self._tasks)
        for t in self._tasks:
            t.cancel()
        for c in list(self.ctx.live_conns):
            c.finish()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._sampler = self._sweeper = None

    async def observe(self) -> Sequence[ObservedService]:
        return [s.observed() for s in self._services.values()]

    async def set_sync_role(
        self,
        role: SyncRole,
        interface: str = "",
        syncid: int = 0,
        options: SyncOptions = NO_SYNC_OPTIONS,
    ) -> None:
        return None  # no connection sync in userspace: a failover drops relayed connections

    # --- operations ----------------------------------------------------------------------------

    async def apply(self, ops: Sequence[Op]) -> None:
        for op in ops:
            try:
                await self._apply_one(op)
            except UnsupportedError:
                raise
            except DataplaneError as e:
                raise DataplaneError(f"{describe_op(op)}: {e.message}", hint=e.hint) from e
            except OSError as e:
                raise DataplaneError(
                    f"{describe_op(op)}: {e.strerror or e}",
                    hint="is the address local (or a VIP this host may hold) and the port free?",
                ) from e

    def _check_service(self, s: DesiredService, op: Op) -> None:
        if s.key.fwmark:
            raise UnsupportedError(
                f"{describe_op(op)}: firewall-mark services need the kernel's IPVS",
                hint='use dataplane = "ipvs" (needs the ip_vs module and CAP_NET_ADMIN)',
            )
        if s.key.port == 0:  # binding port 0 would listen on some random port instead
            raise UnsupportedError(
                f"{describe_op(op)}: an all-ports (port 0) service needs the kernel's IPVS",
                hint='give the service its port, or use dataplane = "ipvs"',
            )
        if s.key.protocol is Protocol.SCTP:
            raise UnsupportedError(
                f"{describe_op(op)}: SCTP is not relayed by the userspace forwarder",
                hint='use dataplane = "ipvs"',
            )
        if s.scheduler.lower() not in SCHEDULERS:
            raise UnsupportedError(
                f"{describe_op(op)}: scheduler {s.scheduler!r} is kernel-only",
                hint=f"userspace schedulers: {', '.join(sorted(SCHEDULERS))}",
            )
        if s.proxy_protocol not in (0, 1, 2):
            raise DataplaneError("proxy_protocol must be 0, 1 or 2")
        if s.proxy_protocol == 1 and s.key.protocol is Protocol.UDP:
            raise UnsupportedError(
                f"{describe_op(op)}: PROXY protocol v1 has no UDP form",
                hint="use proxy_protocol = 2 for UDP services",
            )

    def _check_dest(self, d: DesiredDest, op: Op) -> None:
        # An operator's `add` reaches here straight from the control socket: a bad address or
        # port must be refused now, not fail every connection scheduled to it later.
        try:
            ipaddress.ip_address(d.key.addr.split("%", 1)[0])
        except ValueError:
            raise DataplaneError(f"{d.key.addr!r} is not an IP address") from None
        if not 0 <= d.key.port <= 65535:  # (apply() prefixes the operation)
            raise DataplaneError(f"port {d.key.port} is not in 0-65535")
        if d.fwd is not LbKind.NAT:
            raise UnsupportedError(
                f"{describe_op(op)}: lb_kind {d.fwd.value} is not possible in the userspace "
                "forwarder (it relays connections, it cannot route packets unchanged)",
                hint='use lb_kind = "NAT", or dataplane = "ipvs" for DR/TUN',
            )

    async def _apply_one(self, op: Op) -> None:
        match op:
            case AddService(s):
                if s.key in self._services:
                    raise DataplaneError("service exists")
                self._check_service(s, op)
                svc = VirtualService(s)
                await self._listen(svc)
                self._services[s.key] = svc
                for d in s.dests:  # tolerated: AddService normally comes without dests
                    self._check_dest(d, op)
                    svc.add_dest(d)
            case EditService(s):
                svc = self._get(s.key)
                self._check_service(s, op)
                svc.configure(s)
            case DelService(k):
                svc = self._get(k)
                self._stop_listening(svc)
                for flow in list(svc.flows.values()):
                    end_flow(self.ctx, svc, flow)
                del self._services[k]
            case AddDest(k, d):
                svc = self._get(k)
                if d.key in svc.by_key:
                    raise DataplaneError("real server exists")
                self._check_dest(d, op)
                svc.add_dest(d)
            case EditDest(k, d):
                svc = self._get(k)
                if d.key not in svc.by_key:
                    raise DataplaneError("no such real server")
                self._check_dest(d, op)
                svc.edit_dest(d)
            case DelDest(k, r):
                svc = self._get(k)
                if r not in svc.by_key:
                    raise DataplaneError("no such real server")
                svc.del_dest(r)

    async def set_timeouts(self, tcp: int | None, tcpfin: int | None, udp: int | None) -> None:
        """No IPVS timeouts here (`capabilities.timeouts` is False): a service's UDP flows
        end after its `udp_idle_timeout`, and TCP connections when either side closes."""
        raise DataplaneError("the userspace dataplane has no IPVS timeouts (lvs_timeouts)")

    async def expire_connections(self, service: ServiceKey, real: RealKey) -> None:
        """End every connection relayed to `real` for `service` now (a drain's timeout; the
        `expire_connections` capability, see `lvstui.dataplane.base`).

        TCP connections are aborted on both sides (a reset to the client and to the real
        server), including those still connecting; UDP flows to it are dropped (the client's
        next datagram is scheduled afresh); closed connections that were still counted in
        InActConn are forgotten. The real server stays in the table with its weight, so a
        drained one (weight 0) gets no new connection until it is undrained."""
        what = f"expire connections {service} -> {real}"
        svc = self._services.get(service)
        if svc is None:
            raise DataplaneError(f"{what}: no such service")
        dest = svc.by_key.get(real)
        if dest is None:
            raise DataplaneError(f"{what}: no such real server")
        for c in [c for c in self.ctx.live_conns if c.dest is dest and c.svc is svc]:
            c.abort()
        for flow in [f for f in svc.flows.values() if f.dest is dest]:
            end_flow(self.ctx, svc, flow)
        kept = [(t, d) for t, d in self.ctx.lingering if d is not dest]
        if len(kept) != len(self.ctx.lingering):
            dest.inact -= len(self.ctx.lingering) - len(kept)
            self.ctx.lingering = deque(kept)
            dest.check_overload_down()

    def _get(self, key: ServiceKey) -> VirtualService:
        svc = self._services.get(key)
        if svc is None:
            raise DataplaneError("no such service")
        return svc

    # --- listening -----------------------------------------------------------------------------

    def listeners(self) -> dict[str, int]:
        """Listening descriptors by `handover.listener_name`, for a seamless restart."""
        out: dict[str, int] = {}
        for key, svc in self._services.items():
            if svc.lsock is not None:
                out[listener_name(key)] = svc.lsock.fileno()
            elif svc.udp is not None:
                out[listener_name(key)] = svc.udp.get_extra_info("socket").fileno()
        return out

    def stop_accepting(self) -> None:
        """Close the listeners, keep the connections (a new daemon holds the listeners)."""
        for svc in self._services.values():
            self._stop_listening(svc)

    @property
    def open_connections(self) -> int:
        return len(self.ctx.live_conns)

    def _bound_socket(self, key: ServiceKey, kind: int) -> socket.socket:
        handed = inherited().take(listener_name(key))  # from the daemon we replace
        if handed is not None:
            handed.setblocking(False)
            return handed
        fam = socket.AF_INET6 if key.family == 6 else socket.AF_INET
        sock = socket.socket(fam, kind)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with contextlib.suppress(OSError):  # lets a VIP be listened on before VRRP adds it
                if fam == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_FREEBIND, 1)
                else:
                    sock.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)
            sock.setblocking(False)
            sock.bind((key.addr, key.port))
        except BaseException:
            sock.close()
            raise
        return sock

    async def _listen(self, svc: VirtualService) -> None:
        loop = asyncio.get_running_loop()
        if svc.key.protocol is Protocol.UDP:
            sock = self._bound_socket(svc.key, socket.SOCK_DGRAM)
            transport, _ = await loop.create_datagram_endpoint(
                lambda: UdpListener(self.ctx, svc), sock=sock
            )
            svc.udp = transport
            return
        sock = self._bound_socket(svc.key, socket.SOCK_STREAM)
        try:
            sock.listen(4096)
        except BaseException:
            sock.close()
            raise
        svc.lsock = sock
        loop.add_reader(sock.fileno(), self._accept, svc, sock)

    def _stop_listening(self, svc: VirtualService) -> None:
        if svc.lsock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(svc.lsock.fileno())
            svc.lsock.close()
            svc.lsock = None
        if svc.udp is not None:
            svc.udp.close()
            svc.udp = None

    def _accept(self, svc: VirtualService, lsock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(64):  # accept a burst per wake-up
            try:
                conn, addr = lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # out of descriptors or memory: the listener stays readable, so pause it
                    # for a second instead of spinning on accept()
                    log.warning("%s: accept: %s (pausing this listener 1 s)", svc.key, e)
                    loop.remove_reader(lsock.fileno())
                    loop.call_later(1.0, self._resume_accept, svc, lsock)
                return
            if self.reserve.exhausted(conn.fileno()):
                self._refuse(svc, conn)
                continue
            conn.setblocking(False)
            c = Connection(self.ctx, svc, conn, addr)
            if svc.apphash is None:
                try:
                    c.begin(b"")
                except Exception:  # a bug must cost one connection, never the listener
                    log.exception("%s: connection from %s", svc.key, addr)
                    c.finish()
            else:
                task = loop.create_task(read_then_begin(self.ctx, c))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _refuse(self, svc: VirtualService, conn: socket.socket) -> None:
        self.refused_for_descriptors += 1
        conn.close()
        now = time.monotonic()
        if now - self._refusal_logged >= REFUSAL_LOG_EVERY:
            self._refusal_logged = now
            log.warning(
                "%s: closing new clients: within %d of the limit of %d open files (kept for "
                "health checks and VRRP); %d closed so far",
                svc.key,
                self.reserve.reserve,
                self.reserve.limit,
                self.refused_for_descriptors,
            )

    def _resume_accept(self, svc: VirtualService, lsock: socket.socket) -> None:
        if svc.lsock is lsock:  # still listening (not deleted or closed meanwhile)
            asyncio.get_running_loop().add_reader(lsock.fileno(), self._accept, svc, lsock)

    # --- one TCP connection --------------------------------------------------------------------

    # --- housekeeping --------------------------------------------------------------------------

    def sample_rates(self) -> None:
        """One estimator sample of every counter (the sampler does this every 2 s)."""
        for svc in self._services.values():
            svc.sample()

    async def _sample_loop(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_PERIOD)
            if self.auto_sample:
                self.sample_rates()

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            now = self.clock()
            linger = self.ctx.lingering
            while linger and linger[0][0] <= now:
                _, dest = linger.popleft()
                dest.inact -= 1
                dest.check_overload_down()
            connecting = self.ctx.connecting
            while connecting and (connecting[0].state != 1 or connecting[0].deadline <= now):
                c = connecting.popleft()
                if c.state == 1:
                    c.finish()  # connect timed out
            for svc in list(self._services.values()):
                idle = svc.want.udp_idle_timeout
                for flow in list(svc.flows.values()):
                    if now - flow.last >= idle:
                        end_flow(self.ctx, svc, flow)
                if svc.persist:
                    svc.templates.expire(now)
