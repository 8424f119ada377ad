"""The main screen's widgets. Each one is updated in place from a Snapshot, by key."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.theme import Theme
from textual.widgets import DataTable, Static
from textual.widgets._data_table import RowKey

from lvstui.model import RealKey, RealServerView, ServiceKey, ServiceView, Snapshot
from lvstui.ui import render
from lvstui.ui.charts import MIN_WIDTH, line_chart
from lvstui.ui.fasttable import FixedGeometryTable
from lvstui.ui.sorting import SortOrder, next_column, real_order, service_order
from lvstui.ui.vrrplayout import VrrpColumn, vrrp_columns, vrrp_row

__all__ = [
    "Chart",
    "ChartRow",
    "Palette",
    "QuorumPanel",
    "RowTarget",
    "ServiceTable",
    "VrrpTable",
    "find_views",
    "palette_for",
]

Palette = dict[str, str]  # what → Rich style


def palette_for(theme: Theme | None) -> Palette:
    """Cell styles from the theme's own success/warning/error colours. The terminal's named
    ANSI colours ("yellow") were unreadable on the light theme's white background."""
    ok = (theme.success if theme else None) or "green"
    warn = (theme.warning if theme else None) or "yellow"
    err = (theme.error if theme else None) or "red"
    return {
        "up": ok,
        "ok": ok,
        "safe": f"bold {ok}",
        "MASTER": f"bold {ok}",
        "DOWN": f"bold {err}",
        "NO QUORUM": f"bold {err}",
        "FAULT": f"bold {err}",
        "FAIL": err,
        "error": err,
        "SORRY": f"bold {warn}",
        "sorry": warn,
        "expired": warn,
        "drain": f"bold {warn}",
        "warning": warn,
        "unknown": "dim",
    }


_DEFAULT_PALETTE = palette_for(None)


@dataclass(frozen=True, slots=True)
class RowTarget:
    """What a table row points at: a service, or one of its real servers."""

    service: ServiceKey
    real: RealKey | None = None


def find_views(
    snap: Snapshot | None, target: RowTarget
) -> tuple[ServiceView | None, RealServerView | None]:
    """The views a row points at (None where the snapshot no longer has them)."""
    if snap is None:
        return None, None
    for sv in snap.services:
        if sv.key == target.service:
            if target.real is None:
                return sv, None
            for rs in sv.real_servers:
                if rs.key == target.real:
                    return sv, rs
            return sv, None
    return None, None


def _styled(column: str, value: str, palette: Palette) -> str | Text:
    if column == "status":
        style = palette.get(value)
        if style is None and value.startswith("drain"):
            style = palette["drain"]
        return Text(value, style=style) if style else value
    if column == "check" and value.startswith("FAIL"):
        return Text(value, style=palette["FAIL"])
    if column == "addr" and not value.startswith(" "):
        return Text(value, style="bold")
    return value


def _matches(needle: str, sv: ServiceView) -> bool:
    return needle in f"{sv.key} {sv.name} {sv.scheduler}".lower()


def _real_matches(needle: str, rs: RealServerView) -> bool:
    return needle in f"{rs.key} {rs.name} {render.real_status(rs)}".lower()


_BLANK = tuple("" for _ in render.COLUMNS)  # a row before its first render (all columns)
_KEY_OF = attrgetter("key")
# a row: its key, its service and real server, and where its view sits in the snapshot:
# (service index, real-server index, -1 on the service's own row)
_Row = tuple[str, ServiceKey, RealKey | None, int, int]
# what the rows are made of: each service's key and its real servers' keys, in order
_Shape = list[tuple[ServiceKey, tuple[RealKey, ...]]]


