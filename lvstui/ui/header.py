"""The director line under the status line: what this director is, what it carries, how busy.

    MASTER · VIPs 192.0.2.10, 192.0.2.11 +1 · 1,234 conn/s ▂▃▅▆ · in 1.2 MB/s ▃▄▅ · out 8 MB/s ▅▆▇

- the role, from the VRRP instances: MASTER or BACKUP when they all agree, else MIXED with
  the count of each state (an operator must see at once that this director holds only some
  of its VIPs); "no VRRP" without instances. With a director group the status line above
  says the group's state (`groupview.group_header`); this line stays about this director.
- the VIPs of every instance (the first ones, then "+N"; only their number when narrow);
- the totals of all services: connections/s, bytes/s in and out, each with a sparkline of
  the last samples (the console records them: `SeriesStore.totals`).

The text is built by `director_line` (pure, tested); the widget only sizes and colours it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from lvstui.model import Snapshot, VrrpRunState
from lvstui.ui.history import SeriesStore
from lvstui.ui.render import sparkline

__all__ = ["DirectorHeader", "director_line", "rate", "role"]


def role(snap: Snapshot) -> str:
    """MASTER, BACKUP, MIXED 1 BACKUP/2 MASTER, or "no VRRP"."""
    if not snap.vrrp:
        return "no VRRP"
    states = Counter(v.state for v in snap.vrrp)
    if len(states) == 1:
        return next(iter(states)).value
    order = [s for s in VrrpRunState if s in states]
    return "MIXED " + "/".join(f"{states[s]} {s.value}" for s in order)


def rate(per_second: float, unit: str) -> str:
    """`950 B/s`, `1.2 kB/s`, `34 MB/s` (decimal prefixes, like ipvsadm's --rate in bytes)."""
    value = float(max(per_second, 0))
    for prefix in ("", "k", "M", "G", "T"):
        if value < 1000 or prefix == "T":
            text = f"{value:.1f}" if prefix and value < 10 else f"{value:.0f}"
            return f"{text} {prefix}{unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def _vips(snap: Snapshot, most: int) -> str:
    seen: dict[str, None] = {}
    for v in snap.vrrp:
        seen.update(dict.fromkeys(v.vips))
    vips = list(seen)
    if not vips:
        return "no VIP"
    if most == 0:
        return f"{len(vips)} VIP" + ("s" if len(vips) > 1 else "")
    more = f" +{len(vips) - most}" if len(vips) > most else ""
    return "VIPs " + ", ".join(vips[:most]) + more


# (VIPs named, sparkline width) tried in this order until the line fits
_VARIANTS = ((2, 8), (2, 4), (1, 4), (1, 0), (0, 0))


def director_line(snap: Snapshot, series: SeriesStore, width: int) -> list[tuple[str, str]]:
    """The line as (text, what) pieces, `what` naming the piece for colouring ("role",
    "spark", "" for plain text); sparklines and VIPs narrowed, then left out, until it fits
    `width` (the role and the figures always stay)."""
    cps = sum(sv.stats.cps for sv in snap.services)
    inbps = sum(sv.stats.inbps for sv in snap.services)
    outbps = sum(sv.stats.outbps for sv in snap.services)
    pieces: list[tuple[str, str]] = []
    for most, spark in _VARIANTS:

        def trend(name: str, spark: int = spark) -> list[tuple[str, str]]:
            values: Sequence[float] = series.totals(name)
            if not spark or not any(values):
                return []  # nothing yet, or a flat zero: a blank sparkline says nothing
            return [(" ", ""), (sparkline([round(v) for v in values], width=spark), "spark")]

        pieces = [
            (role(snap), "role"),
            (f" · {_vips(snap, most)} · ", ""),
            (f"{rate(cps, 'conn/s')}", ""),
            *trend("cps"),
            (f" · in {rate(inbps, 'B/s')}", ""),
            *trend("inbps"),
            (f" · out {rate(outbps, 'B/s')}", ""),
            *trend("outbps"),
        ]
        if sum(len(t) for t, _ in pieces) <= width:
            break
    return pieces


class DirectorHeader(Static):
    """One line: see the module's docstring. Coloured from the theme (MASTER in its success
    colour, FAULT in its error colour, BACKUP and MIXED in its warning colour)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._last: tuple[Snapshot, SeriesStore] | None = None

    def show(self, snap: Snapshot, series: SeriesStore) -> None:
        self._last = (snap, series)
        theme = self.app.current_theme
        states = {v.state for v in snap.vrrp}
        if VrrpRunState.FAULT in states:
            role_style = f"bold {theme.error or 'red'}"
        elif states == {VrrpRunState.MASTER}:
            role_style = f"bold {theme.success or 'green'}"
        elif states:
            role_style = f"bold {theme.warning or 'yellow'}"
        else:
            role_style = "dim"
        styles = {"role": role_style, "spark": theme.primary or "", "": ""}
        text = Text(no_wrap=True, overflow="ellipsis")
        for piece, what in director_line(snap, series, max(self.size.width - 2, 20)):
            text.append(piece, styles[what])
        self.update(text)

    def on_resize(self) -> None:
        if self._last is not None:
            self.show(*self._last)
