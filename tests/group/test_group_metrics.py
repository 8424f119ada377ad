"""The director group's metrics from a snapshot: reachability, config alike, pending changes,
the ECMP consistency of the mh/sh tables (issue 16 build 5), split brain."""

from __future__ import annotations

from lvstui.metrics import EngineCollector
from lvstui.model import GroupPeerView, GroupView, Snapshot

SVC = "TCP 198.51.100.10:80"


def _samples(group: GroupView) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    snap = Snapshot(seq=1, time=0.0, group=group)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for m in EngineCollector(lambda: snap).collect()
        for s in m.samples
        if s.name.startswith("lvstui_group_")
    }


def _peer(name: str) -> tuple[tuple[str, str], ...]:
    return (("address", f"{name}:9337"), ("peer", name))


def test_hash_table_drift_per_peer() -> None:
    group = GroupView(
        "lb1",
        peers=(
            GroupPeerView("lb2:9337", "lb2", True, config_same=True, hash_differ=(SVC,)),
            GroupPeerView("lb3:9337", "lb3", True, config_same=True),
            GroupPeerView("lb4:9337", "lb4", False),  # never heard: nothing compared
        ),
        split_brain=("split brain: VRID 57 is MASTER on lb1, lb2",),
    )
    got = _samples(group)
    differ = "lvstui_group_peer_hash_tables_differ"
    assert got[(differ, _peer("lb2"))] == 1
    assert got[(differ, _peer("lb3"))] == 0
    assert (differ, _peer("lb4")) not in got
    assert (
        got[("lvstui_group_peer_up", _peer("lb2"))],
        got[("lvstui_group_peer_up", _peer("lb4"))],
    ) == (1, 0)
    assert got[("lvstui_group_peer_config_same", _peer("lb3"))] == 1
    assert got[("lvstui_group_split_brain", ())] == 1
