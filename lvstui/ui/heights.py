"""What the main screen gives up as the terminal gets shorter: the table keeps its rows.

Classes set on the screen by height (app.tcss says what each one hides or shrinks):

- `-compact` below 30 rows: the VRRP/quorum panels and the event log get shorter;
- `-short` below 22 rows: the panels go (the table has the same facts, the drill-down too),
  the event log keeps two lines;
- `-tiny` below 14 rows: the event log goes too; status, director line, table, footer stay.

At 40×12 that leaves the table eight rows instead of none.
"""

from __future__ import annotations

from textual.widget import Widget

__all__ = ["HEIGHT_CLASSES", "fit_height"]

HEIGHT_CLASSES = (("-compact", 30), ("-short", 22), ("-tiny", 14))


def fit_height(screen: Widget, height: int) -> None:
    for name, below in HEIGHT_CLASSES:
        screen.set_class(height < below, name)
