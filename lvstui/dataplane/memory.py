"""The in-memory dataplane: a table and a log of every operation (tests, `--dry-run`).

It behaves like a strict kernel: adding what exists or editing what does not raises
`DataplaneError` naming the operation, and nothing of a failed batch after the failing
operation is applied (operations before it are, as with IPVS). Tests may set counters
(`set_counters`) to play traffic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from lvstui.dataplane.base import (
    NO_SYNC_OPTIONS,
    SYNC_DEFAULT_GROUP,
    SYNC_DEFAULT_MAXLEN,
    SYNC_DEFAULT_PORT,
    SYNC_DEFAULT_TTL,
    AddDest,
    AddService,
    Capabilities,
    DelDest,
    DelService,
    DesiredDest,
    DesiredService,
    EditDest,
    EditService,
    ObservedDest,
    ObservedService,
    Op,
    SyncOptions,
    SyncRole,
    describe_op,
)
from lvstui.errors import DataplaneError
from lvstui.model import LbKind, RealKey, ServiceKey, Stats

__all__ = ["ALL_SCHEDULERS", "MemoryDataplane", "apply_ops", "describe_op"]

ALL_SCHEDULERS = frozenset(
    {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf"}
)


def _observed_service(s: DesiredService, old: ObservedService | None) -> ObservedService:
    return ObservedService(
        key=s.key,
        scheduler=s.scheduler,
        flags=frozenset(s.flags),
        persistence_timeout=s.persistence_timeout,
        netmask=s.netmask,
        dests=old.dests if old else (),
        stats=old.stats if old else Stats(),
        proxy_protocol=s.proxy_protocol,
        app_hash=s.app_hash,
        udp_idle_timeout=s.udp_idle_timeout,
    )


def _observed_dest(d: DesiredDest, old: ObservedDest | None) -> ObservedDest:
    if old is None:
        return ObservedDest(
            d.key, d.weight, d.fwd, u_threshold=d.u_threshold, l_threshold=d.l_threshold
        )
    return replace(
        old, weight=d.weight, fwd=d.fwd, u_threshold=d.u_threshold, l_threshold=d.l_threshold
    )


def _find(svc: ObservedService, key: RealKey) -> int:
    for i, d in enumerate(svc.dests):
        if d.key == key:
            return i
    return -1


def apply_ops(
    table: Mapping[ServiceKey, ObservedService], ops: Sequence[Op]
) -> dict[ServiceKey, ObservedService]:
    """Pure: a new table with `ops` applied; DataplaneError on the first impossible op."""
    out = dict(table)
    for op in ops:
        match op:
            case AddService(s):
                if s.key in out:
                    raise DataplaneError(f"{describe_op(op)}: service exists")
                out[s.key] = _observed_service(s, None)
            case EditService(s):
                if s.key not in out:
                    raise DataplaneError(f"{describe_op(op)}: no such service")
                out[s.key] = _observed_service(s, out[s.key])
            case DelService(k):
                if out.pop(k, None) is None:
                    raise DataplaneError(f"{describe_op(op)}: no such service")
            case AddDest(k, d) | EditDest(k, d):
                svc = out.get(k)
                if svc is None:
                    raise DataplaneError(f"{describe_op(op)}: no such service")
                i = _find(svc, d.key)
                if isinstance(op, AddDest):
                    if i >= 0:
                        raise DataplaneError(f"{describe_op(op)}: real server exists")
                    # at the head, as the kernel's list_add_rcu (hashorder.py relies on it)
                    dests = (_observed_dest(d, None), *svc.dests)
                else:
                    if i < 0:
                        raise DataplaneError(f"{describe_op(op)}: no such real server")
                    new = _observed_dest(d, svc.dests[i])
                    dests = (*svc.dests[:i], new, *svc.dests[i + 1 :])
                out[k] = replace(svc, dests=dests)
            case DelDest(k, r):
                svc = out.get(k)
                i = _find(svc, r) if svc is not None else -1
                if svc is None or i < 0:
                    raise DataplaneError(f"{describe_op(op)}: no such real server")
                out[k] = replace(svc, dests=(*svc.dests[:i], *svc.dests[i + 1 :]))
    return out


class MemoryDataplane:
    """Records every operation; `observe()` returns the resulting table.

    `expire=True` gives it the `expire_connections` capability (as the userspace forwarder
    has): each call is recorded in `expired` and zeroes that real server's ActiveConn/
    InActConn. By default it has not, like the kernel: the engine then ends a drain's
    connections by deleting the destination (and `expire_connections` refuses)."""

    def __init__(
        self, initial: Sequence[ObservedService] = (), *, reason: str = "", expire: bool = False
    ) -> None:
        self._table: dict[ServiceKey, ObservedService] = {s.key: s for s in initial}
        self.expired: list[tuple[ServiceKey, RealKey]] = []  # expire_connections calls
        self.ops: list[Op] = []  # every operation applied, in order
        self.batches: list[tuple[Op, ...]] = []  # one entry per apply() call
        self.sync: tuple[SyncRole, str, int] = (SyncRole.NONE, "", 0)
        # the running daemon's maxlen, group, port, ttl as the kernel reports them (its
        # defaults filled in), and how many times a daemon was started
        self.sync_options: tuple[int, str, int, int] | None = None
        self.sync_starts = 0
        self.timeouts: tuple[int, int, int] = (900, 120, 300)  # the kernel's at boot
        self.started = False
        self.closed = False
        self._caps = Capabilities(
            name="memory",
            lb_kinds=frozenset(LbKind),
            schedulers=ALL_SCHEDULERS,
            protocols=frozenset({"TCP", "UDP", "SCTP"}),
            fwmark=True,
            sync_daemon=True,
            reason=reason,
            expire_connections=expire,
            timeouts=True,
            source_nat=True,
        )

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    async def start(self) -> None:
        self.started = True
        self.closed = False

    async def close(self) -> None:
        self.closed = True

    async def observe(self) -> Sequence[ObservedService]:
        return list(self._table.values())

    async def apply(self, ops: Sequence[Op]) -> None:
        batch = tuple(ops)
        self.batches.append(batch)
        for op in batch:
            # one at a time, so a failure leaves the ones before it applied (like the kernel)
            self._table = apply_ops(self._table, [op])
            self.ops.append(op)

    async def set_sync_role(
        self,
        role: SyncRole,
        interface: str = "",
        syncid: int = 0,
        options: SyncOptions = NO_SYNC_OPTIONS,
    ) -> None:
        if role is SyncRole.NONE:
            self.sync, self.sync_options = (SyncRole.NONE, "", 0), None
            return
        if not interface:
            raise DataplaneError(f"sync daemon {role.value}: no interface given")
        opts = (
            options.maxlen or SYNC_DEFAULT_MAXLEN,
            options.group or SYNC_DEFAULT_GROUP,
            options.port or SYNC_DEFAULT_PORT,
            options.ttl or SYNC_DEFAULT_TTL,
        )
        if (self.sync, self.sync_options) == ((role, interface, syncid), opts):
            return  # running as asked: left alone, like the kernel dataplane
        self.sync, self.sync_options = (role, interface, syncid), opts
        self.sync_starts += 1

    async def set_timeouts(self, tcp: int | None, tcpfin: int | None, udp: int | None) -> None:
        # like the kernel: an unset one keeps its value (900 / 120 / 300 at boot)
        old = self.timeouts
        self.timeouts = (tcp or old[0], tcpfin or old[1], udp or old[2])

    async def expire_connections(self, service: ServiceKey, real: RealKey) -> None:
        if not self._caps.expire_connections:
            raise DataplaneError(
                f"expire connections {service} -> {real}: not offered (made without expire=True)"
            )
        svc = self._table.get(service)
        i = _find(svc, real) if svc is not None else -1
        if svc is None or i < 0:
            raise DataplaneError(f"expire connections {service} -> {real}: no such real server")
        self.expired.append((service, real))
        d = replace(svc.dests[i], active_conns=0, inact_conns=0)
        self._table[service] = replace(svc, dests=(*svc.dests[:i], d, *svc.dests[i + 1 :]))

    # --- for tests ---------------------------------------------------------------------------

    def set_counters(
        self,
        service: ServiceKey,
        real: RealKey | None = None,
        *,
        stats: Stats | None = None,
        active: int | None = None,
        inactive: int | None = None,
        persist: int | None = None,
    ) -> None:
        """Pretend traffic: set a service's (real=None) or a real server's counters."""
        svc = self._table[service]
        if real is None:
            if stats is not None:
                self._table[service] = replace(svc, stats=stats)
            return
        i = _find(svc, real)
        if i < 0:
            raise KeyError(real)
        d = svc.dests[i]
        d = replace(
            d,
            stats=stats if stats is not None else d.stats,
            active_conns=active if active is not None else d.active_conns,
            inact_conns=inactive if inactive is not None else d.inact_conns,
            persist_conns=persist if persist is not None else d.persist_conns,
        )
        self._table[service] = replace(svc, dests=(*svc.dests[:i], d, *svc.dests[i + 1 :]))
