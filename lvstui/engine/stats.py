"""Short history for the console's sparklines: one sample a second, in ring buffers.

Per real server: active connections (what `ipvsadm -ln` shows as ActiveConn). Per service:
new connections per second. The rate comes from the dataplane's observed `Stats.cps` when it
reports one (the kernel estimates it over 2 s); otherwise it is derived from the growth of
the `conns` counter between two samples.
"""

from __future__ import annotations

from collections.abc import Iterable

from lvstui.dataplane.base import ObservedService
from lvstui.model import RealKey, ServiceKey
from lvstui.series import DEFAULT_SAMPLES, RingMap

__all__ = ["DEFAULT_SAMPLES", "StatsHistory"]


class StatsHistory:
    def __init__(self, size: int = DEFAULT_SAMPLES) -> None:
        self._svc: RingMap[ServiceKey, int] = RingMap(size)
        self._real: RingMap[tuple[ServiceKey, RealKey], int] = RingMap(size)
        self._last_conns: dict[ServiceKey, tuple[float, int]] = {}

    def sample(self, observed: Iterable[ObservedService], now: float) -> None:
        """Record one sample per service and per real server (call once a second)."""
        seen_s: set[ServiceKey] = set()
        seen_r: set[tuple[ServiceKey, RealKey]] = set()
        for svc in observed:
            seen_s.add(svc.key)
            cps = svc.stats.cps
            prev = self._last_conns.get(svc.key)
            if cps == 0 and prev is not None and now > prev[0]:
                cps = max(0, round((svc.stats.conns - prev[1]) / (now - prev[0])))
            self._last_conns[svc.key] = (now, svc.stats.conns)
            self._svc.push(svc.key, cps)
            for d in svc.dests:
                rk = (svc.key, d.key)
                seen_r.add(rk)
                self._real.push(rk, d.active_conns)
        # forget what disappeared, so a reload that removes a server frees its buffer
        self._svc.keep(seen_s)
        self._real.keep(seen_r)
        for k in [k for k in self._last_conns if k not in seen_s]:
            del self._last_conns[k]

    def service(self, key: ServiceKey) -> tuple[int, ...]:
        return self._svc.values(key)

    def real(self, service: ServiceKey, real: RealKey) -> tuple[int, ...]:
        return self._real.values((service, real))
