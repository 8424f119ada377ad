"""FixedGeometryTable: row order and y offsets follow rows coming and going, not cell updates."""

from __future__ import annotations

from typing import Any

import pytest
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Input

from lvstui.ui.fasttable import FixedGeometryTable


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield FixedGeometryTable[str](id="t")


def _textual_offsets(t: DataTable[str]) -> list[tuple[str, int]]:
    """What DataTable itself computes (its own property, bypassing the cache)."""
    return [(str(k.value), y) for k, y in DataTable._y_offsets.fget(t)]  # type: ignore[attr-defined]


def _offsets(t: FixedGeometryTable[str]) -> list[tuple[str, int]]:
    return [(str(k.value), y) for k, y in t._y_offsets]


async def test_geometry_follows_rows_and_survives_cell_updates() -> None:
    app = _TableApp()
    async with app.run_test(size=(40, 10)) as pilot:
        t = app.query_one(FixedGeometryTable)
        t.add_column("a", key="a")
        for i in range(5):
            t.add_row(str(i), key=f"r{i}", height=2 if i == 3 else 1)
        assert _offsets(t) == _textual_offsets(t)
        assert [str(r.key.value) for r in t.ordered_rows] == [f"r{i}" for i in range(5)]
        before = t._y_offsets
        t.update_cell("r1", "a", "changed")
        t.update_cell("r2", "a", "changed too")
        # a cell update moves no row: the same list, not rebuilt
        assert t._y_offsets is before
        t.remove_row("r1")
        assert _offsets(t) == _textual_offsets(t)
        assert ("r1", 0) not in _offsets(t)
        t.add_row("5", key="r5")
        assert _offsets(t)[-1] == ("r5", 0)
        t.sort("a", reverse=True)
        assert _offsets(t) == _textual_offsets(t)
        assert _offsets(t)[0] == ("r2", 0)  # "changed too" sorts last, reversed first
        t.clear()
        assert _offsets(t) == [] == _textual_offsets(t)
        await pilot.pause()


async def test_only_changed_cells_are_rendered_again(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _TableApp()
    async with app.run_test(size=(40, 10)) as pilot:
        t = app.query_one(FixedGeometryTable)
        t.add_column("a", key="a", width=8)
        t.add_column("b", key="b", width=8)
        for i in range(4):
            t.add_row(f"a{i}", f"b{i}", key=f"r{i}")
        await pilot.pause()
        rendered: list[tuple[int, int]] = []
        original = DataTable._render_cell

        def counting(self: DataTable[str], row: int, column: int, *args: Any) -> Any:
            if row >= 0:
                rendered.append((row, column))
            return original(self, row, column, *args)

        monkeypatch.setattr(DataTable, "_render_cell", counting)
        t.update_cell("r2", "b", "changed")
        await pilot.pause()
        # every line is drawn again (Textual's line cache follows its counter), but only
        # the changed cell goes through Rich again
        assert rendered == [(2, 1)]
        assert "changed" in t.render_line(3).text  # row 2, under the header line
        assert "a2" in t.render_line(3).text
        # the focus leaving (and a theme change) restyles the cells: only the cursor's go
        # through Rich again (test_restyled_cells_draw_as_textual_does checks the result)
        rendered.clear()
        t.blur()
        await pilot.pause()
        assert rendered == [(0, 0)]  # the cursor's cell
        rendered.clear()
        app.theme = "textual-light"
        await pilot.pause()
        assert rendered == [(0, 0)]


class _PairApp(App[None]):
    """The same rows in a FixedGeometryTable and in Textual's own DataTable."""

    def compose(self) -> ComposeResult:
        yield FixedGeometryTable[str | Text](id="fast", cursor_type="row")
        yield DataTable[str | Text](id="plain", cursor_type="row")
        yield Input(id="box")


def _lines(t: DataTable[str | Text]) -> list[list[tuple[str, Style | None]]]:
    return [[(seg.text, seg.style) for seg in t.render_line(y)] for y in range(6)]


async def test_restyled_cells_draw_as_textual_does() -> None:
    """The cells FixedGeometryTable restyles without rendering them (focus, theme) come out
    exactly as Textual's DataTable draws the same rows, segment by segment."""
    app = _PairApp()
    async with app.run_test(size=(60, 20)) as pilot:
        fast, plain = app.query_one("#fast", DataTable), app.query_one("#plain", DataTable)
        for t in (fast, plain):
            t.add_column("a", key="a", width=8)
            t.add_column("b", key="b", width=10)
            for i in range(5):
                t.add_row(f"a{i}", Text(f"b{i}", style="bold red"), key=f"r{i}")
            t.styles.height = 7

        async def compare(*, focused: bool) -> None:
            # each table drawn in the same state: focused, or with the focus in the box
            for t in (fast, plain):
                (t if focused else app.query_one("#box", Input)).focus()
                await pilot.pause()
                drawn[t.id or ""] = _lines(t)
            assert drawn["fast"] == drawn["plain"]

        drawn: dict[str, list[list[tuple[str, Style | None]]]] = {}
        await compare(focused=False)
        await compare(focused=True)
        await compare(focused=False)  # restyled from the cells rendered before
        assert any("b3" in text for line in drawn["fast"] for text, _ in line)
        app.theme = "textual-light"
        await compare(focused=True)
        await compare(focused=False)
