"""What a key no longer rebuilds (docs/performance.md, "Console"): the footer when its keys
are the same, the help once built."""

from __future__ import annotations

from textual.widgets import DataTable
from textual.widgets._footer import FooterKey

from lvstui.ui.fake import FakeClient
from lvstui.ui.footer import SteadyFooter
from lvstui.ui.help import HelpScreen
from tests.ui.conftest import running


async def test_the_footer_is_rebuilt_only_when_its_keys_change() -> None:
    async with running(FakeClient(3, 3)) as (app, pilot):
        footer = app.main.query_one(SteadyFooter)
        before = list(footer.query(FooterKey))
        assert before and "Filter" in {k.description for k in before}
        for key in ("question_mark", "colon"):  # a screen over it and back: the same keys
            await pilot.press(key)
            await pilot.pause()
            await pilot.press("escape")
            await pilot.pause()
            await pilot.pause()
            assert app.screen is app.main
            assert list(footer.query(FooterKey)) == before  # the same widgets, not new ones
        await pilot.press("slash")  # typing into the filter: only its own key is shown
        await pilot.pause()
        await pilot.pause()
        assert [k.description for k in footer.query(FooterKey)] == ["Filter"]
        await pilot.press("escape")
        await pilot.resize_terminal(80, 24)  # the narrow footer leaves keys out: rebuilt
        await pilot.pause()
        await pilot.pause()
        after = list(footer.query(FooterKey))
        assert after and after[0] not in before
        assert len(after) < len(before)


async def test_the_help_is_built_once_and_opens_at_its_top() -> None:
    async with running(FakeClient(3, 3), size=(120, 24)) as (app, pilot):
        await pilot.press("question_mark")
        first = app.screen
        assert isinstance(first, HelpScreen)
        table = first.query_one("#help-keys", DataTable)
        assert table.max_scroll_y > 0  # taller than the terminal: it scrolls
        table.scroll_end(animate=False, immediate=True)  # read to its end
        await pilot.pause()
        assert table.scroll_y > 0
        await pilot.press("escape")
        assert app.screen is app.main
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen is first  # the same screen, shown again
        assert table.scroll_y == 0
