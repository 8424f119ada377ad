"""The event log's content: events folded into the lines an operator reads (pure, no Textual).

- A drain is one line. Its progress (a DrainProgress a second while connections finish)
  rewrites that line in place; a change of state (safe, expired) moves it to the bottom,
  where news is read; an undrain closes it.
- An event already held is not said again: a console that reconnects and is replayed the
  daemon's recent events (`EngineClient.events(replay=True)`) shows each one once.
- Warnings and errors are counted, and the ones not yet seen (the full-screen log marks
  them seen) stay pinned above the log so that a flood of other lines never hides them.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from lvstui.model import DrainProgress, DrainState, Event, RealKey, ServiceKey
from lvstui.ui import render

__all__ = ["LIMIT", "PROBLEMS", "EventFold", "LogEntry"]

LIMIT = 1000  # lines kept (the oldest go first)
PROBLEMS = ("warning", "error")  # the levels pinned and counted


@dataclass(frozen=True, slots=True)
class LogEntry:
    level: str  # "info", "warning", "error"
    text: str


_Pair = tuple[ServiceKey, RealKey]


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


class EventFold:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._entries: OrderedDict[int, LogEntry] = OrderedDict()
        self._ids = 0
        self._drains: dict[_Pair, tuple[int, float, DrainState]] = {}  # open drain lines
        self._seen: set[Event] = set()
        self._seen_order: deque[Event] = deque()
        self._unseen: list[int] = []  # warnings and errors not yet looked at, oldest first
        self.errors = self.warnings = 0  # counted since the console started
        self.version = 0  # goes up with every change (views redraw when it moved)

    # --- reading -------------------------------------------------------------------------

    def entries(self, problems_only: bool = False) -> list[LogEntry]:
        out = list(self._entries.values())
        return [e for e in out if e.level in PROBLEMS] if problems_only else out

    def pinned(self) -> list[LogEntry]:
        """The warnings and errors not seen yet (and still in the log), oldest first."""
        return [self._entries[i] for i in self._unseen if i in self._entries]

    def mark_seen(self) -> None:
        if self._unseen:
            self._unseen.clear()
            self.version += 1

    # --- writing -------------------------------------------------------------------------

    def add(self, events: Iterable[Event]) -> bool:
        """Fold `events` in; True when the lines changed."""
        before = self.version
        for ev in events:
            if ev in self._seen:
                continue  # a replayed event this console already holds
            self._remember(ev)
            if isinstance(ev, DrainProgress):
                self._drain(ev)
            else:
                level, text = render.event_line(ev)
                self._append(LogEntry(level, text))
        return self.version != before

    def _remember(self, ev: Event) -> None:
        self._seen.add(ev)
        self._seen_order.append(ev)
        while len(self._seen_order) > 2 * self.limit:
            self._seen.discard(self._seen_order.popleft())

    def _append(self, entry: LogEntry) -> int:
        self._ids += 1
        self._entries[self._ids] = entry
        if entry.level in PROBLEMS:
            self._unseen.append(self._ids)
            if entry.level == "error":
                self.errors += 1
            else:
                self.warnings += 1
        while len(self._entries) > self.limit:
            self._entries.popitem(last=False)
        self._unseen = [i for i in self._unseen if i in self._entries][-self.limit :]
        self.version += 1
        return self._ids

    def _drain(self, ev: DrainProgress) -> None:
        pair = (ev.service, ev.real)
        held = self._drains.get(pair)
        if held is not None and held[0] not in self._entries:
            held = None  # its line aged out of the log: start a new one
        if held is None:
            if ev.state is DrainState.NONE:
                return  # an undrain of no drain shown here: its OperatorAction says it
            level, text = render.event_line(ev)
            self._drains[pair] = (self._append(LogEntry(level, text)), ev.time, ev.state)
            return
        ident, started, state = held
        level, text = render.event_line(ev)
        text += f" (drain started {_clock(started)})"
        self._entries[ident] = LogEntry(level, text)
        if ev.state is not state:  # news: to the bottom, where the eye is
            self._entries.move_to_end(ident)
            if level in PROBLEMS:
                self._unseen.append(ident)
                self.errors += level == "error"
                self.warnings += level == "warning"
        if ev.state is DrainState.NONE:
            del self._drains[pair]
        else:
            self._drains[pair] = (ident, started, ev.state)
        self.version += 1
