"""The console's BGP pane (docs/bgp.md, "What the operator sees"): the director drain's
phase, whether the directors build the same mh/sh table (ECMP consistency), each VIP in bgp
mode announced or withdrawn with the reason, and the routing daemon's BGP sessions, from the
snapshot — the same data `lvstui status` prints. Shown only while some VIP is in bgp mode
(the snapshot's `announce` is None otherwise), next to the quorum panel."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from lvstui.model import AnnounceView, Snapshot
from lvstui.ui.bgpdrain import PaneLine, phase_lines
from lvstui.ui.bindings import display_key
from lvstui.ui.ecmpline import ecmp_line

__all__ = ["AnnouncePanel", "announce_lines", "pane_lines"]


def announce_lines(view: AnnounceView) -> list[str]:
    """The VIPs (what the routers get), then the sessions that carry them."""
    lines = []
    for v in view.vips:
        if v.announced:
            lines.append(f"▲ {v.vip} announced")
        else:
            lines.append(f"▼ {v.vip} withdrawn: {v.reason}")
    if not view.vips:
        lines.append("no VIP in bgp mode")
    if view.peers_error:
        lines.append(f"peers: {view.peers_error}")
    for p in view.peers:
        sent = f", {p.prefixes_sent} sent" if p.prefixes_sent is not None else ""
        since = f" since {p.since}" if p.since else ""
        info = f" ({p.info})" if p.info else ""
        lines.append(f"peer {p.name} {p.state}{since}{sent}{info}")
    if not view.peers and not view.peers_error:
        lines.append(f"peers: {view.daemon} says none yet" if view.daemon else "peers: not asked")
    return lines


def pane_lines(snap: Snapshot, key: str = "") -> list[PaneLine]:
    """The whole pane, summary first (it is cut at the bottom when short): the drain phase
    (offering `key` where the console may drain), the tables, then VIPs and sessions."""
    view = snap.announce
    if view is None:
        return []
    lines = phase_lines(view, key)
    ecmp = ecmp_line(snap)
    if ecmp is not None:
        lines.append(ecmp)
    return lines + [PaneLine(t) for t in announce_lines(view)]


class AnnouncePanel(Static):
    DEFAULT_CSS = """
    AnnouncePanel {
        width: 1fr;
        height: 100%;
        border: round $primary;
        padding: 0 1;
        overflow: hidden hidden;
        text-wrap: nowrap;  /* one line per item, cut with … (a wrapped line hides the next) */
        text-overflow: ellipsis;
    }
    """

    def __init__(self, drain_key: str = "", *, id: str | None = None) -> None:
        """`drain_key`: the key that drains/undrains the director, said in the phase line
        ("": not offered, as on a read-only console)."""
        super().__init__("", id=id)
        self._lines: list[PaneLine] | None = None
        self._key = display_key(drain_key) if drain_key else ""

    def on_mount(self) -> None:
        self.border_title = "BGP"
        self.display = False  # until a snapshot says some VIP is in bgp mode

    def show(self, snap: Snapshot) -> None:
        self.display = snap.announce is not None
        lines = pane_lines(snap, self._key)
        if lines != self._lines:
            self._lines = lines
            text = Text(no_wrap=True, overflow="ellipsis")
            for i, line in enumerate(lines):
                text.append(("\n" if i else "") + line.text, style=line.style)
            self.update(text)
