"""What the announcement loop last decided, held for the engine's snapshot (`lvstui status`,
`--json`, the metrics). The loop writes whole immutable views; the snapshot builder, on the
event loop or the metrics thread, reads the last one: one reference, no lock needed."""

from __future__ import annotations

from collections.abc import Mapping

from lvstui.announce.decide import Decision
from lvstui.model import AnnounceView, VipAnnounceView

__all__ = ["AnnounceState", "view_of"]


def view_of(decisions: Mapping[str, Decision]) -> AnnounceView:
    return AnnounceView(
        tuple(VipAnnounceView(vip, d.announce, d.text()) for vip, d in sorted(decisions.items()))
    )


class AnnounceState:
    def __init__(self) -> None:
        self._view = AnnounceView()

    def set(self, decisions: Mapping[str, Decision]) -> None:
        self._view = view_of(decisions)

    def view(self) -> AnnounceView:
        return self._view
