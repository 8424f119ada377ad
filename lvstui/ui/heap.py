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
  (`gc.freeze`), which the collector no longer walks;
- every `refreeze` seconds, it collects what is not frozen (what came since: a fraction of
  the heap, so a short pass) and freezes what survived, so the collector's own passes stay
  short as caches fill;
- every `rebuild` seconds, it unfreezes, collects everything and freezes again: a frozen
  object that later becomes garbage is still freed by its reference count, but one held in
  a reference cycle only by a full collection, so this bounds what such cycles keep. That
  pass is the long one (as long as the collector's own used to be), once in `rebuild`.

`release` hands everything back to the collector when the console ends (an embedded
director goes on without its console).
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


class PythonCollector:
    def collect(self) -> None:
        gc.collect()

    def freeze(self) -> None:
        gc.freeze()

    def unfreeze(self) -> None:
        gc.unfreeze()


class HeapKeeper:
    def __init__(
        self,
        collector: Collector | None = None,
        *,
        refreeze: float = 30.0,
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
        self._gc.collect()
        self._gc.freeze()
        self._last = now

    def release(self) -> None:
        """Undo the freezing: everything is the collector's again."""
        if self._settled:
            self._settled = False
            self._gc.unfreeze()
