"""The daemon's own resources: asyncio tasks, open descriptors, resident memory.

A leak of any of them is how a long-running director dies slowly (issue 10's soak watched
RSS, descriptors and tasks per minute). `ProcessStats` samples them once a second inside
the event loop (the task count can only be read there) and serves the last sample to the
snapshot (`lvstui status`) and to the metrics thread, with the counters of other parts
(control socket refusals, audit failures, health runs that could not be made).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable

from lvstui.descriptors import nofile_limit, open_descriptors
from lvstui.model import ProcessView

__all__ = ["ProcessStats", "rss_bytes"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Resident set size of this process (0 when /proc is not there)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


class ProcessStats:
    """Sampled in the loop by `run()`; `view()` and `counters()` read the last sample from
    any thread (plain attribute reads)."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.last = ProcessView()
        self.sources: list[Callable[[], dict[str, int]]] = []

    def sample(self) -> ProcessView:
        self.last = ProcessView(
            tasks=len(asyncio.all_tasks()),
            descriptors=open_descriptors(),
            descriptor_limit=nofile_limit(),
            rss=rss_bytes(),
        )
        return self.last

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.every)

    def view(self) -> ProcessView:
        return self.last

    def counters(self) -> dict[str, int]:
        """For the metrics: the last sample, then every source's counters."""
        v = self.last
        out = {
            "tasks": v.tasks,
            "descriptors": v.descriptors,
            "descriptor_limit": v.descriptor_limit,
            "rss": v.rss,
        }
        for source in self.sources:
            with contextlib.suppress(Exception):  # a counter is never worth a failed scrape
                out.update(source())
        return out
