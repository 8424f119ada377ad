"""The console's BGP pane (docs/bgp.md, "What the operator sees"): each VIP in bgp mode,
announced or withdrawn with the reason, and the routing daemon's BGP sessions, from the
snapshot's `announce` view — the same data `lvstui status` prints. Shown only while some
VIP is in bgp mode (the snapshot's view is None otherwise), next to the quorum panel."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from lvstui.model import AnnounceView

__all__ = ["AnnouncePanel", "announce_lines"]


def announce_lines(view: AnnounceView) -> list[str]:
    """The pane's text: VIPs first (what the routers get), then the sessions that carry them."""
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


class AnnouncePanel(Static):
    DEFAULT_CSS = """
    AnnouncePanel {
        width: 1fr;
        height: 100%;
        border: round $primary;
        padding: 0 1;
        overflow: hidden hidden;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._text: str | None = None

    def on_mount(self) -> None:
        self.border_title = "BGP"
        self.display = False  # until a snapshot says some VIP is in bgp mode

    def show(self, view: AnnounceView | None) -> None:
        self.display = view is not None
        text = "\n".join(announce_lines(view)) if view is not None else ""
        if text != self._text:
            self._text = text
            self.update(Text(text, no_wrap=True, overflow="ellipsis"))
