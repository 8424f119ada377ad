"""Moving adverts: the `Transport` seam, raw sockets for real links, a hub for tests.

`RawSocketTransport` (IPv4): a raw socket for protocol 112 bound to the interface
(SO_BINDTODEVICE), joined to 224.0.0.18 with IP_ADD_MEMBERSHIP (ip_mreqn carrying the
ifindex), IP_MULTICAST_TTL 255 (IP_TTL alone leaves multicast at TTL 1) and IP_MULTICAST_IF
pinning the interface and source address. For multicast it is never bound to the unicast
address: the kernel would then drop every multicast advert. With `unicast_peer` it sends
to each peer instead, bound to `unicast_src_ip`. IPv6: ff02::12, hop limit 255, the hop
limit of received packets comes from IPV6_RECVHOPLIMIT ancillary data.

`MemoryHub` connects `MemoryTransport`s in one process: a LAN for unit tests.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from lvstui.errors import VrrpError
from lvstui.netutil import ip_family
from lvstui.vrrp.packet import (
    IPPROTO_VRRP,
    MCAST_V4,
    MCAST_V6,
    Advert,
    decode,
    decode_ipv4_packet,
    wrap_ipv4,
)

__all__ = [
    "Datagram",
    "InterfaceUnavailable",
    "MemoryHub",
    "MemoryTransport",
    "RawSocketTransport",
    "Transport",
    "decode_datagram",
]

SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
QUEUE_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class Datagram:
    """What a transport received. IPv4: `data` is the whole IP datagram (header included,
    as raw sockets return it). IPv6: `data` is the VRRP message, `ttl` the hop limit."""

    data: bytes
    family: int
    src: str
    dst: str | None = None
    ttl: int | None = None
    rx_time: float | None = None  # time.monotonic() when read off the socket


def decode_datagram(dg: Datagram) -> tuple[Advert, str, int | None]:
    """(advert, source address, TTL/hop limit) or PacketError."""
    if dg.family == 4:
        hdr, adv = decode_ipv4_packet(dg.data)
        return adv, hdr.src, hdr.ttl
    adv = decode(dg.data, family=6, src=dg.src, dst=dg.dst or MCAST_V6)
    return adv, dg.src, dg.ttl


class Transport(Protocol):
    """One instance's link. `source` is the address our adverts carry (v3 checksum, ties)."""

    @property
    def family(self) -> int: ...

    @property
    def source(self) -> str: ...

    def destinations(self) -> tuple[str, ...]:
        """Where adverts go: the multicast group, or the unicast peers."""
        ...

    def set_peers(self, peers: tuple[str, ...]) -> None:
        """A reload changed the list of unicast peers (multicast <-> unicast is a restart:
        vrrp/reload.py)."""
        ...

    async def open(self) -> None: ...

    async def send(self, payload: bytes, dst: str) -> None: ...

    async def recv(self) -> Datagram: ...

    def close(self) -> None: ...


class _Addressing:
    """What both transports answer the same way: the family, the source our adverts carry,
    and where they go (the unicast peers, else the family's multicast group)."""

    _family: int
    _source: str
    _peers: tuple[str, ...]

    @property
    def family(self) -> int:
        return self._family

    @property
    def source(self) -> str:
        return self._source

    def destinations(self) -> tuple[str, ...]:
        if self._peers:
            return self._peers
        return (MCAST_V4 if self._family == 4 else MCAST_V6,)


# --- in memory -----------------------------------------------------------------------------


class InterfaceUnavailable(VrrpError):
    """The instance's interface is missing, or has no address of its family (yet): not a
    configuration error, the instance waits in FAULT until it is usable (like keepalived)."""


