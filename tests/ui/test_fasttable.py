"""FixedGeometryTable: row order and y offsets follow rows coming and going, not cell updates."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable

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
        # a theme change restyles every cell
        rendered.clear()
        app.theme = "textual-light"
        await pilot.pause()
        assert len(rendered) >= 8