class ServiceTable(FixedGeometryTable[str | Text]):
    """Services and their real servers, one row each, updated by row key.

    A new snapshot only rewrites the cells whose text changed (`update_cell`), and only for
    the rows on screen: the others keep the latest view and are drawn when they scroll into
    sight. Rows are added or removed only when servers come and go, and the cursor stays on
    the same row key. So 10,000 servers cost what the 30 visible ones cost.

    Rows find their views by position in the latest snapshot; when the snapshot has the same
    services and servers in the same order as the one before (most seconds), the rows are not
    computed again at all, and a new second costs the rows on screen only.
    """

    MARGIN = 5  # rows rendered beyond each edge of the viewport
    # Home/End go to the first/last row (k9s), not to the first/last column as in DataTable.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, cell_padding=0)
        self._cells: dict[str, tuple[str, ...]] = {}  # what each row shows now
        self._snap: Snapshot | None = None  # the latest (a new sort order sorts it again)
        self._services: tuple[ServiceView, ...] = ()  # the latest snapshot's
        self._index: list[tuple[int, int]] = []  # each row's view: see _Row
        self._shape: _Shape = []  # of the rows now, when unfiltered (else empty: recompute)
        self._peaks: dict[int, int] = {}  # service index → its sparkline scale, this second
        self._order: list[str] = []
        self._svc_keys: dict[ServiceKey, str] = {}  # row-key caches: formatting 10,000 keys
        self._real_keys: dict[tuple[str, str, int], str] = {}  # a second is not free
        self._now = 0.0
        self._restructuring = False
        self.targets: dict[str, RowTarget] = {}
        self.filter_text = ""
        self.row_sort = SortOrder()  # `s`/`S` (sorting.py); the engine's order when off
        self.total_servers = self.shown_servers = 0  # real-server rows: all, and shown
        self.cell_updates = 0  # for tests and the bench: cells rewritten so far
        self.palette = _DEFAULT_PALETTE
        self.column_layout: tuple[render.Column, ...] = ()
        # column index in render.COLUMNS of each shown column (rows are rendered in full)
        self._shown: tuple[tuple[int, render.Column], ...] = ()
        self._set_layout(render.COLUMNS)

    def _set_layout(self, layout: tuple[render.Column, ...]) -> None:
        """Show `layout`'s columns; the rows come back blank and refresh_visible fills them."""
        index = {c.key: i for i, c in enumerate(render.COLUMNS)}
        self.column_layout = layout
        self._shown = tuple((index[c.key], c) for c in layout)
        cursor = self.cursor_row
        scroll = self.scroll_offset
        self.clear(columns=True)
        for col in layout:
            label = col.label + self.row_sort.mark(col.key)
            self.add_column(label, width=col.width + render.COLUMN_GAP, key=col.key)
        self._cells.clear()
        for k in self._order:
            self._add(k)
        if self._order:
            self.move_cursor(row=min(cursor, len(self._order) - 1), animate=False, scroll=False)
            self.scroll_to(scroll.x, scroll.y, animate=False, immediate=True)

    def _same_shape(self, services: Sequence[ServiceView]) -> bool:
        """The snapshot has the rows on screen, in the same order (and no filter is on)."""
        shape = self._shape
        if self.filter_text or self.row_sort.column or not shape or len(services) != len(shape):
            return False
        for sv, (key, reals) in zip(services, shape, strict=True):
            k = sv.key
            # identity first: keys come back as the same objects from an embedded engine
            if (k is not key and k != key) or tuple(map(_KEY_OF, sv.real_servers)) != reals:
                return False
        return True

    def _rows(self, snap: Snapshot) -> list[_Row]:
        needle = self.filter_text.lower()
        rows: list[_Row] = []
        svc_keys, real_keys = self._svc_keys, self._real_keys
        self.total_servers = self.shown_servers = 0
        for si in service_order(snap.services, self.row_sort):
            sv = snap.services[si]
            self.total_servers += len(sv.real_servers)
            # A matching service keeps all its servers; otherwise only the servers that match
            # (address or status), under their service's line; neither: the service goes.
            reals = tuple(
                (ri, sv.real_servers[ri]) for ri in real_order(sv.real_servers, self.row_sort)
            )
            if needle and not _matches(needle, sv):
                reals = tuple((ri, rs) for ri, rs in reals if _real_matches(needle, rs))
                if not reals:
                    continue
            self.shown_servers += len(reals)
            sk = sv.key
            sks = svc_keys.get(sk)
            if sks is None:
                sks = svc_keys[sk] = render.service_row_key(sk)
            rows.append((sks, sk, None, si, -1))
            for ri, rs in reals:
                rk = rs.key
                # keyed by builtin types: hashing them is C, hashing the dataclasses is not
                k = real_keys.get((sks, rk.addr, rk.port))
                if k is None:
                    k = real_keys[(sks, rk.addr, rk.port)] = render.real_row_key(sk, rk)
                rows.append((k, sk, rk, si, ri))
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

    def _add(self, key: str) -> None:
        self.add_row(*("" for _ in self.column_layout), key=key)
        self._cells[key] = _BLANK

    def show(self, snap: Snapshot) -> None:
        self._snap = snap
        self._services = snap.services
        self._now = snap.time
        self._peaks = {}
        if self._same_shape(snap.services):
            self.refresh_visible()  # the same rows: only the ones on screen change
            return
        rows = self._rows(snap)
        self._shape = (
            []
            if self.filter_text or self.row_sort.column
            else [(sv.key, tuple(map(_KEY_OF, sv.real_servers))) for sv in snap.services]
        )
        wanted = [r[0] for r in rows]
        keep_key = self.cursor_key
        structural = wanted != self._order
        if structural:
            # Textual moves the scroll position while rows change; draw nothing until the
            # new row order is in place (refresh_visible below catches up).
            self._restructuring = True
            try:
                self._restructure(wanted)
            finally:
                self._restructuring = False
            self.targets = {k: RowTarget(sk, rk) for k, sk, rk, _, _ in rows}
        self._index = [(r[3], r[4]) for r in rows]
        if structural and self._order:
            if keep_key is not None and keep_key in self.targets:
                index = self._order.index(keep_key)
                if index != self.cursor_row:
                    self.move_cursor(row=index, animate=False, scroll=False)
            else:
                self.cursor_coordinate = Coordinate(min(self.cursor_row, len(self._order) - 1), 0)
        self.refresh_visible()

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        # Every column has a fixed width and every row is one line, so there is nothing to
        # measure: Textual's version renders and measures each new cell (seconds for 10,000
        # rows). Only the virtual size (what the scrollbars use) has to follow the row count.
        del new_rows
        width = sum(c.get_render_width(self) for c in self.columns.values())
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(
            width + self._row_label_column_width, self._total_row_height + header
        )

    def _restructure(self, wanted: list[str]) -> None:
        wanted_set = set(wanted)
        kept = [k for k in self._order if k in wanted_set]
        if wanted[: len(kept)] == kept:
            # Servers went away and/or new ones belong at the end: touch only those rows.
            for k in self._order:
                if k not in wanted_set:
                    self.remove_row(k)
                    self._cells.pop(k, None)
            for k in wanted[len(kept) :]:
                self._add(k)
            self._order = wanted
            return
        # New rows in the middle (a server added to an early service, a filter): rebuild,
        # then put the scroll position back where it was.
        scroll = self.scroll_offset
        self._cells.clear()
        self.clear()
        for k in wanted:
            self._add(k)
        self._order = wanted
        self.scroll_to(scroll.x, scroll.y, animate=False, immediate=True)

    def visible_range(self) -> range:
        top = int(self.scroll_y)
        height = max(self.size.height, 1)
        return range(max(0, top - self.MARGIN), min(len(self._order), top + height + self.MARGIN))

    def refresh_visible(self) -> None:
        """Bring the rows on screen up to date with their latest views."""
        if self._restructuring:
            return
        now, services, index, peaks = self._now, self._services, self._index, self._peaks
        for i in self.visible_range():
            k = self._order[i]
            si, ri = index[i]
            sv = services[si]
            if ri < 0:
                cells = render.service_cells(sv, now)
            else:
                peak = peaks.get(si)
                if peak is None:
                    peak = peaks[si] = render.spark_peak(sv)
                cells = render.real_cells(sv.real_servers[ri], now, peak)
            old = self._cells.get(k)
            if old == cells or old is None:
                continue
            self._cells[k] = cells
            for i, col in self._shown:
                new_v = cells[i]
                if new_v != old[i]:
                    value = render.crop(new_v, col.width)
                    self.update_cell(k, col.key, _styled(col.key, value, self.palette))
                    self.cell_updates += 1

    def set_palette(self, palette: Palette) -> None:
        """Restyle: every row is drawn again (the ones on screen now, the others on scroll)."""
        if palette == self.palette:
            return
        self.palette = palette
        self._cells = dict.fromkeys(self._cells, _BLANK)
        self.refresh_visible()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.refresh_visible()

    def on_resize(self) -> None:
        layout = render.widened(render.layout_for(self.size.width), self.size.width)
        if layout != self.column_layout:
            self._set_layout(layout)
        self.refresh_visible()

    def cycle_sort(self, reverse: bool = False) -> None:
        """`s`: sort by the next column; `S` (reverse): turn the order round. The header
        marks the column; the rows are sorted again from the latest snapshot."""
        order = self.row_sort
        self.row_sort = order.flipped() if reverse else next_column(order)
        self._shape = []
        self._set_layout(self.column_layout)
        if self._snap is not None:
            self.show(self._snap)

    def select_key(self, key: str) -> bool:
        if key not in self.targets:
            return False
        self.move_cursor(row=self._order.index(key), animate=False)
        return True


