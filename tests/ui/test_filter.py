"""`/` filters real-server rows live; the header says "n of m" and "no match"; esc clears."""

from __future__ import annotations

from lvstui.ui.fake import FakeClient
from lvstui.ui.widgets import ServiceTable
from tests.ui.conftest import running


async def test_filter_keeps_matching_servers_counts_them_and_says_no_match() -> None:
    client = FakeClient(3, 4)
    real = client.services[1].reals[2].key
    async with running(client, poll_interval=60) as (app, pilot):  # one poll: live
        t = app.main.query_one(ServiceTable)
        status = app.main.query_one("#status")
        assert t.row_count == 3 + 12
        await pilot.press("slash", *str(real))
        assert t.row_count == 2  # its service's line and the one server, not the service's 4
        assert t.targets[t._order[1]].real == real
        assert "1 of 12 servers match" in str(status.render())
        await pilot.press("z", "z")
        assert t.row_count == 0
        assert "no match for" in str(status.render())
        await pilot.press("escape")
        assert t.row_count == 15
        assert "12 servers ·" in str(status.render())
