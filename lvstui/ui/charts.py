"""Line charts over time, drawn by plotext as plain text (no colour codes: the theme colours
the widget, and NO_COLOR terminals get the same picture).

The x axis is time: −60 s on the left, "now" on the right, one sample a second, whatever the
number of samples so far. The y axis starts at 0 and reaches at least 1: counts and rates are
never negative, and an all-zero series is a flat line on the floor, not a band around zero;
whole-number series (connection counts) get whole-number ticks.
A chart that would not be readable at the size it is given (plotext squeezes its ticks into
each other) is replaced by a one-line note saying so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotext as plt

__all__ = ["MIN_HEIGHT", "MIN_WIDTH", "WINDOW", "fits", "line_chart"]

WINDOW = 60  # seconds shown
MIN_WIDTH = 30  # below this the y labels and the three time ticks run into each other
MIN_HEIGHT = 8  # title, frame, axis, tick labels and at least three rows of plot


def fits(width: int, height: int) -> bool:
    return width >= MIN_WIDTH and height >= MIN_HEIGHT


def line_chart(values: Sequence[float], width: int, height: int, title: str) -> str:
    """A `width`×`height` text chart of `values` (one sample a second, oldest first)."""
    if not fits(width, height):
        return f"{title}: hidden at {width}×{height} (a chart needs {MIN_WIDTH}×{MIN_HEIGHT})"
    if len(values) < 2:
        return f"{title}\n(collecting samples…)"
    window = [max(float(v), 0.0) for v in values[-(WINDOW + 1) :]]
    n = len(window)
    fig = plt.figure
    fig.clear()
    fig.plot_size(width, height)
    fig.theme("colorless")
    # x = seconds before now: the right edge is "now" however many samples there are
    sig = fig.signal([float(i - (n - 1)) for i in range(n)], window)
    fig.draw(sig.lines(True))
    fig.ruler(axis=0).lim(-WINDOW, 0)
    fig.ruler(axis=0).ticks([-WINDOW, -WINDOW // 2, 0], [f"-{WINDOW}s", f"-{WINDOW // 2}s", "now"])
    top = max(max(window), 1.0)
    if all(v.is_integer() for v in window):  # counts: whole ticks, not 0.25 of a connection
        step = max(1, math.ceil(top / 4))
        whole = list(range(0, step * math.ceil(top / step) + 1, step))  # the top one a tick
        fig.ruler(axis=1).lim(0, whole[-1])
        fig.ruler(axis=1).ticks([float(t) for t in whole], [str(t) for t in whole])
    else:
        fig.ruler(axis=1).lim(0, top)
    fig.title(title if len(title) <= width - 4 else title[: width - 4])
    text: str = fig.build().string(colorless=True)
    return text