class VrrpTable(DataTable[str | Text]):
    # The columns are laid out for the panel's width and what the instances hold
    # (`vrrplayout`), and set again only when that layout changes: widths measured by the
    # DataTable depended on when the panel was first sized (MASTER cut to MASTE in one run,
    # not in the next) and moved as values changed. Longer values are cropped.

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none", show_cursor=False)
        self._cells: dict[str, tuple[str, ...]] = {}
        self._columns: tuple[VrrpColumn, ...] = ()
        self._snap: Snapshot | None = None
        self.palette = _DEFAULT_PALETTE

    def set_palette(self, palette: Palette) -> None:
        if palette != self.palette:
            self.palette = palette
            self._cells = dict.fromkeys(self._cells, ())  # restyle every row on the next show

    def on_resize(self, event: events.Resize) -> None:
        if self._snap is not None:
            self.show(self._snap)

    def _lay_out(self, snap: Snapshot) -> None:
        width = self.size.width
        scrolls = len(snap.vrrp) + 1 > self.size.height  # the rows and heading: a scrollbar
        # Tab stops here only when there is something to scroll, else it goes on to the log
        self.can_focus = scrolls
        if scrolls:
            width -= self.styles.scrollbar_size_vertical
        columns = vrrp_columns(width, snap.vrrp)
        if columns == self._columns:
            return
        self._columns = columns
        self.clear(columns=True)
        self._cells = {}
        for c in columns:
            self.add_column(c.label, key=c.key, width=c.width)

    def show(self, snap: Snapshot) -> None:
        # no instance: the panel gives its width to the quorum bars (the header says "no VRRP")
        self.display = bool(snap.vrrp)
        self.border_title = "VRRP"
        self._snap = snap
        self._lay_out(snap)
        wanted = {v.name: vrrp_row(v, snap.time, self._columns) for v in snap.vrrp}
        for name in [n for n in self._cells if n not in wanted]:
            self.remove_row(name)
            del self._cells[name]
        for name, cells in wanted.items():
            styled = [
                Text(v, style=self.palette.get(v, "")) if c.key == "state" else v
                for c, v in zip(self._columns, cells, strict=True)
            ]
            old = self._cells.get(name)
            if old is None:
                self.add_row(*styled, key=name)
            elif old != cells:
                stale = not old  # restyled: rewrite every cell
                for i, (c, new_v) in enumerate(zip(self._columns, styled, strict=True)):
                    if stale or str(new_v) != old[i]:
                        self.update_cell(name, c.key, new_v)
            self._cells[name] = cells


