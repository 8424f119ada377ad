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

`RealServer` and the `Scheduler` base are in `sched_base`, the hashing schedulers and the
kernel's hash functions in `sched_hash`; this module has the others and `make_scheduler`.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from math import gcd

from lvstui.dataplane.userspace.sched_base import RealServer, Scheduler, addr_fold
from lvstui.dataplane.userspace.sched_hash import (
    DestinationHashing,
    MaglevHashing,
    SourceHashing,
    hash_32,
    hsiphash_u32,
)

__all__ = [
    "SCHEDULERS",
    "MaglevHashing",
    "RealServer",
    "Scheduler",
    "addr_fold",
    "hash_32",
    "hsiphash_u32",
    "make_scheduler",
]


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
