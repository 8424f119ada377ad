"""The real server as the userspace forwarder's schedulers see it, and the scheduler base
class whose hooks mirror the kernel's (see `sched` for the algorithms)."""

from __future__ import annotations

import socket
from typing import Any, ClassVar

from lvstui.netutil import is_ipv6, socket_family

__all__ = ["RealServer", "Scheduler", "addr_fold"]


class RealServer:
    """A real server as the forwarder sees it: settings, counters and load state."""

    __slots__ = (
        "active",
        "addr",
        "conns",
        "family",
        "fold",
        "fwd",
        "inact",
        "inbytes",
        "inpkts",
        "key",
        "l_threshold",
        "last_weight",
        "outbytes",
        "outpkts",
        "overloaded",
        "persist",
        "port",
        "u_threshold",
        "weight",
    )

    def __init__(
        self, addr: str, port: int, weight: int = 1, u_threshold: int = 0, l_threshold: int = 0
    ) -> None:
        self.addr = addr
        self.port = port
        self.key: Any = None  # the forwarder stores its RealKey here
        self.fwd: Any = None  # and its LbKind
        self.family = socket_family(addr)
        self.fold = addr_fold(addr)
        self.weight = weight
        self.last_weight = weight  # kernel: last weight > 0 (0 only if never positive)
        self.u_threshold = u_threshold
        self.l_threshold = l_threshold
        self.active = 0
        self.inact = 0
        self.persist = 0
        self.overloaded = False
        self.conns = self.inpkts = self.outpkts = self.inbytes = self.outbytes = 0

    def __repr__(self) -> str:
        return f"RealServer({self.addr}:{self.port} w={self.weight})"

    @property
    def available(self) -> bool:
        return self.weight > 0 and not self.overloaded

    def set_weight(self, weight: int) -> None:
        self.weight = weight
        if weight > 0:
            self.last_weight = weight

    def set_thresholds(self, upper: int, lower: int) -> None:
        # like __ip_vs_update_dest: raising (or removing) the upper threshold clears the flag
        if upper == 0 or upper > self.u_threshold:
            self.overloaded = False
        self.u_threshold = upper
        self.l_threshold = lower

    # connection accounting, with the overload rules of ip_vs_bind_dest / ip_vs_unbind_dest

    def total(self) -> int:
        return self.active + self.inact

    def check_overload_up(self) -> None:
        if self.u_threshold and self.total() >= self.u_threshold:
            self.overloaded = True

    def check_overload_down(self) -> None:
        total = self.total()
        if self.l_threshold:
            if total < self.l_threshold:
                self.overloaded = False
        elif self.u_threshold:
            if total * 4 < self.u_threshold * 3:
                self.overloaded = False
        else:
            self.overloaded = False


def addr_fold(addr: str) -> int:
    """The kernel's address fold for hashing: the IPv4 address, or the XOR of the four
    32-bit words of an IPv6 address (host byte order)."""
    if is_ipv6(addr):
        b = socket.inet_pton(socket.AF_INET6, addr.split("%", 1)[0])
        return (
            int.from_bytes(b[0:4], "big")
            ^ int.from_bytes(b[4:8], "big")
            ^ int.from_bytes(b[8:12], "big")
            ^ int.from_bytes(b[12:16], "big")
        )
    return int.from_bytes(socket.inet_aton(addr), "big")


class Scheduler:
    """Base: `schedule(fold, port)` → a real server or None; hooks mirror the kernel's."""

    name: ClassVar[str] = ""

    def __init__(self, dests: list[RealServer], flags: frozenset[str] = frozenset()) -> None:
        self.dests = dests  # shared with the service; kernel order (newest first)
        self.flags = flags

    def add_dest(self, dest: RealServer) -> None:  # after insertion at index 0
        self._rebuild()

    def del_dest(self, dest: RealServer, index: int) -> None:  # after removal from `index`
        self._rebuild()

    def upd_dest(self, dest: RealServer) -> None:  # weight / thresholds changed
        self._rebuild()

    def _rebuild(self) -> None:
        """Recompute derived state after any change to the real servers (tables, gcd...)."""

    def schedule(self, fold: int, port: int) -> RealServer | None:
        raise NotImplementedError
