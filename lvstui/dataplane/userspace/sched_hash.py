"""The hashing schedulers (`sh`, `dh`, `mh`) and the kernel's hash functions they use, written
from `ip_vs_sh.c`, `ip_vs_dh.c`, `ip_vs_mh.c` (Linux 6.1) so a client lands where the kernel
would put it."""

from __future__ import annotations

from math import gcd

from lvstui.dataplane.userspace.sched_base import RealServer, Scheduler

__all__ = [
    "DestinationHashing",
    "MaglevHashing",
    "SourceHashing",
    "hash_32",
    "hsiphash_u32",
]

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF


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
