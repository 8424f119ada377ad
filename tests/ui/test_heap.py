"""The console freezes its heap out of the cycle collector's way once its first table is
drawn, and hands it back when it ends (lvstui.ui.heap)."""

from __future__ import annotations

import gc

from textual.pilot import Pilot

from lvstui.ui.app import LvstuiApp
from lvstui.ui.fake import FakeClient
from lvstui.ui.heap import HeapKeeper


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


class _Recorder:
    """The collector's in-memory twin: what the keeper asked of it, in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def collect(self) -> None:
        self.calls.append("collect")

    def freeze(self) -> None:
        self.calls.append("freeze")

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")


def test_keeper_settles_once_and_releases_once() -> None:
    rec = _Recorder()
    keeper = HeapKeeper(rec)
    assert not keeper.settled
    keeper.after_draw()  # the first table: collect everything, freeze it
    assert rec.calls == ["collect", "freeze"] and keeper.settled
    for _ in range(3):  # later snapshots leave the collector alone
        keeper.after_draw()
    assert rec.calls == ["collect", "freeze"]
    keeper.release()
    keeper.release()  # once only
    assert rec.calls == ["collect", "freeze", "unfreeze"] and not keeper.settled


def test_keeper_never_settled_releases_nothing() -> None:
    rec = _Recorder()
    HeapKeeper(rec).release()
    assert rec.calls == []
