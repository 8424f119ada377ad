"""Series the console keeps itself, one sample per snapshot: rates and check latency.

The engine's views carry a history of active connections only; rates (connections/s, bytes/s)
and check latencies over time are remembered here, bounded, so the drill-down can chart them.
Services are always recorded; a real server only while it is `watched` (its drill-down is
open), because recording 10,000 servers a second would cost more than drawing the screen.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet

from lvstui.model import DrainProgress, DrainState, Event, Snapshot
from lvstui.series import RingMap

__all__ = ["SeriesStore"]

_TOTAL = "*"  # the key of the totals over all services (no service key looks like it)


class SeriesStore:
    def __init__(self, length: int = 300) -> None:
        self.length = length
        self._series: RingMap[tuple[str, str], float] = RingMap(length)
        self._last_seq = -1
        # (service, real) -> most active connections since its drain began (the drill-down's
        # progress bar), from the engine's DrainProgress events: the drill-down may open
        # long after the drain started, when the first counts are no longer on screen.
        self._drain_peaks: dict[tuple[str, str], int] = {}

    def note_events(self, events: Iterable[Event]) -> None:
        for ev in events:
            if not isinstance(ev, DrainProgress):
                continue
            key = (str(ev.service), str(ev.real))
            if ev.state is DrainState.NONE:
                self._drain_peaks.pop(key, None)
            else:
                self._drain_peaks[key] = max(self._drain_peaks.get(key, 0), ev.active_conns)

    def drain_peak(self, service: str, real: str, seen: int = 0) -> int:
        """The most active connections of a drained server since its drain began, `seen`
        (what the caller sees now) included; remembered until it is undrained."""
        key = (service, real)
        peak = max(self._drain_peaks.get(key, 0), seen)
        self._drain_peaks[key] = peak
        return peak

    def record(self, snap: Snapshot, watched: AbstractSet[tuple[str, str]] = frozenset()) -> None:
        """Add one sample; `watched` holds (service, real) key strings to record too."""
        if snap.seq == self._last_seq:  # the same snapshot twice (a retry) adds no sample
            return
        self._last_seq = snap.seq
        add = self._series.push
        services = {s for s, _ in watched}
        cps = inbps = outbps = 0
        for sv in snap.services:
            cps += sv.stats.cps
            inbps += sv.stats.inbps
            outbps += sv.stats.outbps
            sk = str(sv.key)
            add((sk, "cps"), sv.stats.cps)
            add((sk, "inbps"), sv.stats.inbps)
            add((sk, "outbps"), sv.stats.outbps)
            if sk not in services:
                continue
            for rs in sv.real_servers:
                if (sk, str(rs.key)) not in watched:
                    continue
                rk = f"{sk}|{rs.key}"
                add((rk, "cps"), rs.stats.cps)
                add((rk, "inbps"), rs.stats.inbps)
                lat = [c.last_latency for c in rs.checks if c.last_latency is not None]
                if lat:
                    add((rk, "latency_ms"), max(lat) * 1000)

        add((_TOTAL, "cps"), cps)
        add((_TOTAL, "inbps"), inbps)
        add((_TOTAL, "outbps"), outbps)

    def totals(self, name: str) -> list[float]:
        """All services together ("cps", "inbps", "outbps"): the header's sparklines."""
        return list(self._series.values((_TOTAL, name)))

    def get(self, key: str, name: str) -> list[float]:
        return list(self._series.values((key, name)))
