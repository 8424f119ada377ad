"""Keep Python's cycle collector from stopping the console for a third of a second.

The collector's oldest generation walks every tracked object: in a console that is every
module, class and function loaded, Textual's DOM and styles, the table's 11,000 rows at
1,000 services × 10 servers (and, embedded, the engine). Measured with bench/tui_render.py
(docs/performance.md, "Console"): such a pass took 250–300 ms of CPU at 1,000 × 10 and
100–150 ms on a 3 × 3 table, every few seconds while keys were pressed, and a key that came
during one waited for all of it: those were the worst key-to-screen times (p99), not the
snapshot's apply (6 ms).

Once the console has drawn its first table, what exists then lives as long as the console:
`settle` collects once and moves it all to the permanent generation (`gc.freeze`), which
the collector no longer walks; objects made later are collected as before, and ones made
before that later become garbage are still freed by their reference counts. `release`
hands them back to the collector when the console ends (an embedded director goes on
without its console: the console's own cycles must not stay behind for good).
"""

from __future__ import annotations

import gc

__all__ = ["release", "settle"]


def settle() -> None:
    """Collect, then freeze what is left out of the collector's way."""
    gc.collect()
    gc.freeze()


def release() -> None:
    """Undo `settle`: the frozen objects are collected again (the next pass frees cycles)."""
    gc.unfreeze()
