"""Hybrid logical clock (Kulkarni et al., 2014): wall-clock milliseconds plus a counter.

Every override carries one. Timestamps order like wall time when clocks are close, and never
go backwards on one director even when its wall clock does, and a timestamp received from a
peer is always overtaken by the next local one (so "the newest wins" is what an operator
expects: the change made last, as far as the directors could tell).

Pure: `tick` and `observe` take the physical time and return a new clock.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_DRIFT_MS", "Hlc", "HlcClock"]

# A peer's timestamp further than this ahead of our wall clock is still accepted (refusing
# it would lose an operator's change) but is reported by `observe` so the driver can warn:
# its clock is wrong and its changes will win against newer ones for that long.
MAX_DRIFT_MS = 60_000


@dataclass(frozen=True, slots=True, order=True)
class Hlc:
    """One timestamp. Orders by (wall_ms, logical)."""

    wall_ms: int
    logical: int = 0

    def __post_init__(self) -> None:
        if self.wall_ms < 0 or self.logical < 0:
            raise ValueError(f"hybrid clock values must be >= 0, got {self}")

    def __str__(self) -> str:
        return f"{self.wall_ms}.{self.logical}"

    @classmethod
    def parse(cls, text: str) -> Hlc:
        wall, _, logical = text.partition(".")
        return cls(int(wall), int(logical or 0))


@dataclass(frozen=True, slots=True)
class HlcClock:
    """The last timestamp this director issued or saw."""

    last: Hlc = Hlc(0, 0)

    def tick(self, physical_ms: int) -> tuple[HlcClock, Hlc]:
        """A local event (an operator's change): a timestamp after every one seen so far."""
        if physical_ms > self.last.wall_ms:
            ts = Hlc(physical_ms, 0)
        else:
            ts = Hlc(self.last.wall_ms, self.last.logical + 1)
        return HlcClock(ts), ts

    def observe(self, remote: Hlc, physical_ms: int) -> tuple[HlcClock, bool]:
        """A timestamp received from a peer. Returns the new clock and whether the remote
        one was implausibly far ahead of our wall clock (more than MAX_DRIFT_MS)."""
        wall = max(self.last.wall_ms, remote.wall_ms, physical_ms)
        if wall == self.last.wall_ms == remote.wall_ms:
            logical = max(self.last.logical, remote.logical) + 1
        elif wall == self.last.wall_ms:
            logical = self.last.logical + 1
        elif wall == remote.wall_ms:
            logical = remote.logical + 1
        else:
            logical = 0
        return HlcClock(Hlc(wall, logical)), remote.wall_ms - physical_ms > MAX_DRIFT_MS
