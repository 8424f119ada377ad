"""Short history for the console's sparklines: one sample a second, in ring buffers.

Per real server: active connections (what `ipvsadm -ln` shows as ActiveConn). Per service:
new connections per second. The rate comes from the dataplane's observed `Stats.cps` when it
reports one (the kernel estimates it over 2 s); otherwise it is derived from the growth of
the `conns` counter between two samples.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from lvstui.dataplane.base import ObservedService
from lvstui.model import RealKey, ServiceKey

__all__ = ["DEFAULT_SAMPLES", "Ring", "StatsHistory"]

DEFAULT_SAMPLES = 300  # five minutes at one sample a second


class Ring:
    """A fixed-size buffer of ints, oldest first."""

    __slots__ = ("_d",)

    def __init__(self, size: int = DEFAULT_SAMPLES) -> None:
        self._d: deque[int] = deque(maxlen=size)

    def push(self, value: int) -> None:
        self._d.append(value)

    def values(self) -> tuple[int, ...]:
        return tuple(self._d)

    def __len__(self) -> int:
        return len(self._d)


class StatsHistory:
    def __init__(self, size: int = DEFAULT_SAMPLES) -> None:
        self._size = size
        self._svc: dict[ServiceKey, Ring] = {}
        self._real: dict[tuple[ServiceKey, RealKey], Ring] = {}
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
            self._svc.setdefault(svc.key, Ring(self._size)).push(cps)
            for d in svc.dests:
                rk = (svc.key, d.key)
                seen_r.add(rk)
                self._real.setdefault(rk, Ring(self._size)).push(d.active_conns)
        # forget what disappeared, so a reload that removes a server frees its buffer
        for k in set(self._svc) - seen_s:
            del self._svc[k]
            self._last_conns.pop(k, None)
        for kr in set(self._real) - seen_r:
            del self._real[kr]

    def service(self, key: ServiceKey) -> tuple[int, ...]:
        r = self._svc.get(key)
        return r.values() if r else ()

    def real(self, service: ServiceKey, real: RealKey) -> tuple[int, ...]:
        r = self._real.get((service, real))
        return r.values() if r else ()
