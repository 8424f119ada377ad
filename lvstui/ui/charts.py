"""Line charts over time, drawn by plotext as plain text (no colour codes: the theme colours
the widget, and NO_COLOR terminals get the same picture)."""

from __future__ import annotations

from collections.abc import Sequence

import plotext as plt

__all__ = ["line_chart"]


def line_chart(values: Sequence[float], width: int, height: int, title: str) -> str:
    """A `width`×`height` text chart of `values` (one sample a second, oldest first)."""
    width, height = max(width, 20), max(height, 5)
    if len(values) < 2:
        return f"{title}\n(collecting samples…)"
    fig = plt.figure
    fig.clear()
    fig.plot_size(width, height)
    fig.theme("colorless")
    # x = seconds before now, so the right edge is "now" whatever the window length.
    n = len(values)
    sig = fig.signal([float(v) for v in values])
    fig.draw(sig.lines(True))
    full = f"{title} (last {n}s)"
    fig.title(full if len(full) <= width - 4 else title[: width - 4])
    text: str = fig.build().string(colorless=True)
    return text
