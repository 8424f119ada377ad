"""Telling the LAN a VIP moved: gratuitous ARP (IPv4) and unsolicited neighbour
advertisements (IPv6), behind the `Announcer` seam.

The ARP frame is a request for the VIP from the VIP, broadcast, with the target hardware
address set to ff:ff:ff:ff:ff:ff as keepalived does (some switches and hosts only refresh
their cache on that form). It leaves through an AF_PACKET socket so it needs no IP route.
"""

from __future__ import annotations

import asyncio
import fcntl
import ipaddress
import socket
import struct
from collections.abc import Callable, Sequence
from functools import partial
from typing import Protocol

from lvstui.errors import VrrpError
from lvstui.netutil import is_ipv6

__all__ = ["Announcer", "MemoryAnnouncer", "RawAnnouncer", "arp_frame", "na_message"]

ETH_P_ARP = 0x0806
SIOCGIFHWADDR = 0x8927
BROADCAST = b"\xff" * 6
ALL_NODES = "ff02::1"


def arp_frame(mac: bytes, vip: str) -> bytes:
    """An Ethernet frame carrying a gratuitous ARP request for `vip` from `mac`."""
    ip = ipaddress.IPv4Address(vip).packed
    eth = BROADCAST + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + BROADCAST + ip
    return eth + arp


def na_message(mac: bytes, vip: str) -> bytes:
    """An ICMPv6 unsolicited neighbour advertisement (override flag) with our MAC as the
    target link-layer option. The kernel fills in the checksum on ICMPv6 raw sockets."""
    target = ipaddress.IPv6Address(vip).packed
    flags = 0x20000000  # Override: replace whatever cache entry the hosts hold
    return struct.pack("!BBHI", 136, 0, 0, flags) + target + struct.pack("!BB", 2, 1) + mac


class Announcer(Protocol):
    async def announce(self, ifname: str, addrs: Sequence[str], repeat: int = 1) -> None:
        """Send `repeat` gratuitous ARPs / NAs for each address."""
        ...

    def set_intervals(self, garp: float, gna: float) -> None:
        """keepalived's vrrp_garp_interval / vrrp_gna_interval: seconds between two
        gratuitous ARPs (NAs) on an interface; 0 sends them back to back."""
        ...

    def close(self) -> None: ...


class MemoryAnnouncer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []  # (ifname, address)
        self.intervals = (0.0, 0.0)

    def set_intervals(self, garp: float, gna: float) -> None:
        self.intervals = (garp, gna)

    async def announce(self, ifname: str, addrs: Sequence[str], repeat: int = 1) -> None:
        for _ in range(repeat):
            self.sent.extend((ifname, a) for a in addrs)

    def close(self) -> None:
        return None


def _mac(ifname: str) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        info = fcntl.ioctl(s.fileno(), SIOCGIFHWADDR, struct.pack("256s", ifname.encode()[:15]))
    return bytes(info[18:24])


class RawAnnouncer:
    """Real frames. Its sockets stay open between takeovers: closing a packet socket waits
    for an RCU grace period (10-100 ms measured here) and would stall the event loop right
    after a takeover. Call `close()` when done."""

    def __init__(self) -> None:
        self._packet: socket.socket | None = None
        self._icmp6: dict[str, socket.socket] = {}
        self._garp_interval = 0.0
        self._gna_interval = 0.0
        self._pacing: set[asyncio.Task[None]] = set()  # interval-paced sends under way

    def set_intervals(self, garp: float, gna: float) -> None:
        self._garp_interval, self._gna_interval = garp, gna

    async def announce(self, ifname: str, addrs: Sequence[str], repeat: int = 1) -> None:
        # Sends are tiny and non-blocking; a failure (link down) is reported, not fatal. The
        # first ARP and NA go now (their errors are the caller's); with an interval set, the
        # rest follow from a task of their own, so a takeover never waits on the pacing.
        try:
            mac = _mac(ifname)
            v4 = [arp_frame(mac, a) for a in addrs if not is_ipv6(a)]
            v6 = [na_message(mac, a) for a in addrs if is_ipv6(a)]
            if self._packet is None:
                # protocol 0 and never bound: a send-only socket, no receive hook
                self._packet = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            arp_to = (ifname, ETH_P_ARP)
            arps: Sequence[Callable[[], object]] = [
                partial(self._packet.sendto, f, arp_to) for f in v4
            ] * repeat
            nas: Sequence[Callable[[], object]] = []
            if v6:
                na_to = (ALL_NODES, 0, 0, socket.if_nametoindex(ifname))
                icmp6 = self._icmp6_socket(ifname)
                nas = [partial(icmp6.sendto, m, na_to) for m in v6] * repeat
            for sends, interval in ((arps, self._garp_interval), (nas, self._gna_interval)):
                if not sends:
                    continue
                if interval <= 0:
                    for send in sends:
                        send()
                    continue
                sends[0]()
                task = asyncio.create_task(self._paced(sends[1:], interval), name="garp-pacing")
                self._pacing.add(task)
                task.add_done_callback(self._pacing.discard)
        except OSError as exc:
            raise VrrpError(f"gratuitous ARP/NA on {ifname} failed: {exc}") from exc

    def _icmp6_socket(self, ifname: str) -> socket.socket:
        s = self._icmp6.get(ifname)
        if s is None:
            s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
            self._icmp6[ifname] = s
            s.setsockopt(socket.SOL_SOCKET, 25, ifname.encode())
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        return s

    @staticmethod
    async def _paced(sends: Sequence[Callable[[], object]], interval: float) -> None:
        for send in sends:
            await asyncio.sleep(interval)
            try:
                send()
            except OSError:
                return  # the link went away: the next takeover announces again

    def close(self) -> None:
        for task in self._pacing:
            task.cancel()
        if self._packet is not None:
            self._packet.close()
            self._packet = None
        for s in self._icmp6.values():
            s.close()
        self._icmp6.clear()
