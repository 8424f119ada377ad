"""The table keeps priority in height: panels and the event log give way first."""

from __future__ import annotations

import pytest

from lvstui.ui.fake import FakeClient
from lvstui.ui.header import DirectorHeader
from lvstui.ui.logview import EventLog
from lvstui.ui.widgets import QuorumPanel, ServiceTable, VrrpTable
from tests.ui.conftest import running


@pytest.mark.parametrize(
    ("size", "min_rows", "panels", "log"),
    [
        ((120, 36), 10, True, True),
        ((80, 24), 6, True, True),
        ((100, 22), 5, True, True),
        ((60, 20), 10, False, True),
        ((40, 12), 7, False, False),
    ],
    ids=lambda v: f"{v[0]}x{v[1]}" if isinstance(v, tuple) else None,
)
async def test_the_table_keeps_its_rows(
    size: tuple[int, int], min_rows: int, panels: bool, log: bool
) -> None:
    client = FakeClient(5, 4)
    client.tick(2)
    async with running(client, size=size) as (app, pilot):
        await pilot.pause()
        t = app.main.query_one(ServiceTable)
        # rows of data below the header line, on screen
        assert t.region.height - 1 >= min_rows, (t.region, size)
        assert app.main.query_one(DirectorHeader).region.height == 1
        assert (app.main.query_one("#bottom").region.height > 0) == panels
        assert (app.main.query_one(EventLog).region.height > 0) == log


async def test_an_empty_vrrp_panel_collapses() -> None:
    client = FakeClient(3, 3)
    client.vrrp.clear()
    client.tick(2)
    async with running(client, size=(120, 36)) as (app, pilot):
        await pilot.pause()
        vrrp = app.main.query_one(VrrpTable)
        assert not vrrp.display
        # the quorum bars take the whole width
        assert app.main.query_one(QuorumPanel).region.width >= 110
