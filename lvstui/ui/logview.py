"""The event log on screen: the main screen's panel and the full-screen log (`l`).

Both draw an `EventFold` (eventlog.py): the panel keeps the warnings and errors not yet
seen pinned above its lines and counts them in its title; the full-screen log shows every
line kept, scrolls with the navigation keys, shows only warnings and errors with `e`, and
marks the pinned ones seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from lvstui.model import Event
from lvstui.ui.bindings import display_key
from lvstui.ui.eventlog import EventFold, LogEntry
from lvstui.ui.footer import SteadyFooter
from lvstui.ui.render import count
from lvstui.ui.widgets import Palette, palette_for

__all__ = ["EventLog", "EventPanel", "LogScreen", "log_text"]

PANEL_LINES = 200  # the panel draws the newest lines; the full-screen log has them all
PINNED = 2  # most problems pinned above the panel's lines (the title counts them all)


def log_text(entries: Sequence[LogEntry], palette: Palette) -> Text:
    """The lines, warnings and errors in the theme's colours (errors bold)."""
    out = Text(no_wrap=False, overflow="fold")
    for i, e in enumerate(entries):
        if i:
            out.append("\n")
        style = palette.get(e.level, "")
        out.append(e.text, style=f"bold {style}" if e.level == "error" else style)
    return out


def problem_count(fold: EventFold) -> str:
    parts = []
    if fold.errors:
        parts.append(f"{fold.errors} error{'s' if fold.errors != 1 else ''}")
    if fold.warnings:
        parts.append(f"{fold.warnings} warning{'s' if fold.warnings != 1 else ''}")
    return ", ".join(parts)


class EventLog(VerticalScroll):
    """The scrolling lines (focus it with Tab: arrows, PgUp/PgDn, Home/End scroll it)."""

    can_focus = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines_text: list[str] = []  # what it shows, for tests and the bench

    def compose(self) -> ComposeResult:
        yield Static("", classes="log-lines")

    def show(self, entries: Sequence[LogEntry], palette: Palette) -> None:
        follow = self.scroll_y >= self.max_scroll_y  # at the bottom: stay there
        self.lines_text = [e.text for e in entries]
        self.query_one(".log-lines", Static).update(log_text(entries, palette))
        if follow:
            self.call_after_refresh(self.scroll_end, animate=False)


class EventPanel(Vertical):
    """The main screen's log: unseen warnings and errors pinned, then the newest lines."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.fold = EventFold()
        self.palette = palette_for(None)
        self._log_key = "l"

    def compose(self) -> ComposeResult:
        yield Static("", id="events-pinned")
        yield EventLog(id="events-log")

    def on_mount(self) -> None:
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()  # what is in sight, and so what is pinned, depends on the height

    def fold_texts(self) -> list[str]:
        return [e.text for e in self.fold.entries()]

    def set_log_key(self, key: str) -> None:
        self._log_key = key

    def set_palette(self, palette: Palette) -> None:
        self.palette = palette
        self.redraw()

    def add(self, events: Iterable[Event]) -> None:
        if self.fold.add(events) and self.is_mounted:
            self.redraw()

    def redraw(self) -> None:
        fold = self.fold
        entries = fold.entries()[-PANEL_LINES:]
        key = display_key(self._log_key) if self._log_key else ""
        # Pinned: the unseen problems that newer lines pushed out of sight, in at most half
        # the panel (the newest of them; "+N" counts the others), the log keeps the rest.
        room = max(self.content_size.height, 2)
        budget = min(PINNED, room // 2)
        in_sight = {id(e) for e in entries[-(room - budget) :]}
        out_of_sight = [e for e in fold.pinned() if id(e) not in in_sight]
        shown = out_of_sight[-budget:]
        box = self.query_one("#events-pinned", Static)
        box.display = bool(shown)
        if shown:
            hidden = len(out_of_sight) - len(shown)
            text = Text(no_wrap=True, overflow="ellipsis")
            for i, e in enumerate(shown):
                if i:
                    text.append("\n")
                if i == 0 and hidden:
                    text.append(f"⚠ +{hidden} · ", style="bold")
                style = self.palette.get(e.level, "")
                text.append(e.text, style=f"bold {style}" if e.level == "error" else style)
            box.update(text)
        counts = problem_count(fold)
        opens = f" · {key}: open" if key else ""
        self.border_title = "Events" + (f" · ⚠ {counts}{opens}" if counts else "")
        self.query_one(EventLog).show(entries, self.palette)


class LogScreen(Screen[None]):
    """Every line kept, full screen. Opening it marks the pinned problems seen."""

    def __init__(self, fold: EventFold, keys: Mapping[str, str], palette: Palette) -> None:
        super().__init__()
        self.fold = fold
        self.palette = palette
        self.problems_only = False
        self._drawn = -1
        back = keys.get("back", "escape")
        nav = [
            (keys.get("cursor_down", ""), "scroll_down", "Down"),
            (keys.get("cursor_up", ""), "scroll_up", "Up"),
            (keys.get("cursor_top", ""), "scroll_home", "Top"),
            (keys.get("cursor_bottom", ""), "scroll_end", "Bottom"),
        ]
        bindings = [
            Binding(back, "back", "Back", key_display=display_key(back)),
            Binding("e", "problems", "Warnings/errors"),
        ]
        for k in {"escape", "q", keys.get("log", "")} - {back, ""}:
            bindings.append(Binding(k, "back", "Back", show=False))
        bindings += [Binding(k, a, d, show=False) for k, a, d in nav if k]
        self._bindings = BindingsMap(bindings)

    def compose(self) -> ComposeResult:
        yield Static("", id="log-title")
        yield EventLog(id="log-full")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.fold.mark_seen()
        self.redraw()
        self.query_one(EventLog).focus()
        self.set_interval(0.5, self._follow)

    def _follow(self) -> None:
        if self.fold.version != self._drawn:
            self.redraw()

    def redraw(self) -> None:
        self.fold.mark_seen()  # on screen now: nothing left to pin
        self._drawn = self.fold.version
        entries = self.fold.entries(self.problems_only)
        n = len(entries)
        what = f"{n} warnings and errors" if self.problems_only else count(n, "event")
        counts = problem_count(self.fold)
        self.query_one("#log-title", Static).update(
            Text(
                f"Event log · {what}"
                + (f" · {counts}" if counts else "")
                + " · e: "
                + ("all events" if self.problems_only else "only warnings and errors"),
                no_wrap=True,
                overflow="ellipsis",
            )
        )
        self.query_one(EventLog).show(entries, self.palette)

    def action_problems(self) -> None:
        self.problems_only = not self.problems_only
        self.redraw()

    def action_scroll_down(self) -> None:
        self.query_one(EventLog).scroll_down(animate=False)

    def action_scroll_up(self) -> None:
        self.query_one(EventLog).scroll_up(animate=False)

    def action_scroll_home(self) -> None:
        self.query_one(EventLog).scroll_home(animate=False)

    def action_scroll_end(self) -> None:
        self.query_one(EventLog).scroll_end(animate=False)

    def action_back(self) -> None:
        self.app.pop_screen()
