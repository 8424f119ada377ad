"""FakeGroup: the director group of a `FakeClient` (console tests, demos, bench).

Peers are names with a link that the test cuts and restores. A change the fake engine
applies is counted as pending for every peer that is unreachable, as the real group does
(lvstui.group.member), and delivered (no longer pending) when `restore` brings it back.
Nothing here touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lvstui.model import GroupPeerView, GroupView

__all__ = ["FakeGroup"]


@dataclass
class _FakePeer:
    name: str
    address: str
    reachable: bool = True
    since: float = 0.0
    pending: list[str] = field(default_factory=list)
    config_same: bool | None = True
    differing: tuple[str, ...] = ()
    vrrp: tuple[str, ...] = ()
    hash_differ: tuple[str, ...] = ()


class FakeGroup:
    def __init__(self, name: str, peers: tuple[str, ...], now: float, group_id: str = "") -> None:
        self.name = name
        self.group_id = group_id or "3f9a0c1d2e4b5a6c"
        self.overrides = 0
        self.split_brain: tuple[str, ...] = ()
        self.peers = {
            p: _FakePeer(
                p,
                f"198.51.100.{11 + i}:7946",
                since=now - 300,
                vrrp=("VI_WEB 51 BACKUP 100", "VI_DNS 52 MASTER 150"),
            )
            for i, p in enumerate(peers)
        }

    def cut(self, name: str, now: float) -> None:
        peer = self.peers[name]
        peer.reachable, peer.since = False, now

    def restore(self, name: str, now: float) -> None:
        """The link is back: the anti-entropy exchange delivers what was pending."""
        peer = self.peers[name]
        peer.reachable, peer.since = True, now
        peer.pending.clear()

    def differ(self, name: str, *sections: str) -> None:
        peer = self.peers[name]
        peer.config_same, peer.differing = not sections, sections

    def hash_differs(self, name: str, *services: str) -> None:
        """The peer's mh/sh table of these services (their text) differs from ours."""
        self.peers[name].hash_differ = services

    def changed(self, what: str) -> None:
        """An operator change applied here (`what` in the words of `lvstui ctl`)."""
        self.overrides += 1
        for peer in self.peers.values():
            if not peer.reachable and what not in peer.pending:
                peer.pending.append(what)

    def view(self) -> GroupView:
        return GroupView(
            self.name,
            self.group_id,
            self.overrides,
            tuple(
                GroupPeerView(
                    p.address,
                    p.name,
                    p.reachable,
                    p.since,
                    p.reachable,
                    len(p.pending),
                    p.config_same,  # the last status heard, also while unreachable
                    p.differing,
                    True,
                    p.vrrp,
                    tuple(sorted(p.pending)),
                    p.hash_differ,
                )
                for p in self.peers.values()
            ),
            self.split_brain,
        )
