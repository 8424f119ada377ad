"""Desired vs observed → the minimal list of dataplane operations (pure).

Rules, in the order the operations come out:

1. Services that are observed but not desired are deleted **only if we own them**
   (`owned`): a director that starts next to services someone else programmed (ipvsadm by
   hand, another tool) leaves them alone. `owned=None` means "every observed service is
   ours" (the userspace and in-memory dataplanes, tests).
2. Then, per desired service in a stable order (protocol, fwmark, family, address, port):
   - missing: `AddService` (without dests) followed by one `AddDest` per real server, in
     the desired order;
   - present: `EditService` when scheduler, flags, persistence or netmask (or, where the
     dataplane reports them, the userspace-only options) differ; then `DelDest` for real
     servers no longer wanted, `EditDest` for weight / forwarding / threshold changes
     (**never** delete + add: a delete drops the server's established connections in the
     kernel), then `AddDest` for new ones.
3. For the hashing schedulers (`mh`, `sh`, `dh`) the destinations are added so that the
   list ends in one canonical order, re-adding those a newcomer must follow
   (hashorder.py: the kernel builds their table in list order, and every director of a
   BGP/ECMP site must build the same one).

A service that exists is always adopted as it is (start never flushes: a restart must drop
no connection), so reconciling against the kernel's table on start is just this function.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace

from lvstui.dataplane.base import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    DesiredDest,
    DesiredService,
    EditDest,
    EditService,
    ObservedDest,
    ObservedService,
    Op,
)
from lvstui.dataplane.hashorder import ORDERED_SCHEDULERS, order_ops, real_sort_key
from lvstui.model import RealKey, ServiceKey

__all__ = [
    "SERVICE_FLAGS",
    "dest_differs",
    "mask_prefix",
    "reconcile",
    "service_differs",
    "service_sort_key",
]

# The service flags an operator can ask for; anything else a dataplane reports ("hashed",
# "persistent", ...) is state, not configuration, and is not compared.
SERVICE_FLAGS = frozenset({"sh-port", "sh-fallback", "mh-port", "mh-fallback", "ops"})


def service_sort_key(key: ServiceKey) -> tuple[str, int, int, bytes, int]:
    """A total order on service keys (ServiceKey's own order trips over the enum)."""
    packed = ipaddress.ip_address(key.addr).packed if key.addr else b""
    return (key.protocol.value, key.fwmark, key.family, packed, key.port)


def mask_prefix(netmask: str | None, family: int) -> int:
    """Persistence granularity as a prefix length: None → host (/32 or /128).

    Accepts a dotted mask (`255.255.255.0`), `/24`, `24`, or an IPv6 mask.
    """
    full = 32 if family == 4 else 128
    if netmask is None or netmask == "":
        return full
    text = netmask.strip().lstrip("/")
    if text.isdigit():
        return int(text)
    mask = ipaddress.ip_address(text)
    bits = mask.max_prefixlen
    value = int(mask)
    prefix = bits - (((1 << bits) - 1 - value) & ((1 << bits) - 1)).bit_length()
    if value != ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1):
        raise ValueError(f"netmask {netmask!r} is not contiguous")
    return prefix


def _norm_flags(flags: Iterable[str]) -> frozenset[str]:
    return frozenset(f.lower() for f in flags) & SERVICE_FLAGS


def service_differs(want: DesiredService, have: ObservedService) -> bool:
    """True when the service itself (not its real servers) needs an EditService."""
    if want.scheduler.lower() != have.scheduler.lower():
        return True
    if _norm_flags(want.flags) != _norm_flags(have.flags):
        return True
    if (want.persistence_timeout or None) != (have.persistence_timeout or None):
        return True
    family = want.key.family
    if want.persistence_timeout and mask_prefix(want.netmask, family) != mask_prefix(
        have.netmask, family
    ):
        return True
    if have.proxy_protocol is not None and have.proxy_protocol != want.proxy_protocol:
        return True
    if have.app_hash is not None and have.app_hash != want.app_hash:
        return True
    return have.udp_idle_timeout is not None and have.udp_idle_timeout != want.udp_idle_timeout


def dest_differs(want: DesiredDest, have: ObservedDest) -> bool:
    return (
        want.weight != have.weight
        or want.fwd != have.fwd
        or want.u_threshold != have.u_threshold
        or want.l_threshold != have.l_threshold
    )


def _check_unique(desired: Sequence[DesiredService]) -> None:
    seen: set[ServiceKey] = set()
    for svc in desired:
        if svc.key in seen:
            raise ValueError(f"service {svc.key} is desired twice")
        seen.add(svc.key)
        reals: set[RealKey] = set()
        for d in svc.dests:
            if d.key in reals:
                raise ValueError(f"real server {d.key} is desired twice in {svc.key}")
            reals.add(d.key)


def reconcile(
    desired: Sequence[DesiredService],
    observed: Sequence[ObservedService],
    owned: Collection[ServiceKey] | None = None,
) -> list[Op]:
    """The minimal operations that turn `observed` into `desired` (see module doc)."""
    _check_unique(desired)
    want = {s.key: s for s in desired}
    have = {s.key: s for s in observed}
    ops: list[Op] = []

    for key in sorted(have, key=service_sort_key):
        if key not in want and (owned is None or key in owned):
            ops.append(DelService(key))

    for key in sorted(want, key=service_sort_key):
        w = want[key]
        h = have.get(key)
        ordered = w.scheduler.lower() in ORDERED_SCHEDULERS
        if h is None:
            ops.append(AddService(replace(w, dests=())))
            if ordered:
                ops.extend(order_ops(key, w.dests, ())[0])
            else:
                ops.extend(AddDest(key, d) for d in w.dests)
            continue
        if service_differs(w, h):
            ops.append(EditService(replace(w, dests=())))
        want_d = {d.key: d for d in w.dests}
        have_d = {d.key: d for d in h.dests}
        for rkey in sorted(have_d, key=real_sort_key):
            if rkey not in want_d:
                ops.append(DelDest(key, rkey))
        placed, readded = order_ops(key, w.dests, h.dests) if ordered else ([], frozenset())
        for d in w.dests:
            hd = have_d.get(d.key)
            if hd is not None and d.key not in readded and dest_differs(d, hd):
                ops.append(EditDest(key, d))
        if ordered:
            ops.extend(placed)
        else:
            ops.extend(AddDest(key, d) for d in w.dests if d.key not in have_d)
    return ops
