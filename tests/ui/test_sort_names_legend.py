"""Sort by column (`s`/`S`, marked in the header), names from config shown in full where the
terminal has room, and the legend of the table's marks under `?`."""

from __future__ import annotations

from textual.widgets import DataTable

from lvstui.model import DrainState, Health, LbKind, RealKey, RealServerView
from lvstui.ui import render
from lvstui.ui.bindings import resolve_keys
from lvstui.ui.fake import FakeClient
from lvstui.ui.help import LEGEND, HelpScreen
from lvstui.ui.sorting import SortOrder, next_column, real_order
from lvstui.ui.widgets import ServiceTable
from tests.helpers import REPO
from tests.ui.conftest import running


def _rs(addr: str, active: int, **kw: object) -> RealServerView:
    return RealServerView(RealKey(addr, 80), LbKind.NAT, 1, 1, active_conns=active, **kw)  # type: ignore[arg-type]


def test_real_servers_sort_under_their_service_with_the_sorry_server_last() -> None:
    reals = [
        _rs("10.0.0.9", 5),
        _rs("10.0.0.10", 50),
        _rs("10.0.0.2", 1, is_sorry=True),
        _rs("10.0.0.3", 7, health=Health.DOWN),
        _rs("10.0.0.4", 0, drain=DrainState.DRAINING),
    ]
    active = SortOrder("active")
    assert active.descending and active.mark("active") == "▼" and active.mark("cps") == ""
    assert real_order(reals, active) == [1, 3, 0, 4, 2]
    assert real_order(reals, active.flipped()) == [4, 0, 3, 1, 2]
    # addresses ascend first, and as addresses (10.0.0.9 before 10.0.0.10)
    assert real_order(reals, SortOrder("addr")) == [3, 4, 0, 1, 2]
    assert real_order(reals, SortOrder("status")) == [3, 4, 0, 1, 2]  # DOWN, draining first
    assert real_order(reals, SortOrder()) == [0, 1, 2, 3, 4]


def test_s_cycles_every_sortable_column_then_back_to_the_engines_order() -> None:
    seen, order = [], SortOrder()
    for _ in range(7):
        order = next_column(order)
        seen.append(order.column)
    assert seen == ["addr", "weight", "active", "inact", "status", "cps", None]


def _label(table: ServiceTable, key: str) -> str:
    return next(str(c.label) for k, c in table.columns.items() if k.value == key)


async def test_sort_keys_sort_the_table_and_mark_the_header() -> None:
    client = FakeClient(3, 4)
    async with running(client) as (app, pilot):
        table = app.main.query_one(ServiceTable)
        await pilot.press("s", "s", "s")  # addr, weight, active
        assert table.row_sort == SortOrder("active")
        assert _label(table, "active").endswith("▼")
        snap = app.snapshot
        assert snap is not None

        def shown_services() -> list[int]:
            return [
                int(str(table.get_cell(k, "active"))) for k in table._order if k.startswith("s|")
            ]

        def shown_reals(i: int) -> list[int]:
            svc = str(client.services[i].key)
            return [
                int(str(table.get_cell(k, "active")))
                for k in table._order
                if k.startswith(f"r|{svc}|")
            ]

        await pilot.pause()
        assert shown_services() == sorted(shown_services(), reverse=True)
        assert shown_reals(0) == sorted(shown_reals(0), reverse=True)
        await pilot.press("S")
        await pilot.pause()
        assert _label(table, "active").endswith("▲")
        assert shown_services() == sorted(shown_services())
        for _ in range(4):  # inact, status, cps, off
            await pilot.press("s")
        assert table.row_sort.column is None
        assert not any("▲" in str(c.label) or "▼" in str(c.label) for c in table.columns.values())


async def test_sort_keys_are_remappable() -> None:
    keys = resolve_keys({"sort": "o", "sort_reverse": "O"})
    async with running(FakeClient(1, 2), keys=keys) as (app, pilot):
        table = app.main.query_one(ServiceTable)
        await pilot.press("s")
        assert table.row_sort.column is None
        await pilot.press("o")
        assert table.row_sort.column == "addr"


async def test_names_from_config_are_shown_in_full_where_there_is_room() -> None:
    client = FakeClient(2, 2)
    client.services[0].name = "web-frontend-production"
    client.services[0].reals[0].name = "web-01.rack3"
    svc, real = client.services[0].key, client.services[0].reals[0].key
    async with running(client, size=(200, 30)) as (app, pilot):
        table = app.main.query_one(ServiceTable)
        await pilot.pause()
        label = str(table.get_cell(render.service_row_key(svc), "addr"))
        assert label == f"{svc} web-frontend-production"  # not cut to its first letters
        assert str(table.get_cell(render.real_row_key(svc, real), "addr")).endswith("web-01.rack3")
        # and the filter finds a server by its name
        await pilot.press("slash", *"rack3")
        await pilot.pause()
        assert table.shown_servers == 1
    async with running(client, size=(80, 24)) as (app, pilot):
        table = app.main.query_one(ServiceTable)
        await pilot.pause()
        label = str(table.get_cell(render.service_row_key(svc), "addr"))
        assert label.startswith(str(svc)) and label.endswith("…") and len(label) == 23


async def test_the_help_has_a_legend_of_the_marks() -> None:
    async with running(FakeClient(1, 1)) as (app, pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one("#help-keys", DataTable)
        rows = [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
        for mark, meaning in LEGEND:
            assert any(mark in r and meaning in r for r in rows), mark
        assert any("~>" in r and "sorry" in r for r in rows)


def test_the_manual_has_the_legend() -> None:
    manual = (REPO / "docs" / "console.md").read_text(encoding="utf-8")
    for mark, _ in LEGEND:
        assert f"`{mark}`" in manual, mark