class MemoryHub:
    """A broadcast domain: every datagram sent reaches every other open endpoint (or the
    unicast destination only)."""

    def __init__(self) -> None:
        self.endpoints: list[MemoryTransport] = []
        self.sent: list[tuple[str, str, bytes]] = []  # (src, dst, payload)

    def transport(
        self, source: str, *, family: int = 4, peers: Iterable[str] = ()
    ) -> MemoryTransport:
        t = MemoryTransport(self, source, family, tuple(peers))
        self.endpoints.append(t)
        return t

    def deliver(self, src: str, dst: str, payload: bytes, *, ttl: int = 255) -> None:
        self.sent.append((src, dst, payload))
        fam = ip_family(src)
        multicast = ipaddress.ip_address(dst).is_multicast
        for ep in self.endpoints:
            if ep.closed or ep.source == src or ep.family != fam:
                continue
            if not multicast and ep.source != dst:
                continue
            ep.inject_payload(payload, src=src, dst=dst, ttl=ttl)


class MemoryTransport(_Addressing):
    def __init__(self, hub: MemoryHub, source: str, family: int, peers: tuple[str, ...]) -> None:
        self._hub = hub
        self._source = source
        self._family = family
        self._peers = peers
        self._queue: asyncio.Queue[Datagram] | None = None
        self.closed = False
        self.link_up = True  # False: a cut cable (nothing in, nothing out)
        # set: `open` raises InterfaceUnavailable with it (no address on the interface yet)
        self.unavailable: str | None = None
        self.opens = 0

    def set_peers(self, peers: tuple[str, ...]) -> None:
        """A reload changed the unicast peers (still unicast: same socket)."""
        self._peers = tuple(peers)

    async def open(self) -> None:
        if self.unavailable is not None:
            raise InterfaceUnavailable(self.unavailable)
        self._q()
        self.closed = False
        self.opens += 1

    def _q(self) -> asyncio.Queue[Datagram]:
        if self._queue is None:
            self._queue = asyncio.Queue(QUEUE_LIMIT)
        return self._queue

    async def send(self, payload: bytes, dst: str) -> None:
        if self.closed or not self.link_up:
            return
        self._hub.deliver(self._source, dst, payload)

    def inject_payload(self, payload: bytes, *, src: str, dst: str, ttl: int = 255) -> None:
        if not self.link_up:
            return
        if self._family == 4:
            dg = Datagram(wrap_ipv4(payload, src=src, dst=dst, ttl=ttl), 4, src, dst, ttl)
        else:
            dg = Datagram(payload, 6, src, dst, ttl)
        self.inject(dg)

    def inject(self, dg: Datagram) -> None:
        q = self._q()
        if not q.full():
            q.put_nowait(dg)

    async def recv(self) -> Datagram:
        return await self._q().get()

    def close(self) -> None:
        self.closed = True


# --- raw sockets -----------------------------------------------------------------------------


