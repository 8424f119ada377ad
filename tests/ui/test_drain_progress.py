"""Drain progress on the real engine (memory dataplane): the first line carries the counts the
drain started from, and the drill-down's bar fills as the active connections end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lvstui.control.local import LocalClient
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.ui.dialogs import ConfirmDialog
from lvstui.ui.logview import EventLog
from lvstui.ui.render import real_row_key
from lvstui.ui.screens import DetailScreen
from lvstui.ui.widgets import ServiceTable
from tests.engine.builders import SK, R, config
from tests.helpers import async_wait_until
from tests.ui.conftest import running


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[tuple[Engine, MemoryDataplane]]:
    dp = MemoryDataplane()
    e = Engine(config(), dataplane=dp, state_dir=tmp_path, tick=0.1)
    await e.start()
    try:
        yield e, dp
    finally:
        await e.stop()


def _bar(app_screen: DetailScreen) -> str:
    return str(app_screen.query_one("#detail-drain").render())


async def test_drain_progress_starts_from_the_real_counts_and_the_bar_moves(
    engine: tuple[Engine, MemoryDataplane],
) -> None:
    e, dp = engine
    dp.set_counters(SK, R[0], active=8, inactive=2)
    client = LocalClient(e, who="console")
    async with running(client) as (app, pilot):
        t = app.main.query_one(ServiceTable)
        key = real_row_key(SK, R[0])
        assert t.select_key(key)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        log = app.main.query_one(EventLog)
        await async_wait_until(lambda: any(" inactive)" in x for x in log.lines_text), 10)
        drains = [x for x in log.lines_text if " inactive)" in x]
        assert "(8 active, 2 inactive)" in drains[0], drains
        assert not any("(0 active, 0 inactive)" in x for x in drains), drains

        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        await async_wait_until(lambda: "DRAINING [░░░░" in _bar(screen), 10)
        # half the sessions end; their entries linger as inactive: the bar is half full
        dp.set_counters(SK, R[0], active=4, inactive=6)
        await async_wait_until(lambda: "[" + "█" * 10 + "░" * 10 + "]" in _bar(screen), 10)
        dp.set_counters(SK, R[0], active=0, inactive=6)
        await async_wait_until(lambda: "inactive entries expiring" in _bar(screen), 10)
        assert "█" * 20 in _bar(screen)
        dp.set_counters(SK, R[0], active=0, inactive=0)
        await async_wait_until(lambda: "SAFE" in _bar(screen), 10)
