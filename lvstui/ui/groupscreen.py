"""The director group on screen: a strip on the main screen, and the group screen (`p`).

`GroupStrip` is one line naming every director and its link, plus a red line per split
brain; it stays hidden on a director that is in no group. `GroupScreen` has a row per
director (link and since when, configuration and table same or different, the role of each
VRRP instance, pending deliveries) and, under it, the split brains, the sections that
differ and the changes pending per peer. Both only read `Snapshot.group` (see groupview.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static

from lvstui.model import Snapshot
from lvstui.ui.bindings import display_key
from lvstui.ui.footer import SteadyFooter
from lvstui.ui.groupview import DirectorRow, directors, group_strip
from lvstui.ui.widgets import palette_for

__all__ = ["GroupScreen", "GroupStrip"]


def _error_style(screen_or_widget: Screen[None] | Static) -> str:
    """The theme's error colour, bold (like DOWN in the table)."""
    return palette_for(screen_or_widget.app.current_theme)["DOWN"]


def _split_brain(snap: Snapshot, style: str) -> Text:
    g = snap.group
    lines = [f"⚠ {sb.upper()}" for sb in g.split_brain] if g is not None else []
    return Text("\n".join(lines), style=style, no_wrap=True, overflow="ellipsis")


class GroupStrip(Static):
    """Main screen: `Directors: lb1 (here) · lb2 up 5m · …`, then any split brain in red."""

    shown = Text()  # what it shows now (tests read its styles)

    def show(self, snap: Snapshot) -> None:
        line = group_strip(snap)
        self.display = bool(line)
        if not line:
            return
        text = Text(line, no_wrap=True, overflow="ellipsis")
        if any(r.problem for r in directors(snap)):
            text.stylize("bold")
        sb = _split_brain(snap, _error_style(self))
        if sb.plain:
            text.append("\n")
            text.append_text(sb)
        self.shown = text
        self.update(text)


_COLUMNS = ("Director", "Address", "Link", "Since", "Config", "Table", "VRRP", "Pending")


def _cells(r: DirectorRow, error: str) -> list[str | Text]:
    def flag(value: str, bad: bool) -> str | Text:
        return Text(value, style=error) if bad else value

    return [
        f"{r.name} (here)" if r.here else r.name,
        r.address or "-",
        flag(r.link, r.link == "UNREACHABLE"),
        r.since,
        flag(r.config, r.config == "DIFFERENT"),
        flag(r.table, r.table == "different"),
        ", ".join(r.roles) or "-",
        flag(str(r.pending), r.pending > 0) if not r.here else "-",
    ]


def _details(snap: Snapshot, rows: list[DirectorRow], error: str) -> Text:
    out = _split_brain(snap, error)
    for r in rows:
        if r.differing:
            out.append(f"\n{r.name}: configuration differs in " + ", ".join(r.differing))
        if r.pending:
            out.append(
                f"\n{r.name}: {r.pending} change(s) not delivered yet (sent when it is back):",
                style="bold",
            )
            for c in r.pending_changes:
                out.append(f"\n  {c}")
            if r.pending > len(r.pending_changes):
                out.append(f"\n  … {r.pending - len(r.pending_changes)} more")
    if not out.plain.strip():
        out.append("Every director is reachable, in step, with the same configuration.")
    return out


class GroupScreen(Screen[None]):
    """Every director of the group; `esc` (or `q`) goes back."""

    def __init__(self, keys: Mapping[str, str], snapshot: Snapshot | None = None) -> None:
        super().__init__()
        self.snapshot = snapshot
        back = keys.get("back", "escape")
        leave = "app.pop_screen"
        bindings = [Binding(back, leave, "Back", key_display=display_key(back))]
        bindings += [Binding(k, leave, "Back", show=False) for k in ("escape", "q") if k != back]
        self._bindings = BindingsMap(bindings)

    def compose(self) -> ComposeResult:
        yield Static("", id="group-title")
        table: DataTable[str | Text] = DataTable(id="directors", cursor_type="row")
        for c in _COLUMNS:
            table.add_column(c, key=c)
        with VerticalScroll(id="group-body"):
            yield table
            yield Static("", id="group-details")
        yield SteadyFooter()

    def on_screen_resume(self) -> None:
        if self.snapshot is not None:  # the latest one, also when it came before mounting
            self.show_snapshot(self.snapshot)

    def show_snapshot(self, snap: Snapshot) -> None:
        self.snapshot = snap
        if not self.is_mounted:
            return
        g = snap.group
        title = self.query_one("#group-title", Static)
        if g is None:
            title.update(Text("this director is in no group (esc: back)", style="bold"))
            return
        title.update(
            Text(
                f"Director group {g.group_id or '?'} · {1 + len(g.peers)} directors · "
                f"{g.overrides} replicated overrides  (esc: back)",
                style="bold",
                no_wrap=True,
                overflow="ellipsis",
            )
        )
        rows = directors(snap)
        error = _error_style(self)
        table = self.query_one("#directors", DataTable)
        cursor = table.cursor_row
        table.clear()
        for r in rows:
            table.add_row(*_cells(r, error), key=r.name)
        if 0 <= cursor < table.row_count:
            table.move_cursor(row=cursor)
        self.query_one("#group-details", Static).update(_details(snap, rows, error))
