"""Anti-entropy: two directors find and exchange what one has and the other lacks.

On every (re)connection, and now and then after, each side sends a `Summary`: a hash of its
whole store and one hash per bucket (entries are spread over BUCKETS buckets by key). The
receiver answers with the per-entry versions of the buckets that differ; the first side then
sends the entries the other lacks or holds older, and asks for the ones it lacks itself:

    A -> B  summary(A)
    B -> A  versions(B, differing buckets)
    A -> B  entries A has newer + want(keys B has newer)
    B -> A  entries wanted

Equal stores cost one small message each way. Pure: this module computes the messages'
contents; channel.py carries them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lvstui.group.clock import Hlc
from lvstui.group.store import Entry, EntryKey, Store

__all__ = [
    "BUCKETS",
    "Summary",
    "Version",
    "differing_buckets",
    "plan",
    "summary",
    "versions",
]

BUCKETS = 64

Version = tuple[Hlc, str, str]  # Entry.version(): stamp, origin, value


def _bucket(key: EntryKey) -> int:
    return hashlib.sha256(key.text().encode()).digest()[0] % BUCKETS


def _entry_hash(e: Entry) -> bytes:
    stamp, origin, value = e.version()
    return hashlib.sha256(f"{e.key.text()}\0{stamp}\0{origin}\0{value}".encode()).digest()


@dataclass(frozen=True, slots=True)
class Summary:
    root: str
    buckets: tuple[str, ...]


def summary(store: Store) -> Summary:
    """Order-independent: XOR of the entry hashes, per bucket and overall."""
    acc = [0] * BUCKETS  # 256-bit XORs as Python ints: one operation per entry
    for e in store.entries.values():
        acc[_bucket(e.key)] ^= int.from_bytes(_entry_hash(e), "big")
    buckets = tuple(a.to_bytes(32, "big").hex() for a in acc)
    root = hashlib.sha256("".join(buckets).encode()).hexdigest()
    return Summary(root, buckets)


def differing_buckets(mine: Summary, theirs: Summary) -> frozenset[int]:
    if mine.root == theirs.root:
        return frozenset()
    if len(theirs.buckets) != BUCKETS:  # another layout: compare everything
        return frozenset(range(BUCKETS))
    return frozenset(i for i in range(BUCKETS) if mine.buckets[i] != theirs.buckets[i])


def versions(store: Store, buckets: Iterable[int]) -> dict[EntryKey, Version]:
    wanted = set(buckets)
    return {k: e.version() for k, e in store.entries.items() if _bucket(k) in wanted}


def plan(
    store: Store, theirs: Mapping[EntryKey, Version], buckets: Iterable[int]
) -> tuple[list[Entry], list[EntryKey]]:
    """Given the peer's versions of `buckets`: the entries to send it (ours, newer or
    missing there) and the keys to ask it for (theirs, newer or missing here)."""
    send: list[Entry] = []
    want: list[EntryKey] = []
    wanted = set(buckets)
    for k, e in store.entries.items():
        if _bucket(k) in wanted:
            v = theirs.get(k)
            if v is None or e.version() > v:
                send.append(e)
    for k, v in theirs.items():
        mine = store.get(k)
        if mine is None or v > mine.version():
            want.append(k)
    return send, want
