"""k9s navigation on the service table: j/k, g/G, Home/End, PgUp/PgDn."""

from __future__ import annotations

from lvstui.ui.bindings import bindings_for, resolve_keys
from lvstui.ui.fake import FakeClient
from lvstui.ui.help import HelpScreen
from lvstui.ui.logview import EventLog
from lvstui.ui.widgets import ServiceTable
from tests.ui.conftest import running


async def test_j_k_g_G_home_end_and_pages_move_the_table_cursor() -> None:
    client = FakeClient(20, 4)  # 100 rows: more than a page at 120x36
    async with running(client) as (app, pilot):
        t = app.main.query_one(ServiceTable)
        assert t.has_focus and t.cursor_row == 0
        await pilot.press("j", "j", "j")
        assert t.cursor_row == 3
        await pilot.press("k")
        assert t.cursor_row == 2
        await pilot.press("G")
        assert t.cursor_row == t.row_count - 1 == 99
        await pilot.press("g")
        assert t.cursor_row == 0
        await pilot.press("end")
        assert t.cursor_row == 99
        await pilot.press("home")
        assert t.cursor_row == 0
        await pilot.press("pagedown")
        page = t.cursor_row
        assert 5 < page < 99
        await pilot.press("pagedown")
        assert t.cursor_row > page
        await pilot.press("pageup", "pageup")
        assert t.cursor_row == 0
        # with the focus on the event log, j/k/g/G still move the table (Home/End and the
        # pages scroll the focused log, as in any scrolling view)
        app.main.query_one(EventLog).focus()
        await pilot.pause()
        await pilot.press("G")
        assert t.cursor_row == 99
        await pilot.press("k", "k")
        assert t.cursor_row == 97
        await pilot.press("g")
        assert t.cursor_row == 0


async def test_j_in_the_filter_is_text_not_navigation() -> None:
    async with running(FakeClient(3, 3)) as (app, pilot):
        t = app.main.query_one(ServiceTable)
        await pilot.press("slash", "j", "k", "G")
        assert app.main.query_one("#filter").value == "jkG"  # type: ignore[attr-defined]
        assert t.cursor_row == 0


async def test_navigation_keys_remap_and_show_in_help() -> None:
    keys = resolve_keys({"cursor_down": "n"})
    assert {b.key for b in bindings_for(keys, False) if b.action == "cursor_bottom"} == {
        "G",
        "end",
    }
    async with running(FakeClient(3, 3), keys={"cursor_down": "n"}) as (app, pilot):
        t = app.main.query_one(ServiceTable)
        await pilot.press("n", "n")
        assert t.cursor_row == 2
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        rows = [
            [str(c) for c in app.screen.query_one("#help-keys").get_row_at(i)]  # type: ignore[attr-defined]
            for i in range(app.screen.query_one("#help-keys").row_count)  # type: ignore[attr-defined]
        ]
        assert ["n", "cursor_down", "next row (also ↓)"] in rows
        assert ["G End", "cursor_bottom", "last row"] in rows