class QuorumPanel(Static):
    """One quorum bar per service, sized to the panel: as many services as fit its height
    (then "… N more": the table has them all), bars as wide as its width allows."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._text = ""
        self._services: Sequence[ServiceView] = ()

    def show(self, services: Sequence[ServiceView], limit: int = 50) -> None:
        self._services = services
        width, height = self.content_size.width, self.content_size.height
        if height > 0:
            limit = min(limit, height)
        if len(services) > limit:
            limit = max(limit - 1, 0)  # keep a line to say how many are left out
        shown = services[:limit]
        pad = max((len(sv.key.hostport) for sv in shown), default=0)
        # "<host> [" + bar + "] 15/7±1 up": about 13 columns besides the host and the bar
        bar = max(4, min(20, width - pad - 14)) if width > 0 else 20
        lines = [render.quorum_line(sv, width=bar, pad=pad) for sv in shown]
        if len(services) > limit:
            lines.append(f"… {len(services) - limit} more")
        text = "\n".join(lines) or "no virtual services"
        if text != self._text:
            self._text = text
            self.update(Text(text, no_wrap=True, overflow="ellipsis"))

    def on_resize(self) -> None:
        if self._services:
            self.show(self._services)


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


class ChartRow(Horizontal):
    """Charts side by side, as many as are readable at its width (`charts.MIN_WIDTH` each),
    the first ones kept: at 80 columns three squeezed charts were three notes saying they
    were hidden, run into each other; two charts fit and are drawn."""

    def on_resize(self, event: events.Resize) -> None:
        room = max(1, event.size.width // MIN_WIDTH)
        for i, chart in enumerate(self.query_children(Chart)):
            chart.display = i < room
