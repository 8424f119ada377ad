"""Schedulers for the userspace forwarder, with the kernel's algorithms (pure, no I/O).

Each one reproduces what `net/netfilter/ipvs/ip_vs_<name>.c` (Linux 6.1) does, written
from reading it, so the same sequence of connections lands on the same real servers:

- The real-server list is in **kernel order**: IPVS inserts a new destination at the
  *head* of the service's list, so the newest real server comes first. `Service.add`
  does the same, and every scheduler walks the list in that order.
- A real server is *available* when its weight is > 0 and it is not overloaded (upper
  connection threshold reached, see `RealServer.bind`): weight 0 = drained (no new
  connections; existing ones continue).
- `wrr` keeps the kernel's (cl, cw, mw, di) state (gcd stepping, max weight reduced by
  di-1), reset on every change like `ip_vs_wrr_dest_changed`; `rr` keeps a cursor that
  survives additions and moves back on deletion like `ip_vs_rr_del_dest`.
- `lc`/`wlc` use the kernel's overhead `(active << 8) + inactive`; `sed`/`nq` use
  `active + 1`; `fo` picks the available server of highest weight (first on ties).
- `sh` and `dh` fill a 256-bucket table with each server repeated `weight` times (at
  least once) in list order and index it with `hash_32`; `mh` builds the Maglev lookup
  table (4093 entries, SipHash-1-3 keyed like the kernel on 64-bit) from `last_weight`
  (the last non-zero weight, so draining a server does not reshuffle everyone else).
  `sh-fallback`/`mh-fallback` walk the table for an available server; `sh-port`/`mh-port`
  hash the client port too.
- `random` (not a kernel scheduler): weighted random among available servers.

The scheduler objects hold a reference to the service's list and get told about changes
(`add_dest`, `del_dest`, `upd_dest`), exactly as the kernel calls its scheduler hooks.
"""

from __future__ import annotations

import random as _random
import socket
from collections.abc import Callable
from math import gcd
from typing import Any, ClassVar

from lvstui.netutil import is_ipv6, socket_family

__all__ = [
    "SCHEDULERS",
    "RealServer",
    "Scheduler",
    "addr_fold",
    "hash_32",
    "hsiphash_u32",
    "make_scheduler",
]

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF


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


def hash_32(val: int, bits: int) -> int:
    """Linux `hash_32`: multiply by the 32-bit golden ratio, keep the top `bits`."""
    return ((val * 0x61C88647) & _M32) >> (32 - bits)


