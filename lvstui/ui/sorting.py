"""Sorting the service table by a column (pure, no Textual).

`s` cycles the column (none → address → weight → active → inactive → health → CPS → none),
`S` turns the order round. Services are sorted among themselves and each service's real
servers under it (a service keeps its servers; the sorry server stays last). Each column
starts the way an operator reads it: addresses ascending, numbers biggest first, health
worst first. The header marks the column (▲ ascending, ▼ descending).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lvstui.model import DrainState, Health, RealServerView, ServiceKey, ServiceView

__all__ = ["SORTABLE", "SortOrder", "next_column", "real_order", "service_order"]

SORTABLE = ("addr", "weight", "active", "inact", "status", "cps")
_ASCENDING_FIRST = frozenset({"addr"})


@dataclass(frozen=True, slots=True)
class SortOrder:
    column: str | None = None  # a COLUMNS key; None: the engine's order
    reverse: bool = False  # against the column's first direction

    @property
    def descending(self) -> bool:
        return (self.column not in _ASCENDING_FIRST) != self.reverse

    def mark(self, column: str) -> str:
        """What the header of `column` carries: ▲, ▼ or nothing."""
        if column != self.column:
            return ""
        return "▼" if self.descending else "▲"

    def flipped(self) -> SortOrder:
        return SortOrder(self.column, not self.reverse)


def next_column(order: SortOrder) -> SortOrder:
    cycle = (None, *SORTABLE)
    i = cycle.index(order.column) if order.column in cycle else 0
    return SortOrder(cycle[(i + 1) % len(cycle)])


_Key = tuple[int, ...]


def _ip(addr: str, port: int) -> _Key:
    ip = ipaddress.ip_address(addr)
    return (ip.version, int(ip), port)


def _addr(key: ServiceKey) -> _Key:
    return (1, key.fwmark, 0, 0) if key.fwmark else (0, *_ip(key.addr, key.port))


def _real_health(rs: RealServerView) -> _Key:
    # worst first when descending: down, expired, draining, unknown, safe, up
    if rs.health is Health.DOWN:
        return (5,)
    rank = {DrainState.EXPIRED: 4, DrainState.DRAINING: 3, DrainState.SAFE: 1}
    return (rank.get(rs.drain, 2 if rs.health is Health.UNKNOWN else 0),)


def _pool(sv: ServiceView) -> list[RealServerView]:
    return [r for r in sv.real_servers if not r.is_sorry]


_SERVICE: dict[str, Callable[[ServiceView], _Key]] = {
    "addr": lambda sv: _addr(sv.key),
    "weight": lambda sv: (sv.live_weight,),
    "active": lambda sv: (sum(r.active_conns for r in _pool(sv)),),
    "inact": lambda sv: (sum(r.inact_conns for r in _pool(sv)),),
    "status": lambda sv: (2 if sv.sorry_active else 1 if not sv.quorum_up else 0,),
    "cps": lambda sv: (sv.stats.cps,),
}
_REAL: dict[str, Callable[[RealServerView], _Key]] = {
    "addr": lambda rs: _ip(rs.key.addr, rs.key.port),
    "weight": lambda rs: (rs.weight,),
    "active": lambda rs: (rs.active_conns,),
    "inact": lambda rs: (rs.inact_conns,),
    "status": _real_health,
    "cps": lambda rs: (rs.stats.cps,),
}


def service_order(services: Sequence[ServiceView], order: SortOrder) -> list[int]:
    """The indices of `services` in the order shown (a stable sort: ties keep the engine's)."""
    if order.column is None:
        return list(range(len(services)))
    value = _SERVICE[order.column]
    return sorted(range(len(services)), key=lambda i: value(services[i]), reverse=order.descending)


def real_order(reals: Sequence[RealServerView], order: SortOrder) -> list[int]:
    """The indices of a service's `reals` in the order shown; the sorry server last."""
    if order.column is None:
        return list(range(len(reals)))
    value = _REAL[order.column]
    pool = [i for i, rs in enumerate(reals) if not rs.is_sorry]
    pool.sort(key=lambda i: value(reals[i]), reverse=order.descending)
    return pool + [i for i, rs in enumerate(reals) if rs.is_sorry]
