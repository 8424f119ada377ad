"""The address handoff (`[lvstui.announce] handoff = "address"`, the default with FRR): a VIP
is announced as an address VIP/32 (/128) on the tun device this process owns, which FRR
exports with `redistribute connected` and a route-map matching the device (docs/bgp.md).

Why not the kernel table, as for BIRD: on `kill -9` the kernel deletes the device and flushes
the routes through it without a route-deletion message, and FRR 8.4's `ip import-table` keeps
its copy — bgpd announces a dead director. Deleting the device does send the deletion of its
addresses and of the link (RTM_DELADDR, RTM_DELLINK), which zebra follows: its connected route
goes and bgpd withdraws (measured in the namespace lab). Fate sharing therefore rides on the
same device as before, only the carrier of the announcement differs.

The drain's less preferred announcement is the address's metric (IFA_RT_PRIORITY, Linux 4.18+):
zebra gives its connected route that metric, and `match metric 65535` in the route-map turns it
into the graceful-shutdown community and a longer AS path, as BIRD's filter does with the
route's metric. An IPv4 address's metric is changed in place (zebra follows it); FRR 8.4 does
not follow an in-place change of an IPv6 address's metric, so an IPv6 VIP is deleted and added
again, a withdrawal of a moment in between.

The address is also local, so the kernel accepts the VIP's traffic through it while it is
announced; the VIP stays held (a `local` route on lo) when it is withdrawn."""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from lvstui.announce.base import AnnounceError
from lvstui.announce.director import DRAIN_METRIC
from lvstui.announce.kernel_table import KernelTableAnnouncer
from lvstui.netutil import is_ipv6

__all__ = ["TunAddressAnnouncer"]

_IFA_F_NODAD = 0x02  # linux/if_addr.h: a VIP is no candidate for duplicate detection
_RT_SCOPE_UNIVERSE = 0  # our VIPs; the device's own IPv6 link-local address is scope link


@dataclass(frozen=True, slots=True)
class _Addr:
    family: int
    address: str
    prefixlen: int
    metric: int


class TunAddressAnnouncer(KernelTableAnnouncer):
    """Announcer through addresses on the tun device. The device's life (creation, adoption on
    a seamless restart, detach, close) is the kernel-table driver's."""

    def _remove_stale(self, *, adopted: bool) -> None:
        # Nothing of ours belongs in the table with this handoff, not even through the device
        # a previous daemon handed over (with the route handoff). Addresses on an adopted
        # device stay: the previous daemon's announcements, which our loop corrects.
        self._withdraw(keep=None)

    def _addrs(self) -> list[_Addr]:
        out: list[_Addr] = []
        for msg in self._netlink().get_addr(index=self._index):
            if int(msg["scope"]) != _RT_SCOPE_UNIVERSE:
                continue
            addr = msg.get("IFA_LOCAL") or msg.get("IFA_ADDRESS")
            metric = msg.get("IFA_RT_PRIORITY") or 0
            out.append(_Addr(int(msg["family"]), str(addr), int(msg["prefixlen"]), int(metric)))
        return out

    def _add(self, vip: str, metric: int, *, how: str = "replace") -> None:
        v6 = is_ipv6(vip)
        extra = {"IFA_FLAGS": _IFA_F_NODAD} if v6 else {}
        self._netlink().addr(
            how,
            index=self._index,
            address=vip,
            prefixlen=128 if v6 else 32,
            family=socket.AF_INET6 if v6 else socket.AF_INET,
            IFA_RT_PRIORITY=metric,
            **extra,
        )

    def _delete(self, a: _Addr) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            self._netlink().addr(
                "del", index=self._index, address=a.address, prefixlen=a.prefixlen, family=a.family
            )
        except NetlinkError as exc:
            if exc.code not in (errno.EADDRNOTAVAIL, errno.ESRCH, errno.ENOENT):
                raise AnnounceError(f"cannot withdraw {a.address}: {exc}") from exc

    def announce(self, vip: str, *, graceful: bool = False) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        if self._detached:
            return
        metric = DRAIN_METRIC if graceful else 0
        have = [a for a in self._addrs() if a.address == vip]
        if have and have[0].metric == metric:
            return
        try:
            if have and is_ipv6(vip):
                self._delete(have[0])  # FRR 8.4 misses an IPv6 metric changed in place
            self._add(vip, metric)
        except NetlinkError as exc:
            dev = self.spec.device
            raise AnnounceError(f"cannot announce {vip} (address on {dev}): {exc}") from exc

    def withdraw(self, vip: str) -> None:
        if self._detached:
            return
        for a in self._addrs():
            if a.address == vip:
                self._delete(a)

    def withdraw_all(self) -> None:
        if self._detached:
            return
        for a in self._addrs():
            self._delete(a)

    def announced(self) -> frozenset[str]:
        return frozenset(a.address for a in self._addrs())

    def graceful(self) -> Mapping[str, bool | None]:
        return {a.address: a.metric == DRAIN_METRIC for a in self._addrs()}
