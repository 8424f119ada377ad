"""What the announcement loop last decided, held for the engine's snapshot (`lvstui status`,
`--json`, the metrics), with the BGP sessions' state as the routing daemon last said. The
loop writes whole immutable views; the snapshot builder, on the event loop or the metrics
thread, reads the last one: one reference, no lock needed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from lvstui.announce.decide import Decision
from lvstui.announce.peers import BgpPeer
from lvstui.model import AnnounceView, BgpPeerView, VipAnnounceView

__all__ = ["AnnounceState"]


class AnnounceState:
    def __init__(self, daemon: str = "") -> None:
        self._view = AnnounceView(daemon=daemon)

    def set(self, decisions: Mapping[str, Decision]) -> None:
        vips = tuple(
            VipAnnounceView(vip, d.announce, d.text()) for vip, d in sorted(decisions.items())
        )
        self._view = replace(self._view, vips=vips)

    def set_peers(self, peers: Sequence[BgpPeer], error: str = "") -> None:
        """The daemon's answer, or why there was none (the last peers are then dropped:
        a state nobody can confirm is not shown as current)."""
        views = tuple(BgpPeerView(p.name, p.state, p.since, p.info, p.prefixes_sent) for p in peers)
        self._view = replace(self._view, peers=views, peers_error=error)

    def set_daemon(self, daemon: str) -> None:
        """Another routing daemon (or none) is asked now (a reload): what the previous one
        said is dropped."""
        if daemon != self._view.daemon:
            self._view = replace(self._view, daemon=daemon, peers=(), peers_error="")

    def set_director(self, phase: str, detail: str) -> None:
        self._view = replace(self._view, director=phase, director_detail=detail)

    def view(self) -> AnnounceView:
        return self._view
