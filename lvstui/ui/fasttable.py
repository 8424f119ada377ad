"""A DataTable whose caches follow what changed, not a table-wide counter.

Textual's DataTable keys its caches on one counter that every `update_cell` bumps. So after
each cell update the next frame rebuilds two lists as long as the table (row order and y
offsets: 11,000 rows at 1,000 services × 10 servers, tens of milliseconds, several times a
second, with keys waiting behind it) and renders every visible cell again through Rich, the
unchanged ones too. Here:

- row order and y offsets are rebuilt only when rows are added, removed, cleared or sorted: a
  cell update changes what a row shows, never where it is;
- a rendered cell is reused while the cell holds the same value object, at the same place,
  in the same style: a second in which 40 of 400 visible cells change renders 40, and the
  focus leaving the table (the filter box) renders the cursor's row only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self, TypeVar

from rich.segment import Segment
from rich.style import Style
from rich.text import TextType
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets._data_table import ColumnKey, Row, RowKey

__all__ = ["FixedGeometryTable"]

CellType = TypeVar("CellType")
_NO_STYLE = Style()
_SCREENFUL = 256  # rows: more than a terminal shows


class FixedGeometryTable(DataTable[CellType]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._geometry = 0  # bumped whenever rows come, go or move
        self._rows_cache: tuple[tuple[int, int], list[Row]] = ((-1, -1), [])
        self._offsets_cache: tuple[tuple[int, int], list[tuple[RowKey, int]]] = ((-1, -1), [])
        # (row, column, place, style, …, id(value)) → (value, its rendered lines)
        self._cells_cache: LRUCache[tuple[object, ...], tuple[object, list[list[Segment]]]]
        self._cells_cache = LRUCache(1024)
        # cells off the cursor, rendered without the table's base style (see _render_cell)
        self._plain_cache: LRUCache[tuple[object, ...], tuple[object, list[list[Segment]]]]
        self._plain_cache = LRUCache(1024)
        super().__init__(*args, **kwargs)
        # Textual keys these on its update counter, so an entry from before the latest cell
        # update is never read again: at its sizes (1,000–10,000 entries of segment lists)
        # they kept ~100,000 dead objects that every pass of the cycle collector walked
        # (lvstui.ui.heap). A screenful of rows and cells is all they can serve.
        self._cell_render_cache = LRUCache(_SCREENFUL * 4)
        self._row_render_cache = LRUCache(_SCREENFUL)
        self._row_renderable_cache = LRUCache(_SCREENFUL)
        self._line_cache = LRUCache(_SCREENFUL)

    def add_row(
        self,
        *cells: CellType,
        height: int | None = 1,
        key: str | None = None,
        label: TextType | None = None,
    ) -> RowKey:
        self._geometry += 1
        return super().add_row(*cells, height=height, key=key, label=label)

    def remove_row(self, row_key: RowKey | str) -> None:
        self._geometry += 1
        super().remove_row(row_key)

    def clear(self, columns: bool = False) -> Self:
        self._geometry += 1
        return super().clear(columns)

    def sort(
        self,
        *columns: ColumnKey | str,
        key: Callable[[Any], Any] | None = None,
        reverse: bool = False,
    ) -> Self:
        self._geometry += 1
        return super().sort(*columns, key=key, reverse=reverse)

    @property
    def ordered_rows(self) -> list[Row]:
        stamp = (self.row_count, self._geometry)
        if self._rows_cache[0] != stamp:
            rows, get = self.rows, self._row_locations.get_key
            keys = [get(i) for i in range(stamp[0])]
            self._rows_cache = (stamp, [rows[k] for k in keys if k is not None])
        return self._rows_cache[1]

    @property
    def _y_offsets(self) -> list[tuple[RowKey, int]]:
        stamp = (self.row_count, self._geometry)
        if self._offsets_cache[0] != stamp:
            offsets = [(row.key, y) for row in self.ordered_rows for y in range(row.height)]
            self._offsets_cache = (stamp, offsets)
        return self._offsets_cache[1]

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        if row_index < 0 or column_index < 0:  # the header and row labels: Textual's cache
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        if row_key is None or column_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        value = self._data[row_key][column_key]
        key = (
            row_key,
            column_key,
            row_index,  # the rendered cell carries its position (mouse metadata)
            self._geometry,
            width,
            cursor,
            hover,
            self._show_hover_cursor,
            self._pseudo_class_state,
            id(value),
            base_style,
        )
        hit = self._cells_cache.get(key)
        if hit is not None and hit[0] is value:  # the same object, not a new one at its id
            return hit[1]
        if cursor or hover:  # styled by the table's pseudo-classes and theme: render it
            lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        else:
            # the rest depend on the table's style through `base_style` only (which the
            # focus tints): kept rendered without it, and given it as Textual's rendering
            # does (a pre-style on every segment), far cheaper than rendering it again
            plain_key = key[:8] + key[9:10]  # not the pseudo-classes nor the base style
            plain = self._plain_cache.get(plain_key)
            if plain is None or plain[0] is not value:
                unstyled = super()._render_cell(
                    row_index, column_index, _NO_STYLE, width, cursor, hover
                )
                plain = (value, unstyled)
                self._plain_cache[plain_key] = plain
            lines = [list(Segment.apply_style(line, base_style)) for line in plain[1]]
        self._cells_cache[key] = (value, lines)
        return lines

    def notify_style_update(self) -> None:
        # a theme or CSS change (and focus) restyles every cell; the unstyled ones stay
        self._cells_cache.clear()
        super().notify_style_update()

    def _clear_caches(self) -> None:
        self._cells_cache.clear()
        self._plain_cache.clear()
        super()._clear_caches()
