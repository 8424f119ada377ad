"""Keep Python's cycle collector from stopping the console for a third of a second.

The collector's oldest generation walks every tracked object: in a console that is every
module, class and function loaded, Textual's DOM, styles and render caches, the table's
11,000 rows at 1,000 services × 10 servers (and, embedded, the engine). Measured with
bench/tui_render.py (docs/performance.md, "Console"): such a pass took 250–300 ms of CPU at
1,000 × 10 and 100–150 ms on a 3 × 3 table, every few seconds while keys were pressed, and a
key that came during one waited for all of it: those were the worst key-to-screen times
(p99), not the snapshot's apply (6 ms).

`HeapKeeper.after_draw` runs after each snapshot is on screen (the console is idle then):

- the first time, it collects once and moves everything alive to the permanent generation
  (`gc.freeze`), which the collector no longer walks, and turns the collector's own passes
  over the oldest generation off (the young generations are collected as before);
- every `refreeze` seconds, it collects what is not frozen (what came since: a fraction of
  the heap, so a short pass, right after a frame) and freezes what survived. With the
  freezing alone the collector's own oldest passes still came every few seconds, at any
  moment, each walking what had survived since (40–90 ms of CPU at 1,000 × 10);
- every `rebuild` seconds, it unfreezes, collects everything and freezes again: a frozen
  object that later becomes garbage is still freed by its reference count, but one held in
  a reference cycle only by a full collection, so this bounds what such cycles keep. That
  pass is the long one (as long as the collector's own used to be), once in `rebuild`.

`release` hands everything back to the collector, and its passes, when the console ends (an
embedded director goes on without its console).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Collector", "HeapKeeper", "PythonCollector"]


class Collector(Protocol):
    """Python's cycle collector, as the keeper uses it (tests give a recording twin)."""

    def collect(self) -> None: ...
    def freeze(self) -> None: ...
    def unfreeze(self) -> None: ...
    def hold_oldest(self, held: bool) -> None:
        """Stop (True) or restart (False) the collector's own passes over the oldest
        generation; collect() still does them."""


_NEVER = 1 << 30  # a pass count the oldest generation's threshold never reaches


class PythonCollector:
    def __init__(self) -> None:
        self._oldest = gc.get_threshold()[2]

    def collect(self) -> None:
        gc.collect()

    def freeze(self) -> None:
        gc.freeze()

    def unfreeze(self) -> None:
        gc.unfreeze()

    def hold_oldest(self, held: bool) -> None:
        young, middle, oldest = gc.get_threshold()
        if held:
            self._oldest = oldest
        gc.set_threshold(young, middle, _NEVER if held else self._oldest)


class HeapKeeper:
    def __init__(
        self,
        collector: Collector | None = None,
        *,
        refreeze: float = 10.0,
        rebuild: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._gc = collector or PythonCollector()
        self._refreeze = refreeze
        self._rebuild = rebuild
        self._clock = clock
        self._settled = False
        self._last = self._full = 0.0

    @property
    def settled(self) -> bool:
        return self._settled

    def after_draw(self) -> None:
        now = self._clock()
        if self._settled and now - self._full >= self._rebuild:
            self._gc.unfreeze()  # the frozen cycles go back to the collector
            self._full = now
        elif self._settled and now - self._last < self._refreeze:
            return
        elif not self._settled:
            self._settled = True
            self._full = now
            self._gc.hold_oldest(True)
        self._gc.collect()
        self._gc.freeze()
        self._last = now

    def release(self) -> None:
        """Undo the freezing: everything is the collector's again."""
        if self._settled:
            self._settled = False
            self._gc.hold_oldest(False)
            self._gc.unfreeze()
