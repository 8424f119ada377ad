"""Rates computed the way the kernel's IPVS estimator does (pure; any dataplane may use it).

The kernel samples each counter every 2 seconds and keeps an exponentially weighted moving
average with weight 1/4, in fixed point: connections and packets scaled by 2^10 per second,
bytes by 2^5. Reading rounds to the nearest unit. Doing the same arithmetic here means the
userspace forwarder's CPS/PPS/BPS columns read like `ipvsadm -L --rate` for the same traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lvstui.model import Stats

__all__ = ["SAMPLE_PERIOD", "Estimator", "EstimatorState", "estimate", "read_rates"]

SAMPLE_PERIOD = 2.0  # seconds between samples, like the kernel


@dataclass(frozen=True, slots=True)
class EstimatorState:
    """Last totals seen and the scaled averages (cps/pps: ×2^10, bps: ×2^5)."""

    last: Stats = field(default_factory=Stats)
    cps: int = 0
    inpps: int = 0
    outpps: int = 0
    inbps: int = 0
    outbps: int = 0


def _ewma(avg: int, last: int, now: int, shift: int) -> int:
    rate = (now - last) << shift  # delta over 2 s, already scaled
    return avg + ((rate - avg) >> 2)  # arithmetic shift like the kernel's s64 maths


def estimate(state: EstimatorState, totals: Stats) -> EstimatorState:
    """One 2-second sample: new state from the previous state and the current totals."""
    last = state.last
    return EstimatorState(
        last=Stats(totals.conns, totals.inpkts, totals.outpkts, totals.inbytes, totals.outbytes),
        cps=_ewma(state.cps, last.conns, totals.conns, 9),
        inpps=_ewma(state.inpps, last.inpkts, totals.inpkts, 9),
        outpps=_ewma(state.outpps, last.outpkts, totals.outpkts, 9),
        inbps=_ewma(state.inbps, last.inbytes, totals.inbytes, 4),
        outbps=_ewma(state.outbps, last.outbytes, totals.outbytes, 4),
    )


def read_rates(state: EstimatorState, totals: Stats) -> Stats:
    """Totals plus the rates (per second, rounded like the kernel) as one Stats."""
    return Stats(
        conns=totals.conns,
        inpkts=totals.inpkts,
        outpkts=totals.outpkts,
        inbytes=totals.inbytes,
        outbytes=totals.outbytes,
        cps=(state.cps + 0x1FF) >> 10,
        inpps=(state.inpps + 0x1FF) >> 10,
        outpps=(state.outpps + 0x1FF) >> 10,
        inbps=(state.inbps + 0xF) >> 5,
        outbps=(state.outbps + 0xF) >> 5,
    )


class Estimator:
    """Mutable holder for one counter set; call `sample(totals)` every SAMPLE_PERIOD."""

    __slots__ = ("state",)

    def __init__(self, totals: Stats | None = None) -> None:
        self.state = EstimatorState(last=totals or Stats())

    def sample(self, totals: Stats) -> None:
        self.state = estimate(self.state, totals)

    def read(self, totals: Stats) -> Stats:
        return read_rates(self.state, totals)
