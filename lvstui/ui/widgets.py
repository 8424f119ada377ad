"""The main screen's widgets. Each one is updated in place from a Snapshot, by key."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable, RichLog, Static

from lvstui.model import Event, RealKey, ServiceKey, ServiceView, Snapshot
from lvstui.ui import render
from lvstui.ui.charts import line_chart

__all__ = ["Chart", "EventLog", "QuorumPanel", "RowTarget", "ServiceTable", "VrrpTable"]

_STATUS_STYLE = {
    "up": "green",
    "ok": "green",
    "safe": "bold green",
    "DOWN": "bold red",
    "NO QUORUM": "bold red",
    "SORRY": "bold yellow",
    "sorry": "yellow",
    "expired": "yellow",
    "unknown": "dim",
}


@dataclass(frozen=True, slots=True)
class RowTarget:
    """What a table row points at: a service, or one of its real servers."""

    service: ServiceKey
    real: RealKey | None = None


def _styled(column: str, value: str) -> str | Text:
    if column == "status":
        style = _STATUS_STYLE.get(value)
        if style is None and value.startswith("drain"):
            style = "bold yellow"
        return Text(value, style=style) if style else value
    if column == "check" and value.startswith("FAIL"):
        return Text(value, style="red")
    if column == "addr" and not value.startswith(" "):
        return Text(value, style="bold")
    return value


def _matches(needle: str, sv: ServiceView) -> bool:
    # Keep a service when its own line or any of its servers matches.
    hay = f"{sv.key} {sv.name} {sv.scheduler}".lower()
    return needle in hay or any(needle in str(rs.key) for rs in sv.real_servers)


class ServiceTable(DataTable[str | Text]):
    """Services and their real servers, one row each, updated by row key.

    A new snapshot only touches the cells whose text changed (`update_cell`); rows are added
    or removed only when servers come and go, and the cursor stays on the same row key.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, cell_padding=0)
        self._cells: dict[str, tuple[str, ...]] = {}
        self._order: list[str] = []
        self.targets: dict[str, RowTarget] = {}
        self.filter_text = ""
        self.cell_updates = 0  # for tests and the bench: cells rewritten so far

        for col in render.COLUMNS:
            self.add_column(col.label, width=col.width + render.COLUMN_GAP, key=col.key)

    def _rows(self, snap: Snapshot) -> list[tuple[str, RowTarget, tuple[str, ...]]]:
        needle = self.filter_text.lower()
        rows = []
        now = snap.time
        for sv in snap.services:
            if needle and not _matches(needle, sv):
                continue
            rows.append(
                (render.service_row_key(sv.key), RowTarget(sv.key), render.service_cells(sv, now))
            )
            for rs in sv.real_servers:
                rows.append(
                    (
                        render.real_row_key(sv.key, rs.key),
                        RowTarget(sv.key, rs.key),
                        render.real_cells(rs, now),
                    )
                )
        return rows

    @property
    def cursor_key(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= len(self._order):
            return None
        return self._order[self.cursor_row]

    @property
    def cursor_target(self) -> RowTarget | None:
        key = self.cursor_key
        return self.targets.get(key) if key else None

    def show(self, snap: Snapshot) -> None:
        rows = self._rows(snap)
        wanted = [k for k, _, _ in rows]
        keep_key = self.cursor_key
        wanted_set = set(wanted)
        kept = [k for k in self._order if k in wanted_set]
        structural = wanted != self._order
        if structural and wanted[: len(kept)] == kept:
            # Servers went away and/or new ones belong at the end: touch only those rows.
            for k in self._order:
                if k not in wanted_set:
                    self.remove_row(k)
                    self._cells.pop(k, None)
            for k, _, cells in rows[len(kept) :]:
                self.add_row(
                    *(_styled(c.key, v) for c, v in zip(render.COLUMNS, cells, strict=True)), key=k
                )
                self._cells[k] = cells
        elif structural:
            # New rows in the middle (a server added to an early service, a filter): rebuild,
            # then put the cursor and the scroll position back where they were.
            scroll = self.scroll_offset
            self.clear()
            self._cells.clear()
            for k, _, cells in rows:
                self.add_row(
                    *(_styled(c.key, v) for c, v in zip(render.COLUMNS, cells, strict=True)), key=k
                )
                self._cells[k] = cells
            self.scroll_to(scroll.x, scroll.y, animate=False, immediate=True)
        self._order = wanted
        self.targets = {k: t for k, t, _ in rows}
        for k, _, cells in rows:
            old = self._cells.get(k)
            if old == cells:
                continue
            self._cells[k] = cells
            if old is None:
                continue
            for col, new_v, old_v in zip(render.COLUMNS, cells, old, strict=True):
                if new_v != old_v:
                    self.update_cell(k, col.key, _styled(col.key, new_v))
                    self.cell_updates += 1
        if structural and keep_key is not None and keep_key in wanted_set:
            index = wanted.index(keep_key)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False, scroll=False)
        elif structural and self._order:
            self.cursor_coordinate = Coordinate(min(self.cursor_row, len(self._order) - 1), 0)

    def select_key(self, key: str) -> bool:
        if key not in self.targets:
            return False
        self.move_cursor(row=self._order.index(key), animate=False)
        return True


