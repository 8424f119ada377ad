"""The kernel-table driver: a VIP is announced by a /32 (/128) route in a routing table of
ours, tagged with a protocol id of ours, through a tun device this process owns. The site's
routing daemon exports that table: BIRD 2's `kernel` protocol with `kernel table N`, or FRR's
`ip import-table N` (docs/bgp.md has both snippets).

Fate sharing is the reason for the tun device. A route `dev lo` outlives the process that
added it, so a dead director would keep attracting traffic until someone cleans up. The tun
device here is opened without TUNSETPERSIST and with O_CLOEXEC: when the last descriptor
closes — the process exits, is killed with -9, or crashes — the kernel deletes the device,
and deleting a device deletes every route through it, so the routing daemon sees the
withdrawal at once. Close-on-exec matters: a notify script that inherited the descriptor
would keep the device, and the routes, alive after lvstui died (Python opens descriptors
non-inheritable anyway, PEP 446; the flag says so where it counts, and a test spawns a
child without close_fds to hold us to it).

No packet is ever routed through the device: no `ip rule` points at our table, so the kernel
forwards by its main and local tables (the VIP is on lo or a dummy interface); the table only
carries the announcement to the routing daemon."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lvstui.announce.base import AnnounceError
from lvstui.announce.director import DRAIN_METRIC
from lvstui.config.announce import (
    DEFAULT_ANNOUNCE_DEVICE,
    DEFAULT_ANNOUNCE_PROTOCOL,
    DEFAULT_ANNOUNCE_TABLE,
)
from lvstui.netutil import is_ipv6

if TYPE_CHECKING:
    from pyroute2 import IPRoute

__all__ = [
    "DEFAULT_DEVICE",
    "DEFAULT_PROTOCOL",
    "DEFAULT_TABLE",
    "KernelTableAnnouncer",
    "TableSpec",
    "open_tun",
]

DEFAULT_TABLE = DEFAULT_ANNOUNCE_TABLE
DEFAULT_PROTOCOL = DEFAULT_ANNOUNCE_PROTOCOL
DEFAULT_DEVICE = DEFAULT_ANNOUNCE_DEVICE

# linux/if_tun.h
_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000
_IFNAMSIZ = 16


@dataclass(frozen=True, slots=True)
class TableSpec:
    table: int = DEFAULT_TABLE
    protocol: int = DEFAULT_PROTOCOL
    device: str = DEFAULT_DEVICE


def open_tun(name: str) -> int:
    """Create the tun device `name`, owned by this process only: returns the descriptor whose
    closing deletes the device (no persist flag) and that no child inherits (O_CLOEXEC)."""
    if not name or len(name.encode()) >= _IFNAMSIZ:
        raise AnnounceError(f"tun device name {name!r}: 1 to {_IFNAMSIZ - 1} bytes")
    try:
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        raise AnnounceError(
            f"cannot open /dev/net/tun: {exc.strerror}",
            hint="bgp announcements need the tun module and CAP_NET_ADMIN",
        ) from exc
    try:
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
    except OSError as exc:
        os.close(fd)
        hint = (
            "another process holds it: is a second lvstui running?"
            if exc.errno == errno.EBUSY
            else "needs CAP_NET_ADMIN"
        )
        raise AnnounceError(f"cannot create tun device {name}: {exc.strerror}", hint=hint) from exc
    return fd


@dataclass(frozen=True, slots=True)
class _Found:
    family: int
    dst: str
    dst_len: int
    scope: int
    oif: int
    metric: int


class KernelTableAnnouncer:
    """Announcer through routes in a dedicated kernel table (see the module doc). `start()`
    creates the device and removes a previous run's routes; `close()` withdraws everything and
    gives the device back to the kernel."""

    def __init__(self, spec: TableSpec = TableSpec()) -> None:
        self.spec = spec
        self._fd: int | None = None
        self._ipr: IPRoute | None = None
        self._index = 0
        self._adopt: int | None = None
        self._detached = False

    def adopt(self, fd: int | None) -> None:
        """Use the tun descriptor a previous daemon handed over (lvstui/handover.py) at the
        next start instead of creating the device: the old process still holds it, and its
        routes through it are this director's announcements, kept without a gap."""
        self._adopt = fd

    def detach(self) -> None:
        """A new program holds the device now (a seamless restart): touch no route any
        more, so that closing here leaves the announcements to it."""
        self._detached = True

    def fileno(self) -> int | None:
        return self._fd

    @property
    def device(self) -> str:
        return self.spec.device

    def start(self) -> None:
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        adopted, self._adopt = self._adopt, None
        self._detached = False
        if adopted is not None:
            os.set_inheritable(adopted, False)  # it came through exec: close-on-exec again
        self._fd = open_tun(self.spec.device) if adopted is None else adopted
        self._ipr = IPRoute()
        try:
            self._index = self._ipr.link_lookup(ifname=self.spec.device)[0]
            self._ipr.link("set", index=self._index, state="up")
        except (NetlinkError, IndexError) as exc:
            self.close()
            raise AnnounceError(f"cannot bring up {self.spec.device}: {exc}") from exc
        self._remove_stale(adopted=adopted is not None)

    def _remove_stale(self, *, adopted: bool) -> None:
        """A previous run's routes: through its own tun device they died with it, but routes
        of ours added any other way (an older version, an operator's hand) would be announced
        for a VIP nobody decided on. An adopted device's routes stay: they are the previous
        daemon's announcements, and the first tick of our loop corrects them; its addresses
        go (a previous daemon's address handoff, lvstui/announce/tun_address.py)."""
        self._withdraw(keep=self._index if adopted else None)
        if adopted:
            self._netlink().flush_addr(index=self._index, scope=0)

    def close(self) -> None:
        if self._ipr is not None:
            try:
                if not self._detached:
                    self.withdraw_all()
            finally:
                self._ipr.close()
                self._ipr = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _route(self, vip: str) -> dict[str, object]:
        v6 = is_ipv6(vip)
        return {
            "dst": vip,
            "dst_len": 128 if v6 else 32,
            "family": socket.AF_INET6 if v6 else socket.AF_INET,
            "table": self.spec.table,
            "proto": self.spec.protocol,
            "oif": self._index,
        }

    def _netlink(self) -> IPRoute:
        if self._ipr is None:
            raise AnnounceError("the kernel-table announcer is not started")
        return self._ipr

    def announce(self, vip: str, *, graceful: bool = False) -> None:
        """The metric is part of a kernel route's identity: a drain begun or ended adds the
        route with the new metric first, then deletes the old one (no gap in between)."""
        from pyroute2.netlink.exceptions import NetlinkError

        if self._detached:
            return
        route = self._route(vip)
        extra = {"priority": DRAIN_METRIC} if graceful else {}
        try:
            self._netlink().route("replace", **route, **extra)
            for r in self._ours():
                if r.dst == vip and (r.metric == DRAIN_METRIC) != graceful:
                    self._netlink().route("del", **route, priority=r.metric)
        except NetlinkError as exc:
            raise AnnounceError(f"cannot announce {vip} (table {self.spec.table}): {exc}") from exc

    def withdraw(self, vip: str) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        if self._detached:
            return
        # twice at most: a normal and a drained route (a switch cut short)
        for _ in range(2):
            try:
                self._netlink().route("del", **self._route(vip))
            except NetlinkError as exc:
                if exc.code != errno.ESRCH:
                    raise AnnounceError(f"cannot withdraw {vip}: {exc}") from exc
                return

    def _ours(self) -> list[_Found]:
        """Every route of our protocol in our table, through any device."""
        out: list[_Found] = []
        for family in (socket.AF_INET, socket.AF_INET6):
            for msg in self._netlink().get_routes(family=family, table=self.spec.table):
                if msg["proto"] != self.spec.protocol:
                    continue
                out.append(
                    _Found(
                        family,
                        str(msg.get("RTA_DST")),
                        int(msg["dst_len"]),
                        int(msg["scope"]),
                        int(msg.get("RTA_OIF") or 0),
                        int(msg.get("RTA_PRIORITY") or 0),
                    )
                )
        return out

    def withdraw_all(self) -> None:
        if not self._detached:
            self._withdraw(keep=None)

    def _withdraw(self, keep: int | None) -> None:
        """Delete our routes, except those through the device `keep` (an interface index)."""
        from pyroute2.netlink.exceptions import NetlinkError

        ipr = self._netlink()
        for r in self._ours():
            if keep is not None and r.oif == keep:
                continue
            try:
                # The kernel matches a deletion on scope and device too: give back what the
                # dump said, or a leftover `dev lo` route (scope link) would not match.
                ipr.route(
                    "del",
                    family=r.family,
                    dst=r.dst,
                    dst_len=r.dst_len,
                    scope=r.scope,
                    oif=r.oif,
                    table=self.spec.table,
                    proto=self.spec.protocol,
                )
            except NetlinkError as exc:
                if exc.code != errno.ESRCH:
                    raise AnnounceError(f"cannot withdraw {r.dst}/{r.dst_len}: {exc}") from exc

    def announced(self) -> frozenset[str]:
        return frozenset(r.dst for r in self._ours())

    def graceful(self) -> Mapping[str, bool | None]:
        # None: a VIP with both routes (a switch cut short), so the next tick finishes it
        out: dict[str, bool | None] = {}
        for r in self._ours():
            g = r.metric == DRAIN_METRIC
            out[r.dst] = g if out.get(r.dst, g) == g else None
        return out
