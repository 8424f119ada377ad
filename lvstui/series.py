"""Bounded history for charts: one ring buffer of samples per key, oldest first.

The engine keeps the active connections and new connections per second behind its
snapshots' sparklines (`engine/stats.py`); the console keeps the rates and check latencies
of what it shows (`ui/history.py`). Both store their samples here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from collections.abc import Set as AbstractSet
from typing import Generic, TypeVar

__all__ = ["DEFAULT_SAMPLES", "Ring", "RingMap"]

DEFAULT_SAMPLES = 300  # five minutes at one sample a second

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


class Ring(Generic[T]):
    """A fixed-size buffer, oldest first: the oldest sample goes when a new one comes."""

    __slots__ = ("_d",)

    def __init__(self, size: int = DEFAULT_SAMPLES) -> None:
        self._d: deque[T] = deque(maxlen=size)

    def push(self, value: T) -> None:
        self._d.append(value)

    def values(self) -> tuple[T, ...]:
        return tuple(self._d)

    def __len__(self) -> int:
        return len(self._d)


class RingMap(Generic[K, T]):
    """One Ring per key, made by the first sample."""

    def __init__(self, size: int = DEFAULT_SAMPLES) -> None:
        self.size = size
        self._rings: dict[K, Ring[T]] = {}

    def push(self, key: K, value: T) -> None:
        ring = self._rings.get(key)
        if ring is None:
            ring = self._rings[key] = Ring(self.size)
        ring.push(value)

    def values(self, key: K) -> tuple[T, ...]:
        ring = self._rings.get(key)
        return ring.values() if ring is not None else ()

    def keep(self, keys: AbstractSet[K]) -> None:
        """Forget the other keys (a server a reload removed frees its buffer)."""
        for key in [k for k in self._rings if k not in keys]:
            del self._rings[key]

    def __len__(self) -> int:
        return len(self._rings)