class VrrpTable(DataTable[str | Text]):
    _COLS = (
        ("name", "Instance"),
        ("state", "State"),
        ("prio", "Prio"),
        ("vips", "VIPs"),
        ("group", "Sync group"),
        ("since", "Since"),
    )

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none", show_cursor=False)
        self._cells: dict[str, tuple[str, ...]] = {}

        for key, label in self._COLS:
            self.add_column(label, key=key)

    def show(self, snap: Snapshot) -> None:
        wanted = {v.name: render.vrrp_cells(v, snap.time) for v in snap.vrrp}
        for name in [n for n in self._cells if n not in wanted]:
            self.remove_row(name)
            del self._cells[name]
        for name, cells in wanted.items():
            styled = [
                Text(c, style="bold green" if c == "MASTER" else "bold red" if c == "FAULT" else "")
                if i == 1
                else c
                for i, c in enumerate(cells)
            ]
            old = self._cells.get(name)
            if old is None:
                self.add_row(*styled, key=name)
            elif old != cells:
                for (key, _), new_v, old_v in zip(self._COLS, styled, old, strict=True):
                    if str(new_v) != old_v:
                        self.update_cell(name, key, new_v, update_width=True)
            self._cells[name] = cells


class QuorumPanel(Static):
    """One quorum bar per service (only the first few fit; the table has the rest)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._text = ""

    def show(self, services: Sequence[ServiceView], limit: int = 50) -> None:
        lines = [render.quorum_line(sv) for sv in services[:limit]]
        if len(services) > limit:
            lines.append(f"… {len(services) - limit} more")
        text = "\n".join(lines) or "no virtual services"
        if text != self._text:
            self._text = text
            self.update(Text(text, no_wrap=True, overflow="crop"))


class EventLog(RichLog):
    _STYLES: ClassVar[dict[str, str]] = {"error": "red", "warning": "yellow", "info": ""}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=1000, wrap=True, markup=False, auto_scroll=True)
        self.lines_text: list[str] = []

    def add(self, events: Iterable[Event]) -> None:
        for ev in events:
            level, text = render.event_line(ev)
            self.lines_text.append(text)
            del self.lines_text[:-1000]
            # expand: wrap at the log's full width, not at RichLog's 78-column minimum
            self.write(Text(text, style=self._STYLES.get(level, "")), expand=True)


class Chart(Static):
    """A plotext chart that redraws at its own size when its data changes."""

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.title = title
        self._values: tuple[float, ...] = ()
        self._drawn: tuple[tuple[float, ...], int, int] | None = None

    def set_values(self, values: Sequence[float]) -> None:
        self._values = tuple(values)
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        w, h = self.size.width, self.size.height
        if w == 0 or h == 0:
            return
        key = (self._values, w, h)
        if key == self._drawn:
            return
        self._drawn = key
        self.update(Text(line_chart(self._values, w, h, self.title), no_wrap=True, overflow="crop"))
