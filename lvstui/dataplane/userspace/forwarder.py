"""The userspace dataplane: an asyncio TCP/UDP forwarder behind the Dataplane contract.

For kernels without IPVS and for unprivileged users, so lvstui always serves. Each virtual
service listens on its VIP:port (any local address, loopback included; the socket is bound
with IP_FREEBIND so a VIP that VRRP has not added yet can be listened on already) and relays
every accepted connection to a real server chosen by the kernel's scheduler algorithms
(`sched.py`), with persistence (`persist.py`), PROXY protocol (`proxyproto.py`) and an
optional HTTP application hash.

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
import logging
import socket
import time
import zlib
from collections import deque
from collections.abc import Callable, Sequence

from lvstui.config.schema import LbKind, Protocol
from lvstui.dataplane.base import (
    AddDest,
    AddService,
    Capabilities,
    DelDest,
    DelService,
    DesiredDest,
    DesiredService,
    EditDest,
    EditService,
    ObservedDest,
    ObservedService,
    Op,
    SyncRole,
)
from lvstui.dataplane.memory import describe_op
from lvstui.dataplane.rates import SAMPLE_PERIOD, Estimator
from lvstui.dataplane.reconcile import mask_prefix
from lvstui.dataplane.userspace import proxyproto
from lvstui.dataplane.userspace.persist import Template, Templates, client_net
from lvstui.dataplane.userspace.relay import Relay, splice_supported
from lvstui.dataplane.userspace.sched import (
    SCHEDULERS,
    MaglevHashing,
    RealServer,
    Scheduler,
    addr_fold,
    make_scheduler,
)
from lvstui.errors import DataplaneError, UnsupportedError
from lvstui.model import RealKey, ServiceKey, Stats

__all__ = ["UserspaceDataplane"]

log = logging.getLogger(__name__)

_IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)
_IPV6_FREEBIND = 78
_REQUEST_LINE_MAX = 8192


def _addr_int(host: str) -> int:
    if ":" in host:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0]), "big")
    return int.from_bytes(socket.inet_aton(host), "big")


class _Totals:
    __slots__ = ("conns", "inbytes", "inpkts", "outbytes", "outpkts")

    def __init__(self) -> None:
        self.conns = self.inpkts = self.outpkts = self.inbytes = self.outbytes = 0


def _stats(o: _Totals | RealServer) -> Stats:
    return Stats(o.conns, o.inpkts, o.outpkts, o.inbytes, o.outbytes)


class _Flow:
    """One UDP client's mapping to a real server."""

    __slots__ = ("client", "dest", "last", "sock", "tpl")

    def __init__(
        self, client: tuple[str, int], dest: RealServer, sock: socket.socket, now: float
    ) -> None:
        self.client = client
        self.dest = dest
        self.sock = sock
        self.last = now
        self.tpl: Template | None = None