class RawSocketTransport(_Addressing):
    """Protocol-112 raw socket on one interface (see the module docstring)."""

    def __init__(
        self,
        ifname: str,
        *,
        family: int = 4,
        source: str | None = None,
        unicast_src_ip: str | None = None,
        unicast_peers: Iterable[str] = (),
        address_of: str = "",  # the interface whose address adverts carry (default: ifname)
    ) -> None:
        self.ifname = ifname
        self.address_of = address_of or ifname
        self._family = family
        self._fixed_source = unicast_src_ip or source or ""
        self._source = self._fixed_source
        self._unicast_src = unicast_src_ip
        self._peers = tuple(unicast_peers)
        self._sock: socket.socket | None = None
        self._queue: asyncio.Queue[Datagram] = asyncio.Queue(QUEUE_LIMIT)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.overflow = 0

    def set_peers(self, peers: tuple[str, ...]) -> None:
        """A reload changed the unicast peers. Only between two non-empty lists: the socket
        is bound the same way for any list (multicast ↔ unicast needs a new socket)."""
        self._peers = tuple(peers)

    async def open(self) -> None:
        """Opens the socket (again after `close`: an interface deleted and created anew has a
        new ifindex and maybe another address). Raises `InterfaceUnavailable` while the
        interface is missing or has no address of the family: the instance waits in FAULT."""
        try:
            ifindex = socket.if_nametoindex(self.ifname)
        except OSError as exc:
            raise InterfaceUnavailable(
                f"interface {self.ifname!r} not found", hint="check `interface` in vrrp_instance"
            ) from exc
        if not self._fixed_source:
            addr_index = ifindex
            if self.address_of != self.ifname:
                try:
                    addr_index = socket.if_nametoindex(self.address_of)
                except OSError as exc:
                    raise InterfaceUnavailable(f"interface {self.address_of!r} not found") from exc
            self._source = await _primary_address(addr_index, self._family, self.address_of)
        try:
            sock = self._open4(ifindex) if self._family == 4 else self._open6(ifindex)
        except PermissionError as exc:
            raise VrrpError(
                "raw sockets need CAP_NET_RAW", hint="run the director as root"
            ) from exc
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._readable)

    def _open4(self, ifindex: int) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_VRRP)
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.ifname.encode())
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
            # 10 = IP_MTU_DISCOVER, 0 = IP_PMTUDISC_DONT: adverts may be fragmented, never DF
            s.setsockopt(socket.IPPROTO_IP, 10, 0)
            src = socket.inet_aton(self._source)
            mreqn = struct.pack("=4s4si", socket.inet_aton(MCAST_V4), src, ifindex)
            if self._peers:
                s.bind((self._unicast_src or self._source, 0))
            else:
                s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            s.setblocking(False)
        except BaseException:
            s.close()
            raise
        return s

    def _open6(self, ifindex: int) -> socket.socket:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, IPPROTO_VRRP)
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.ifname.encode())
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
            if self._peers:
                s.bind((self._unicast_src or self._source, 0, 0, 0))
            else:
                mreq = socket.inet_pton(socket.AF_INET6, MCAST_V6) + struct.pack("=I", ifindex)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
                # not bound: a raw IPv6 socket bound to an address only receives packets
                # sent to it, never the group; the kernel picks the link-local source
            s.setblocking(False)
        except BaseException:
            s.close()
            raise
        return s

    def _readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(64):  # drain what is there, bounded
            try:
                data, anc, _flags, addr = sock.recvmsg(65535, 256)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            now = time.monotonic()
            if self._family == 4:
                dg = Datagram(data, 4, str(addr[0]), rx_time=now)
            else:
                ttl: int | None = None
                dst: str | None = None
                for level, typ, val in anc:
                    if level != socket.IPPROTO_IPV6:
                        continue
                    if typ == IPV6_HOPLIMIT and len(val) >= 4:
                        ttl = struct.unpack("=i", val[:4])[0]
                    elif typ == IPV6_PKTINFO and len(val) >= 16:
                        dst = socket.inet_ntop(socket.AF_INET6, val[:16])
                src = str(addr[0]).split("%", 1)[0]
                dg = Datagram(data, 6, src, dst, ttl, now)
            if self._queue.full():
                self.overflow += 1
            else:
                self._queue.put_nowait(dg)

    async def send(self, payload: bytes, dst: str) -> None:
        sock = self._sock
        if sock is None:
            raise VrrpError("transport not open")
        try:
            if self._family == 4:
                sock.sendto(payload, (dst, 0))
            else:
                scope = (
                    socket.if_nametoindex(self.ifname)
                    if dst.lower().startswith(("ff02", "fe80"))
                    else 0
                )
                sock.sendto(payload, (dst, 0, 0, scope))
        except OSError as exc:
            # a link going down makes sends fail: not fatal, the link monitor reports FAULT
            raise VrrpError(f"send to {dst} on {self.ifname} failed: {exc}") from exc

    async def recv(self) -> Datagram:
        return await self._queue.get()

    def close(self) -> None:
        if self._sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None


async def _primary_address(ifindex: int, family: int, ifname: str = "") -> str:
    """The interface's first address of the family (IPv6: its link-local address)."""
    from pyroute2 import AsyncIPRoute

    fam = socket.AF_INET if family == 4 else socket.AF_INET6
    async with AsyncIPRoute() as ipr:
        found: list[str] = []
        async for msg in await ipr.addr("dump", family=fam, index=ifindex):
            addr = msg.get("address")
            if not addr:
                continue
            if family == 6 and not ipaddress.IPv6Address(addr).is_link_local:
                continue
            found.append(str(addr))
    if not found:
        name = ifname or f"#{ifindex}"
        raise InterfaceUnavailable(
            f"interface {name} has no IPv{family} address to send adverts from",
            hint="give the interface an address, or set unicast_src_ip",
        )
    return found[0]
