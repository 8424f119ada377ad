"""Keep Python's cycle collector from stopping the console for a third of a second.

The collector's oldest generation walks every tracked object: in a console that is every
module, class and function loaded, Textual's DOM, styles and render caches, the table's
11,000 rows at 1,000 services × 10 servers (and, embedded, the engine). Measured with
bench/tui_render.py (docs/performance.md, "Console"): such a pass took 250–300 ms of CPU at
1,000 × 10 and 100–150 ms on a 3 × 3 table, every few seconds while keys were pressed, and a
key that came during one waited for all of it: those were the worst key-to-screen times
(p99), not the snapshot's apply (6 ms).

`HeapKeeper.after_draw` runs after each snapshot is on screen. The first time, it collects
once and moves everything alive to the permanent generation (`gc.freeze`), which the
collector no longer walks: what exists once the first table is drawn (modules, the app,
its screens and rows) lives as long as the console. Objects made later are collected as
before; frozen ones that later become garbage are still freed by their reference counts.

Tried and left out: freezing again every few seconds what survived since. It kept the
collector's passes short, but froze ~36,000 objects per 10 s of keys (3 × 3) that were in
reference cycles later (dialogs, their styles): garbage the collector can no longer see.

`release` hands everything back to the collector when the console ends (an embedded
director goes on without its console: the console's own cycles must not stay behind).
"""

from __future__ import annotations

import gc
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
    def __init__(self, collector: Collector | None = None) -> None:
        self._gc = collector or PythonCollector()
        self._settled = False

    @property
    def settled(self) -> bool:
        return self._settled

    def after_draw(self) -> None:
        """The first table is on screen: collect once, freeze what is left."""
        if self._settled:
            return
        self._settled = True
        self._gc.collect()
        self._gc.freeze()

    def release(self) -> None:
        """Undo the freezing: everything is the collector's again."""
        if self._settled:
            self._settled = False
            self._gc.unfreeze()
