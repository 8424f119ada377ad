"""The VRRP panel's columns for the width it has (pure, no Textual).

The panel shares the bottom row with the quorum bars: about 58 cells at 120 columns, 38 at
80. Fixed widths cut the Sync group off at 120 columns and gave the VIPs room they did not
use, so the widths are worked out here from the panel's width and what the instances hold:
every column as wide as its widest value; where that does not fit, the Sync group's heading
shortens (`Sync`), the VIPs go down to the first one and a count (`192.0.2.1 +2`), then the columns
least needed go: the Sync group, then the VIPs (the header lists the VIPs too). The name,
state, priority and age of the last transition always stay. Text is left-aligned throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lvstui.model import VrrpView
from lvstui.ui.render import age, crop

__all__ = ["PADDING", "VrrpColumn", "vips_cell", "vrrp_columns", "vrrp_row"]

PADDING = 2  # a DataTable cell's padding: 1 either side
_STATE = 6  # MASTER, BACKUP: the column does not move as the state changes
_SINCE = 5
_NAME_MAX = 16
_GROUP_MAX = 12


@dataclass(frozen=True, slots=True)
class VrrpColumn:
    key: str
    label: str
    width: int


def vips_cell(vips: Sequence[str], width: int) -> str:
    """As many VIPs as fit in `width`, then how many more: `192.0.2.1,192.0.2.2 +3`."""
    for n in range(len(vips), 0, -1):
        text = ",".join(vips[:n]) + (f" +{len(vips) - n}" if n < len(vips) else "")
        if len(text) <= width:
            return text
    return crop(f"{vips[0]} +{len(vips) - 1}" if len(vips) > 1 else vips[0], width) if vips else ""


def _prio(v: VrrpView) -> str:
    return str(v.priority) if v.priority == v.base_priority else f"{v.priority}/{v.base_priority}"


def vrrp_columns(width: int, views: Sequence[VrrpView]) -> tuple[VrrpColumn, ...]:
    """The columns shown in a panel `width` cells wide (its scrollbar already taken off)."""
    name = min(_NAME_MAX, max([8, *(len(v.name) for v in views)]))
    prio = max([4, *(len(_prio(v)) for v in views)])
    vips_full = max([4, *(len(vips_cell(v.vips, 1 << 16)) for v in views)])
    vips_min = max([4, *(len(vips_cell(v.vips, 0)) if v.vips else 0 for v in views)])
    groups = [len(v.sync_group or "") for v in views]
    group = min(_GROUP_MAX, max(groups, default=0))
    kept = [("name", "Instance", name), ("state", "State", _STATE), ("prio", "Prio", prio)]
    kept.append(("since", "Since", _SINCE))

    def fits(extra: list[tuple[str, str, int]]) -> bool:
        cols = kept + extra
        return sum(w for _, _, w in cols) + PADDING * len(cols) <= width

    tries: list[list[tuple[str, str, int]]] = []
    if group:  # only when an instance is in a sync group
        for vips in (vips_full, vips_min):  # every VIP before the heading's whole words
            for label in ("Sync group", "Sync"):
                tries.append([("vips", "VIPs", vips), ("group", label, max(group, len(label)))])
    tries += [[("vips", "VIPs", vips_full)], [("vips", "VIPs", vips_min)], []]
    extra = next((t for t in tries if fits(t)), [])
    cols = kept[:4] + extra
    # what is left over widens the VIPs (more of them shown), else the name
    spare = width - sum(w for _, _, w in cols) - PADDING * len(cols)
    # (too narrow even for the four kept: the name is cropped, down to 6)
    grow = "vips" if any(k == "vips" for k, _, _ in cols) and spare > 0 else "name"
    out = []
    for key, label, w in cols:
        if key == grow:
            w += spare if key == "vips" else max(min(spare, _NAME_MAX - w), min(0, 6 - w))
        out.append(VrrpColumn(key, label, w))
    return tuple(out)


def vrrp_row(v: VrrpView, now: float, columns: Sequence[VrrpColumn]) -> tuple[str, ...]:
    """The cells of one instance for `columns` (each cropped to its width)."""
    cells = {
        "name": v.name,
        "state": v.state.value,
        "prio": _prio(v),
        "since": age(v.last_transition, now),
        "group": v.sync_group or "",
    }
    return tuple(
        vips_cell(v.vips, c.width) if c.key == "vips" else crop(cells[c.key], c.width)
        for c in columns
    )
