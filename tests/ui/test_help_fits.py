"""The help fits the terminal's width: no sideways scrolling at 120×36, 80×24 or 60×20, every
key and mark still there (wrapped onto more lines where a column is narrow)."""

from __future__ import annotations

from textual.widgets import DataTable

from lvstui.ui.bindings import ACTIONS
from lvstui.ui.fake import FakeClient
from lvstui.ui.help import LEGEND, HelpScreen, help_widths
from tests.ui.conftest import running


async def test_the_help_fits_the_width() -> None:
    tall = []  # rows of more than one line, at each size
    for size in [(120, 36), (80, 24), (60, 20)]:
        async with running(FakeClient(2, 2), size=size) as (app, pilot):
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            table = app.screen.query_one("#help-keys", DataTable)
            assert app.screen.query_one("#help").region.right <= size[0], size
            assert table.virtual_size.width <= table.scrollable_content_region.width, size
            assert table.max_scroll_x == 0 and not table.show_horizontal_scrollbar, size
            rows = [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
            for a in ACTIONS:
                assert any(a.description in r for r in rows), (size, a.action)
            for mark, meaning in LEGEND:
                assert any(mark in r and meaning in r for r in rows), (size, mark)
            tall.append(sum(table.rows[k].height > 1 for k in table.rows))
            await pilot.press("escape")
            assert app.screen is app.main
    assert tall[0] < tall[1] < tall[2]  # narrower, more wrapped


def test_help_widths_share_the_width() -> None:
    for width in (40, 56, 72, 96, 140):
        key, action, what = help_widths(width)
        assert key + action + what + 3 * 2 <= max(width, 8 + action + 12 + 6)
        assert key >= 8 and what >= 12