def _rol64(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _M64


def hsiphash_u32(value: int, k0: int, k1: int) -> int:
    """Linux `hsiphash()` of one u32 on 64-bit kernels (SipHash-1-3, 32-bit result)."""
    v0 = 0x736F6D6570736575 ^ k0
    v1 = 0x646F72616E646F6D ^ k1
    v2 = 0x6C7967656E657261 ^ k0
    v3 = 0x7465646279746573 ^ k1
    b = (4 << 56) | (value & _M32)

    def rnd() -> None:
        nonlocal v0, v1, v2, v3
        v0 = (v0 + v1) & _M64
        v1 = _rol64(v1, 13) ^ v0
        v0 = _rol64(v0, 32)
        v2 = (v2 + v3) & _M64
        v3 = _rol64(v3, 16) ^ v2
        v0 = (v0 + v3) & _M64
        v3 = _rol64(v3, 21) ^ v0
        v2 = (v2 + v1) & _M64
        v1 = _rol64(v1, 17) ^ v2
        v2 = _rol64(v2, 32)

    v3 ^= b
    rnd()
    v0 ^= b
    v2 ^= 0xFF
    rnd()
    rnd()
    rnd()
    return (v0 ^ v1 ^ v2 ^ v3) & _M32


# --- schedulers ------------------------------------------------------------------------------


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


class RoundRobin(Scheduler):
    name = "rr"

    def __init__(self, dests: list[RealServer], flags: frozenset[str] = frozenset()) -> None:
        super().__init__(dests, flags)
        self.cursor = -1  # index of the last chosen dest; -1 = list head

    def add_dest(self, dest: RealServer) -> None:
        if self.cursor >= 0:
            self.cursor += 1  # inserted before it

    def del_dest(self, dest: RealServer, index: int) -> None:
        if index < self.cursor:
            self.cursor -= 1
        elif index == self.cursor:
            self.cursor = index - 1  # the kernel steps back to the previous entry

    def schedule(self, fold: int, port: int) -> RealServer | None:
        dests = self.dests
        n = len(dests)
        last = self.cursor
        for i in range(last + 1, n):
            if dests[i].available:
                self.cursor = i
                return dests[i]
        if last >= 0:  # second pass from the head, up to and including the last one
            for i in range(0, min(last + 1, n)):
                if dests[i].available:
                    self.cursor = i
                    return dests[i]
        return None


class WeightedRoundRobin(Scheduler):
    name = "wrr"

    def __init__(self, dests: list[RealServer], flags: frozenset[str] = frozenset()) -> None:
        super().__init__(dests, flags)
        self.cl = -1
        self.di = self._gcd()
        self.mw = self._max() - (self.di - 1)
        self.cw = self.mw

    def _gcd(self) -> int:
        g = 0
        for d in self.dests:
            if d.weight > 0:
                g = gcd(d.weight, g) if g > 0 else d.weight
        return g or 1

    def _max(self) -> int:
        return max((d.weight for d in self.dests), default=0)

    def _rebuild(self) -> None:
        self.cl = -1
        self.di = self._gcd()
        self.mw = self._max() - (self.di - 1)
        if self.cw > self.mw or not self.cw:
            self.cw = self.mw
        elif self.di > 1:
            self.cw = (self.cw // self.di) * self.di + 1

    def schedule(self, fold: int, port: int) -> RealServer | None:
        dests = self.dests
        n = len(dests)
        pos = self.cl
        if self.mw == 0:
            return None
        last = pos
        stop = -2  # no stop yet (-1 would be the head)
        last_pass = restarted = False
        while True:
            for i in range(pos + 1, n):
                d = dests[i]
                if not d.overloaded and d.weight >= self.cw:
                    self.cl = i
                    return d
                if i == stop:
                    self.cl = i
                    return None
            pos = -1  # back at the head
            self.cw -= self.di
            if self.cw <= 0:
                self.cw = self.mw
                if last_pass or last == -1:
                    self.cl = -1
                    return None
                restarted = True
            last_pass = self.cw <= self.di
            if last_pass and restarted and last != -1:
                stop = last


def _conn_overhead(d: RealServer) -> int:
    return (d.active << 8) + d.inact


class LeastConnection(Scheduler):
    name = "lc"

    def schedule(self, fold: int, port: int) -> RealServer | None:
        least: RealServer | None = None
        loh = 0
        for d in self.dests:
            if d.overloaded or d.weight == 0:
                continue
            doh = _conn_overhead(d)
            if least is None or doh < loh:
                least, loh = d, doh
        return least


class _WeightedLeast(Scheduler):
    """wlc and sed: minimise overhead/weight, compared by cross-multiplication."""

    @staticmethod
    def overhead(d: RealServer) -> int:
        raise NotImplementedError

    def schedule(self, fold: int, port: int) -> RealServer | None:
        dests = self.dests
        overhead = self.overhead
        start = -1
        for i, d in enumerate(dests):
            if not d.overloaded and d.weight > 0:
                start = i
                break
        if start < 0:
            return None
        least = dests[start]
        loh = overhead(least)
        for d in dests[start + 1 :]:
            if d.overloaded:
                continue
            doh = overhead(d)
            if loh * d.weight > doh * least.weight:
                least, loh = d, doh
        return least


class WeightedLeastConnection(_WeightedLeast):
    name = "wlc"

    @staticmethod
    def overhead(d: RealServer) -> int:
        return _conn_overhead(d)


class ShortestExpectedDelay(_WeightedLeast):
    name = "sed"

    @staticmethod
    def overhead(d: RealServer) -> int:
        return d.active + 1


class NeverQueue(Scheduler):
    name = "nq"

    def schedule(self, fold: int, port: int) -> RealServer | None:
        least: RealServer | None = None
        loh = 0
        for d in self.dests:
            if d.overloaded or d.weight == 0:
                continue
            doh = d.active + 1
            if d.active == 0:  # an idle server is taken at once
                return d
            if least is None or loh * d.weight > doh * least.weight:
                least, loh = d, doh
        return least


class WeightedFailover(Scheduler):
    name = "fo"

    def schedule(self, fold: int, port: int) -> RealServer | None:
        best: RealServer | None = None
        for d in self.dests:
            if not d.overloaded and d.weight > 0 and (best is None or d.weight > best.weight):
                best = d
        return best


_SH_BITS = 8
_SH_SIZE = 1 << _SH_BITS


class _BucketHash(Scheduler):
    """sh and dh: 256 buckets, each real server repeated `weight` times in list order."""

    def __init__(self, dests: list[RealServer], flags: frozenset[str] = frozenset()) -> None:
        super().__init__(dests, flags)
        self.buckets: list[RealServer | None] = [None] * _SH_SIZE
        self._rebuild()

    def _rebuild(self) -> None:
        dests = self.dests
        if not dests:
            self.buckets = [None] * _SH_SIZE
            return
        out: list[RealServer | None] = []
        i = count = 0
        while len(out) < _SH_SIZE:
            d = dests[i]
            out.append(d)
            count += 1
            if count >= d.weight:
                i = (i + 1) % len(dests)
                count = 0
        self.buckets = out


class SourceHashing(_BucketHash):
    name = "sh"

    def _key(self, fold: int, port: int, offset: int) -> int:
        return (offset + hash_32((port + fold) & _M32, _SH_BITS)) & (_SH_SIZE - 1)

    def schedule(self, fold: int, port: int) -> RealServer | None:
        if "sh-port" not in self.flags:
            port = 0
        buckets = self.buckets
        ihash = self._key(fold, port, 0)
        d = buckets[ihash]
        if d is None:
            return None
        if d.available:
            return d
        if "sh-fallback" not in self.flags:
            return None
        for offset in range(_SH_SIZE):
            roffset = (offset + ihash) % _SH_SIZE
            d = buckets[self._key(fold, port, roffset)]
            if d is None:
                return None
            if d.available:
                return d
        return None


class DestinationHashing(_BucketHash):
    """Hash of the *destination* address: in userspace always the virtual address, so
    every connection of a service goes to one server (as with the kernel for one VIP)."""

    name = "dh"

    def __init__(
        self, dests: list[RealServer], flags: frozenset[str] = frozenset(), vip_fold: int = 0
    ) -> None:
        self.vip_fold = vip_fold
        super().__init__(dests, flags)

    def schedule(self, fold: int, port: int) -> RealServer | None:
        d = self.buckets[hash_32(self.vip_fold, _SH_BITS) & (_SH_SIZE - 1)]
        return d if d is not None and d.available else None


_MH_SIZE = 4093  # primes[12 - 8]
_MH_BITS = 6
_MH_K1 = 2654435761
_MH_K2 = 2654446892


def _mh_hash(fold: int, port: int, key: int, offset: int) -> int:
    return hsiphash_u32((offset + port + fold) & _M32, key, key)


class MaglevHashing(Scheduler):
    name = "mh"

    def __init__(self, dests: list[RealServer], flags: frozenset[str] = frozenset()) -> None:
        super().__init__(dests, flags)
        self.lookup: list[RealServer | None] = [None] * _MH_SIZE
        self._rebuild()

    def _rebuild(self) -> None:
        dests = self.dests
        g = 0
        for d in dests:
            if d.last_weight > 0:
                g = gcd(d.last_weight, g) if g > 0 else d.last_weight
        if g < 1:
            self.lookup = [None] * _MH_SIZE
            return
        mw = max(d.last_weight for d in dests) // g
        rshift = max(mw.bit_length() - _MH_BITS, 0)
        offsets: list[int] = []
        skips: list[int] = []
        perms: list[int] = []
        turns: list[int] = []
        for d in dests:
            off = _mh_hash(d.fold, d.port, _MH_K1, 0) % _MH_SIZE
            offsets.append(off)
            skips.append(_mh_hash(d.fold, d.port, _MH_K2, 0) % (_MH_SIZE - 1) + 1)
            perms.append(off)
            lw = d.last_weight
            turns.append(((lw // g) >> rshift) or (1 if lw != 0 else 0))
        taken = bytearray(_MH_SIZE)
        lookup = self.lookup
        n = 0
        dt_count = 0
        idx = 0
        nd = len(dests)
        while n < _MH_SIZE:
            if idx >= nd:
                idx = 0
            # one sweep over the list, like the kernel's inner loop
            while idx < nd:
                if turns[idx] < 1:
                    idx += 1
                    continue
                c = perms[idx]
                while taken[c]:
                    c += skips[idx]
                    if c >= _MH_SIZE:
                        c -= _MH_SIZE
                perms[idx] = c
                taken[c] = 1
                lookup[c] = dests[idx]
                n += 1
                if n == _MH_SIZE:
                    break
                dt_count += 1
                if dt_count >= turns[idx]:
                    dt_count = 0
                    idx += 1
            else:
                continue
            break

    def lookup_key(self, fold: int, port: int) -> RealServer | None:
        """Maglev lookup for any 32-bit key (also used by the HTTP application hash)."""
        lookup = self.lookup
        ihash = _mh_hash(fold, port, _MH_K1, 0) % _MH_SIZE
        d = lookup[ihash]
        if d is None:
            return None
        if d.available:
            return d
        if "mh-fallback" not in self.flags:
            return None
        for offset in range(_MH_SIZE):
            roffset = (offset + ihash) % _MH_SIZE
            d = lookup[_mh_hash(fold, port, _MH_K1, roffset) % _MH_SIZE]
            if d is None:
                return None
            if d.available:
                return d
        return None

    def schedule(self, fold: int, port: int) -> RealServer | None:
        return self.lookup_key(fold, port if "mh-port" in self.flags else 0)


class WeightedRandom(Scheduler):
    name = "random"

    def __init__(
        self,
        dests: list[RealServer],
        flags: frozenset[str] = frozenset(),
        rng: _random.Random | None = None,
    ) -> None:
        super().__init__(dests, flags)
        self.rng = rng or _random.Random()

    def schedule(self, fold: int, port: int) -> RealServer | None:
        avail = [d for d in self.dests if d.available]
        if not avail:
            return None
        return self.rng.choices(avail, weights=[d.weight for d in avail])[0]


SCHEDULERS: dict[str, Callable[..., Scheduler]] = {
    cls.name: cls
    for cls in (
        RoundRobin,
        WeightedRoundRobin,
        LeastConnection,
        WeightedLeastConnection,
        ShortestExpectedDelay,
        NeverQueue,
        WeightedFailover,
        SourceHashing,
        DestinationHashing,
        MaglevHashing,
        WeightedRandom,
    )
}


def make_scheduler(
    name: str, dests: list[RealServer], flags: frozenset[str] = frozenset(), vip: str = ""
) -> Scheduler:
    """A scheduler by its ipvsadm name; KeyError for one the forwarder does not have."""
    cls = SCHEDULERS[name.lower()]
    if cls is DestinationHashing:
        return DestinationHashing(dests, flags, addr_fold(vip) if vip else 0)
    return cls(dests, flags)
