"""The same hashing table on every director: destinations in a fixed order, and its digest.

The kernel's hashing schedulers build their table by walking the service's destination list
in list order: `ip_vs_mh_populate` lets each destination claim its preferred free slot in
turn, so when two destinations prefer the same slot the one earlier in the list wins;
`ip_vs_sh_reassign` and `ip_vs_dh_reassign` deal the buckets out in list order. And the list
order is the order of addition, newest first (`__ip_vs_update_dest` does `list_add_rcu` at
the head; `ipvsadm -Ln` and the netlink dump show that order). The hash keys themselves are
fixed constants in the kernel, so two directors with the same destinations, weights and
flags in the same list order build the same table and send a given client to the same real
server — what BGP/ECMP directors need when the router moves a flow between them.

So for these schedulers the destinations are added in one fixed order — real servers sorted
by (family, address, port) — whatever order the configuration or `ctl add` brought them in,
and the list the kernel holds is that order reversed (the canonical list):

- a new service gets its destinations added in sorted order;
- a destination added later goes to the head: in place when it sorts after every other
  (the usual case: a new server with the next address); otherwise the destinations that
  must come before it in the list — those sorting after it — are deleted and re-added in
  sorted order. A deleted destination with connections waits in the kernel's trash and is
  taken back by the re-add (the same object), so its connections carry on; packets that
  arrive in between — two netlink messages — are dropped and retransmitted by TCP.

Pure; the userspace forwarder inserts at the head too (it mirrors the kernel)."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable, Sequence

from lvstui.dataplane.base import AddDest, DelDest, DesiredDest, ObservedDest, Op
from lvstui.model import RealKey, ServiceKey

__all__ = ["ORDERED_SCHEDULERS", "canonical", "hash_digest", "order_ops", "real_sort_key"]

# Schedulers whose table depends on the destination list's order.
ORDERED_SCHEDULERS = frozenset({"mh", "sh", "dh"})
# The flags that change which real server a client gets (port in the hash, fallback walk).
_TABLE_FLAGS = frozenset({"mh-port", "mh-fallback", "sh-port", "sh-fallback"})


def real_sort_key(key: RealKey) -> tuple[int, bytes, int]:
    ip = ipaddress.ip_address(key.addr)
    return (ip.version, ip.packed, key.port)


def canonical(keys: Iterable[RealKey]) -> list[RealKey]:
    """The list every director keeps, head first: added in sorted order (family, address,
    port), each at the head, so the list is that order reversed."""
    return sorted(keys, key=real_sort_key, reverse=True)


def order_ops(
    service: ServiceKey,
    want: Sequence[DesiredDest],
    have: Sequence[ObservedDest],
) -> tuple[list[Op], frozenset[RealKey]]:
    """Additions (and re-additions) that leave the list in canonical order.

    `have` is the list as the dataplane holds it (head first), after the caller's deletions
    of unwanted destinations. Returns the operations and the destinations they re-add (the
    caller issues no EditDest for those: the re-add carries the wanted values)."""
    wanted = {d.key: d for d in want}
    kept = [d.key for d in have if d.key in wanted]
    target = canonical(wanted)
    # The longest tail already in place stays; everything before it goes to the head, last
    # list entry first, so the last one added is the head of the canonical list.
    tail = 0
    while tail < min(len(kept), len(target)) and kept[-1 - tail] == target[-1 - tail]:
        tail += 1
    present = set(kept)
    ops: list[Op] = []
    readded: set[RealKey] = set()
    for key in reversed(target[: len(target) - tail]):
        if key in present:
            ops.append(DelDest(service, key))
            readded.add(key)
        ops.append(AddDest(service, wanted[key]))
    return ops, frozenset(readded)


def hash_digest(scheduler: str, flags: Iterable[str], dests: Sequence[ObservedDest]) -> str:
    """A digest of the hashing table a service has: the scheduler, the flags that change a
    lookup, and the destinations that take part (weight above 0) in list order with their
    weights — what the kernel builds the table from. Equal digests, equal tables; a list out
    of canonical order shows as a different digest, as its table is different."""
    doc = {
        "scheduler": scheduler.lower(),
        "flags": sorted(f.lower() for f in flags if f.lower() in _TABLE_FLAGS),
        "dests": [[d.key.addr, d.key.port, d.weight] for d in dests if d.weight > 0],
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