class _Service:
    def __init__(self, dp: UserspaceDataplane, want: DesiredService) -> None:
        self.dp = dp
        self.key = want.key
        self.want = want
        self.dests: list[RealServer] = []  # kernel order: newest first
        self.by_key: dict[RealKey, RealServer] = {}
        self.sched: Scheduler = make_scheduler(
            want.scheduler, self.dests, want.flags, want.key.addr
        )
        self.apphash: MaglevHashing | None = None
        self.totals = _Totals()
        self.est = Estimator()
        self.dest_est: dict[RealServer, Estimator] = {}
        self.templates = Templates()
        self.lsock: socket.socket | None = None
        self.udp: asyncio.DatagramTransport | None = None
        self.flows: dict[tuple[str, int], _Flow] = {}
        self.configure(want)

    # --- settings ------------------------------------------------------------------------------

    def configure(self, want: DesiredService) -> None:
        old = self.want
        self.want = want
        if old.scheduler.lower() != want.scheduler.lower() or old.flags != want.flags:
            self.sched = make_scheduler(want.scheduler, self.dests, want.flags, want.key.addr)
        self.apphash = (
            MaglevHashing(self.dests, frozenset({"mh-fallback"})) if want.app_hash else None
        )
        self.persist = float(want.persistence_timeout or 0)
        self.prefix = mask_prefix(want.netmask, want.key.family)
        if not self.persist:
            self.templates.clear()

    def _changed(self, d: RealServer | None, *, added: bool = False, index: int = -1) -> None:
        for s in (self.sched, self.apphash):
            if s is None:
                continue
            if added and d is not None:
                s.add_dest(d)
            elif index >= 0 and d is not None:
                s.del_dest(d, index)
            elif d is not None:
                s.upd_dest(d)

    def add_dest(self, want: DesiredDest) -> None:
        d = RealServer(
            want.key.addr, want.key.port, want.weight, want.u_threshold, want.l_threshold
        )
        d.key = want.key
        d.fwd = want.fwd
        self.dests.insert(0, d)  # like list_add_rcu: at the head
        self.by_key[want.key] = d
        self.dest_est[d] = Estimator()
        self._changed(d, added=True)

    def edit_dest(self, want: DesiredDest) -> None:
        d = self.by_key[want.key]
        d.set_weight(want.weight)
        d.set_thresholds(want.u_threshold, want.l_threshold)
        d.fwd = want.fwd
        self._changed(d)

    def del_dest(self, key: RealKey) -> None:
        d = self.by_key.pop(key)
        i = self.dests.index(d)
        del self.dests[i]
        self.dest_est.pop(d, None)
        self._changed(d, index=i)

    # --- choosing a real server ----------------------------------------------------------------

    def _valid_template(self, d: RealServer) -> bool:
        return d.weight > 0 and self.by_key.get(d.key) is d

    def pick(
        self, host: str, port: int, first: bytes, now: float
    ) -> tuple[RealServer | None, Template | None]:
        """A real server for a new connection from (host, port), and its template."""
        tpl: Template | None = None
        net: tuple[int, int] | None = None
        if self.persist:
            net = client_net(_addr_int(host), self.key.family, self.prefix)
            tpl = self.templates.lookup(net, now, self._valid_template)
            if tpl is not None:
                tpl.expires = now + self.persist
                tpl.ncontrol += 1
                return tpl.dest, tpl
        if self.apphash is not None and first:
            dest = self.apphash.lookup_key(zlib.crc32(first.split(b"\r\n", 1)[0]), 0)
        else:
            dest = self.sched.schedule(addr_fold(host), port)
        if dest is not None and net is not None:
            tpl = self.templates.bind(net, dest, now, self.persist)
            tpl.ncontrol += 1
        return dest, tpl

    def release(self, tpl: Template | None, now: float) -> None:
        if tpl is not None:
            tpl.ncontrol -= 1
            tpl.expires = max(tpl.expires, now + self.persist)

    # --- observing -----------------------------------------------------------------------------

    def observed(self) -> ObservedService:
        dests = tuple(
            ObservedDest(
                key=d.key,
                weight=d.weight,
                fwd=d.fwd,
                active_conns=d.active,
                inact_conns=d.inact,
                persist_conns=d.persist,
                u_threshold=d.u_threshold,
                l_threshold=d.l_threshold,
                stats=self.dest_est[d].read(_stats(d)),
            )
            for d in self.dests
        )
        w = self.want
        return ObservedService(
            key=self.key,
            scheduler=w.scheduler,
            flags=frozenset(w.flags),
            persistence_timeout=w.persistence_timeout,
            netmask=w.netmask,
            dests=dests,
            stats=self.est.read(_stats(self.totals)),
            proxy_protocol=w.proxy_protocol,
            app_hash=w.app_hash,
            udp_idle_timeout=w.udp_idle_timeout,
        )

    def sample(self) -> None:
        self.est.sample(_stats(self.totals))
        for d, e in self.dest_est.items():
            e.sample(_stats(d))


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
    ) -> None:
        self._services: dict[ServiceKey, _Service] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._conns: set[_Conn] = set()  # relayed TCP connections
        self._connecting: deque[_Conn] = deque()  # in connect order (deadlines ascending)
        self._linger: deque[tuple[float, RealServer]] = deque()  # closed, still InAct
        self._sampler: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.inact_linger = inact_linger
        self.max_udp_flows = max_udp_flows
        self.auto_sample = auto_sample  # False: rates move only on sample_rates() (tests)
        self.connect_timeout = connect_timeout
        self._use_splice = use_splice
        self.clock = clock
        self._caps = Capabilities(
            name="userspace",
            lb_kinds=frozenset({LbKind.NAT}),
            schedulers=frozenset(SCHEDULERS),
            protocols=frozenset({"TCP", "UDP"}),
            fwmark=False,
            sync_daemon=False,
            reason=reason,
        )

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    @property
    def splice(self) -> bool:
        if self._use_splice is None:
            self._use_splice = splice_supported()
        return self._use_splice

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
                self._end_flow(svc, flow)
        for t in (self._sampler, self._sweeper):
            if t is not None:
                t.cancel()
        tasks = [t for t in (self._sampler, self._sweeper) if t is not None] + list(self._tasks)
        for t in self._tasks:
            t.cancel()
        for c in list(self._conns):
            c.finish()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._sampler = self._sweeper = None

    async def observe(self) -> Sequence[ObservedService]:
        return [s.observed() for s in self._services.values()]

    async def set_sync_role(self, role: SyncRole, interface: str = "", syncid: int = 0) -> None:
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
            raise DataplaneError(f"{describe_op(op)}: proxy_protocol must be 0, 1 or 2")
        if s.proxy_protocol == 1 and s.key.protocol is Protocol.UDP:
            raise UnsupportedError(
                f"{describe_op(op)}: PROXY protocol v1 has no UDP form",
                hint="use proxy_protocol = 2 for UDP services",
            )

    def _check_dest(self, d: DesiredDest, op: Op) -> None:
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
                svc = _Service(self, s)
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
                    self._end_flow(svc, flow)
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

    def _get(self, key: ServiceKey) -> _Service:
        svc = self._services.get(key)
        if svc is None:
            raise DataplaneError("no such service")
        return svc

    # --- listening -----------------------------------------------------------------------------

    def _bound_socket(self, key: ServiceKey, kind: int) -> socket.socket:
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

    async def _listen(self, svc: _Service) -> None:
        loop = asyncio.get_running_loop()
        if svc.key.protocol is Protocol.UDP:
            sock = self._bound_socket(svc.key, socket.SOCK_DGRAM)
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpListener(self, svc), sock=sock
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

    def _stop_listening(self, svc: _Service) -> None:
        if svc.lsock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(svc.lsock.fileno())
            svc.lsock.close()
            svc.lsock = None
        if svc.udp is not None:
            svc.udp.close()
            svc.udp = None

    def _accept(self, svc: _Service, lsock: socket.socket) -> None:
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
            conn.setblocking(False)
            c = _Conn(self, svc, conn, addr)
            if svc.apphash is None:
                c.begin(b"")
            else:
                task = loop.create_task(self._read_then_begin(c))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _resume_accept(self, svc: _Service, lsock: socket.socket) -> None:
        if svc.lsock is lsock:  # still listening (not deleted or closed meanwhile)
            asyncio.get_running_loop().add_reader(lsock.fileno(), self._accept, svc, lsock)

    # --- one TCP connection --------------------------------------------------------------------

    async def _read_then_begin(self, c: _Conn) -> None:
        """app_hash: read the request line first (bounded in size and time), then schedule."""
        loop = asyncio.get_running_loop()
        data = b""
        try:
            async with asyncio.timeout(self.connect_timeout):
                while b"\r\n" not in data and len(data) < _REQUEST_LINE_MAX:
                    chunk = await loop.sock_recv(c.conn, _REQUEST_LINE_MAX - len(data))
                    if not chunk:
                        break
                    data += chunk
        except (OSError, TimeoutError):
            c.finish()
            return
        c.begin(data)

    # --- UDP -----------------------------------------------------------------------------------

    def _new_flow(self, svc: _Service, data: bytes, client: tuple[str, int]) -> _Flow | None:
        if len(svc.flows) >= self.max_udp_flows:
            return None  # a flood of new sources must not exhaust the descriptors: drop
        now = self.clock()
        dest, tpl = svc.pick(client[0], client[1], b"", now)
        if dest is None:
            return None
        sock = socket.socket(dest.family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.connect((dest.addr, dest.port))
        except OSError:
            sock.close()
            svc.release(tpl, now)
            return None
        flow = _Flow(client, dest, sock, now)
        flow.tpl = tpl
        svc.flows[client] = flow
        svc.totals.conns += 1
        dest.conns += 1
        dest.inact += 1  # the kernel counts UDP "connections" as inactive
        dest.check_overload_up()
        asyncio.get_running_loop().add_reader(sock.fileno(), self._from_server, svc, flow)
        return flow

    def _to_server(self, svc: _Service, data: bytes, client: tuple[str, int]) -> None:
        flow = svc.flows.get(client)
        if flow is None:
            flow = self._new_flow(svc, data, client)
            if flow is None:
                return
        flow.last = self.clock()
        if svc.want.proxy_protocol == 2:
            vip = (svc.key.addr, svc.key.port)
            data = proxyproto.build_v2(client[:2], vip, udp=True) + data
        try:
            flow.sock.send(data)
        except OSError:
            return  # like a dropped datagram
        n = len(data)
        tot, d = svc.totals, flow.dest
        tot.inpkts += 1
        tot.inbytes += n
        d.inpkts += 1
        d.inbytes += n

    def _from_server(self, svc: _Service, flow: _Flow) -> None:
        udp = svc.udp
        for _ in range(64):
            try:
                data = flow.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # ICMP errors (port unreachable) surface here: ignore like a drop
            flow.last = self.clock()
            if udp is None:
                return
            udp.sendto(data, flow.client)
            n = len(data)
            tot, d = svc.totals, flow.dest
            tot.outpkts += 1
            tot.outbytes += n
            d.outpkts += 1
            d.outbytes += n

    def _end_flow(self, svc: _Service, flow: _Flow) -> None:
        if svc.flows.get(flow.client) is flow:
            del svc.flows[flow.client]
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(flow.sock.fileno())
        flow.sock.close()
        flow.dest.inact -= 1
        flow.dest.check_overload_down()
        svc.release(flow.tpl, self.clock())

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
            linger = self._linger
            while linger and linger[0][0] <= now:
                _, dest = linger.popleft()
                dest.inact -= 1
                dest.check_overload_down()
            connecting = self._connecting
            while connecting and (connecting[0].state != 1 or connecting[0].deadline <= now):
                c = connecting.popleft()
                if c.state == 1:
                    c.finish()  # connect timed out
            for svc in list(self._services.values()):
                idle = svc.want.udp_idle_timeout
                for flow in list(svc.flows.values()):
                    if now - flow.last >= idle:
                        self._end_flow(svc, flow)
                if svc.persist:
                    svc.templates.expire(now)


class _Conn:
    """One relayed TCP connection, driven by callbacks (no task per connection):
    schedule → non-blocking connect → optional PROXY header → splice relay → accounting."""

    __slots__ = ("addr", "conn", "deadline", "dest", "dp", "relay", "state", "svc", "tpl", "up")

    def __init__(
        self, dp: UserspaceDataplane, svc: _Service, conn: socket.socket, addr: tuple[str, int]
    ) -> None:
        self.dp, self.svc, self.conn, self.addr = dp, svc, conn, addr
        self.up: socket.socket | None = None
        self.dest: RealServer | None = None
        self.tpl: Template | None = None
        self.relay: Relay | None = None
        self.deadline = 0.0
        self.state = 0  # 0 nothing bound, 1 connecting (inactive), 2 established, 3 finished
        dp._conns.add(self)

    def begin(self, first: bytes) -> None:
        svc, dp = self.svc, self.dp
        dest, self.tpl = svc.pick(self.addr[0], self.addr[1], first, dp.clock())
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
            self.deadline = dp.clock() + dp.connect_timeout
            dp._connecting.append(self)
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
        relay = Relay(self.conn, up, self.count_in, self.count_out, self.dp.splice, self.finish)
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

    def finish(self) -> None:
        """End the connection and its accounting (idempotent)."""
        if self.state == 3:
            return
        state, self.state = self.state, 3
        dp = self.dp
        dp._conns.discard(self)
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
                dest.inact += 1
                dp._linger.append((dp.clock() + dp.inact_linger, dest))
            elif state == 1:
                dest.inact -= 1
                dest.check_overload_down()
            self.svc.release(self.tpl, dp.clock())


class _UdpListener(asyncio.DatagramProtocol):
    def __init__(self, dp: UserspaceDataplane, svc: _Service) -> None:
        self.dp = dp
        self.svc = svc

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        client = (str(addr[0]), int(addr[1]))
        self.dp._to_server(self.svc, data, client)

    def error_received(self, exc: Exception) -> None:
        log.debug("%s: %s", self.svc.key, exc)
