"""A DataTable whose row geometry is cached by structure, not by content.

Textual's DataTable keys its row-order and y-offset caches on one counter that every
`update_cell` bumps, so after each cell update the next frame rebuilds two lists as long as
the table (11,000 rows at 1,000 services × 10 servers: tens of milliseconds, several times a
second, with keys waiting behind it). Here those two lists are rebuilt only when rows are
added, removed, cleared or sorted: a cell update changes what a row shows, never where it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self, TypeVar

from rich.text import TextType
from textual.widgets import DataTable
from textual.widgets._data_table import ColumnKey, Row, RowKey

__all__ = ["FixedGeometryTable"]

CellType = TypeVar("CellType")


class FixedGeometryTable(DataTable[CellType]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._geometry = 0  # bumped whenever rows come, go or move
        self._rows_cache: tuple[tuple[int, int], list[Row]] = ((-1, -1), [])
        self._offsets_cache: tuple[tuple[int, int], list[tuple[RowKey, int]]] = ((-1, -1), [])
        super().__init__(*args, **kwargs)

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
