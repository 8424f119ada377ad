"""The help screen: every key the console has, from the one table of actions (bindings.py),
then the legend of the marks the service table uses (LEGEND; docs/console.md has it too).

It fits the terminal's width (no sideways scrolling, down to 60 columns): the columns take
the width there is and long cells wrap onto more lines (`HelpTable`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from lvstui.ui.bindings import ACTIONS, display_keys

__all__ = ["LEGEND", "HelpScreen", "HelpTable", "help_widths", "push_help"]

# (mark as shown in the table, what it says), listed under the keys
LEGEND: tuple[tuple[str, str], ...] = (
    ("TCP 1.2.3.4:80 web", "a virtual service (bold), its name from config.toml after it"),
    ("-> 10.0.0.1:80", "a real server of the service above (its name after it, when set)"),
    ("~> 10.0.0.9:80", "the sorry server: serving while the service is below its quorum"),
    ("… +", "added at run time (a, :add, ctl add), not in config.toml"),
    ("0/10", "weight now / configured (down, drained, slow start or an override)"),
    ("5*", "the weight is the operator's override (w, :weight; reset: empty weight)"),
    ("drain 12", "draining: 12 active connections left; then safe (it can be stopped)"),
    ("expired", "drain timeout: the connections left were cut"),
    ("ramping", "back in service, its weight still climbing (slow_start)"),
    ("NO QUORUM", "the service's live weight is under its quorum"),
    ("SORRY", "the sorry server serves the service"),
    ("STALE", "its check has not completed a run in 2 × (period + budget)"),
    ("▁▃▆█", "active connections, the last seconds (scaled to the service's peak)"),
    ("▲ ▼", "in a column header: the table is sorted by it (s: next column, S: reverse)"),
)


_ACTION = max(len(a.action) for a in ACTIONS)
_MARK = max(len(mark) for mark, _ in LEGEND)


def help_widths(width: int) -> tuple[int, int, int]:
    """The widths of the Key, Action and What-it-does columns in a table `width` cells wide,
    its vertical scrollbar taken off (each cell is padded by 1 on either side)."""
    room = width - 3 * 2
    key = max(8, min(_MARK, room // 7))  # the marks of the legend wrap; the keys are short
    return key, _ACTION, max(12, room - key - _ACTION)


class HelpTable(DataTable[str | Text]):
    """The keys and the legend, laid out anew for the width it is given (resized: rebuilt,
    only when the column widths change, so the height it then takes does not loop)."""

    def __init__(self, rows: list[tuple[str | Text, ...]]) -> None:
        super().__init__(id="help-keys", cursor_type="none", show_cursor=False)
        self._rows = rows
        self._widths = (0, 0, 0)

    def on_mount(self) -> None:
        # Filled at once for the width it will most likely get (the dialog's: up to 100
        # cells, 95 % of a narrower terminal, less its border and padding), so that its first
        # frame is not empty; a resize to another width lays it out again.
        likely = min(100, self.app.size.width * 95 // 100) - 4
        self._fill(help_widths(likely - self.styles.scrollbar_size_vertical))

    def on_resize(self, event: events.Resize) -> None:
        self._fill(help_widths(event.size.width - self.styles.scrollbar_size_vertical))

    def _fill(self, widths: tuple[int, int, int]) -> None:
        if widths == self._widths:
            return
        self._widths = widths
        self.clear(columns=True)
        for label, width in zip(("Key", "Action", "What it does"), widths, strict=True):
            self.add_column(label, width=width)
        for row in self._rows:
            self.add_row(*row, height=None)  # wrapped: as many lines as it takes


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, keys: Mapping[str, str], read_only: bool) -> None:
        super().__init__()
        self._keys = keys
        self._read_only = read_only
        for action in ("back", "help"):  # remapped keys close it too
            if keys[action] not in ("escape", "question_mark", "q"):
                self._bindings.bind(keys[action], "close", "Close", show=False)

    def compose(self) -> ComposeResult:
        with Vertical(id="help", classes="dialog"):
            yield Static(Text("Key bindings", style="bold"), id="help-title")
            yield HelpTable(self._rows())
            yield Static(
                ":drain SVC REAL · :undrain SVC REAL · :weight SVC REAL N|reset · "
                ":add SVC REAL [W] · :remove SVC REAL · :reload · :theme NAME   "
                "(SVC = TCP 1.2.3.4:80)"
                + ("\nREAD-ONLY: changing actions are disabled." if self._read_only else ""),
                id="help-commands",
                markup=False,
            )

    def _rows(self) -> list[tuple[str | Text, ...]]:
        rows: list[tuple[str | Text, ...]] = [
            (" ".join(display_keys(a, self._keys)), a.action, a.description)
            for a in ACTIONS
            if not (self._read_only and a.changes)
        ]
        rows.append(("", "", ""))
        rows.append((Text("Mark", style="bold"), Text("legend", style="bold"), ""))
        rows.extend((mark, "", meaning) for mark, meaning in LEGEND)
        return rows

    def on_mount(self) -> None:
        self.query_one(HelpTable).focus()  # where it is taller than the terminal, keys scroll it

    def on_screen_resume(self) -> None:
        # shown again: from the top, as a new one opened
        self.query_one("#help-keys", DataTable).scroll_home(animate=False, immediate=True)

    def action_close(self) -> None:
        self.app.pop_screen()


def push_help(app: App[object], keys: Mapping[str, str], read_only: bool) -> None:
    """Open the help. It is built once per console and kept (an installed screen is not
    removed when closed): building its table and styling it anew was most of what `?` cost
    (docs/performance.md, "Console")."""
    name = "lvstui-help-read-only" if read_only else "lvstui-help"
    if not app.is_screen_installed(name):
        app.install_screen(HelpScreen(keys, read_only), name)
    app.push_screen(name)
