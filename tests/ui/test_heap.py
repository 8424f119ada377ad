"""The console freezes its heap out of the cycle collector's way once its first table is
drawn, and hands it back when it ends (lvstui.ui.heap)."""

from __future__ import annotations

import gc

from textual.pilot import Pilot

from lvstui.ui.app import LvstuiApp
from lvstui.ui.fake import FakeClient


async def _frozen_while_running(settle_heap: bool) -> int:
    client = FakeClient(3, 3)
    app = LvstuiApp(client, auto_poll=False, settle_heap=settle_heap)
    seen: list[int] = []

    async def drive(pilot: Pilot[int]) -> None:
        app.apply_snapshot(await client.snapshot())
        await pilot.pause()
        await pilot.pause()
        seen.append(gc.get_freeze_count())
        app.exit(0)

    try:
        await app.run_async(headless=True, size=(80, 24), auto_pilot=drive)
    finally:
        frozen_after = gc.get_freeze_count()
        gc.unfreeze()  # never leave the test process frozen, whatever happened
    assert frozen_after == 0, "the console's end must hand the heap back"
    return seen[0]


async def test_real_console_freezes_after_first_table_and_releases() -> None:
    assert gc.get_freeze_count() == 0
    assert await _frozen_while_running(settle_heap=True) > 0


async def test_console_without_settle_heap_leaves_the_collector_alone() -> None:
    assert await _frozen_while_running(settle_heap=False) == 0
