"""The announcement decisions in the snapshot: `lvstui status` (text and --json) and the
metrics show per bgp VIP announced or withdrawn, and why."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from prometheus_client.core import Metric

from lvstui.announce.base import MemoryAnnouncer
from lvstui.announce.follow import follow
from lvstui.announce.peers import PeerReader
from lvstui.announce.state import AnnounceState
from lvstui.commands.status import render_status, status_json
from lvstui.metrics import EngineCollector
from lvstui.model import (
    LbKind,
    Protocol,
    RealKey,
    RealServerView,
    ServiceKey,
    ServiceView,
    Snapshot,
)

UP = ServiceKey(Protocol.TCP, "198.51.100.10", 80)
DOWN = ServiceKey(Protocol.TCP, "198.51.100.11", 80)


def _svc(key: ServiceKey, quorum: bool) -> ServiceView:
    real = RealServerView(RealKey("192.0.2.101", 80), LbKind.NAT, 1, 1)
    return ServiceView(key, "mh", LbKind.NAT, quorum_up=quorum, real_servers=(real,))


async def _decided() -> Snapshot:
    snap = Snapshot(seq=1, time=0.0, services=(_svc(UP, True), _svc(DOWN, False)))
    state = AnnounceState()
    announcer = MemoryAnnouncer()
    task = asyncio.create_task(
        follow(lambda: snap, announcer, lambda: [UP.addr, DOWN.addr], interval=0.01, state=state)
    )
    for _ in range(200):
        if state.view().vips:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert announcer.log[0] == ("announce", UP.addr)
    return Snapshot(seq=2, time=0.0, services=snap.services, announce=state.view())


def test_status_text_json_and_metrics_show_each_vip() -> None:
    snap = asyncio.run(_decided())
    text = render_status(snap)
    assert "198.51.100.10: ANNOUNCED" in text
    assert "198.51.100.11: WITHDRAWN (a service has no quorum: TCP 198.51.100.11:80)" in text
    doc = status_json(snap)["announce"]
    assert doc == [
        {"vip": "198.51.100.10", "announced": True, "reason": "announced"},
        {
            "vip": "198.51.100.11",
            "announced": False,
            "reason": "a service has no quorum: TCP 198.51.100.11:80",
        },
    ]
    metrics: list[Metric] = list(EngineCollector(lambda: snap).collect())
    fam = next(m for m in metrics if m.name == "lvstui_bgp_vip_announced")
    assert {s.labels["vip"]: s.value for s in fam.samples} == {
        "198.51.100.10": 1.0,
        "198.51.100.11": 0.0,
    }


def test_no_bgp_vip_no_section() -> None:
    snap = Snapshot(seq=1, time=0.0)
    assert "BGP" not in render_status(snap)
    assert status_json(snap)["announce"] is None


def _following(
    snap: Snapshot, state: AnnounceState, peers: Callable[[], PeerReader | None], every: float
) -> asyncio.Task[None]:
    """The announcement loop on one snapshot of UP, a tick every 10 ms."""
    return asyncio.create_task(
        follow(
            lambda: snap,
            MemoryAnnouncer(),
            lambda: [UP.addr],
            interval=0.01,
            state=state,
            peers=peers,
            peers_every=every,
        )
    )


def test_peer_state_from_the_daemon_in_status_json_and_metrics() -> None:
    from lvstui.announce.peers import BgpPeer, MemoryPeers

    snap = Snapshot(seq=1, time=0.0, services=(_svc(UP, True),))
    state = AnnounceState("bird")
    reader = MemoryPeers([BgpPeer("uplink", "Established", "07:47:57", "", None)], daemon="bird")

    async def run(rounds: int) -> None:
        task = _following(snap, state, lambda: reader, 0.0)
        for _ in range(rounds):
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run(20))
    shown = replace(snap, announce=state.view())
    assert "  uplink: Established since 07:47:57" in render_status(shown)
    assert status_json(shown)["bgp_peers"]["peers"][0]["established"] is True
    fam = next(
        m for m in EngineCollector(lambda: shown).collect() if m.name == "lvstui_bgp_peer_up"
    )
    assert [(s.labels["peer"], s.value) for s in fam.samples] == [("uplink", 1.0)]
    reader.error = "bird: Unable to connect to server control socket"
    asyncio.run(run(20))
    shown = replace(snap, announce=state.view())
    assert "cannot ask bird: bird: Unable to connect" in render_status(shown)
    assert status_json(shown)["bgp_peers"]["peers"] == []  # nothing stale shown as current


def test_director_drain_in_status_text_and_json() -> None:
    from lvstui.model import AnnounceView, VipAnnounceView

    draining = AnnounceView(
        vips=(
            VipAnnounceView("198.51.100.10", True, "director draining: announced less preferred"),
        ),
        director="draining",
        director_detail="draining: no new connection for 1.0 s of 10 s",
    )
    snap = Snapshot(seq=1, time=0.0, announce=draining)
    text = render_status(snap)
    assert "director drain: DRAINING (draining: no new connection for 1.0 s of 10 s)" in text
    assert "198.51.100.10: ANNOUNCED (director draining: announced less preferred)" in text
    assert status_json(snap)["director_drain"] == {
        "phase": "draining",
        "detail": "draining: no new connection for 1.0 s of 10 s",
    }
    normal = replace(snap, announce=replace(draining, director="normal", director_detail=""))
    assert "director drain:" not in render_status(normal)
    assert status_json(Snapshot(seq=1, time=0.0))["director_drain"] is None


def test_a_reload_that_changes_the_daemon_asks_the_new_one_at_once() -> None:
    """[lvstui.announce] daemon / daemon_socket follow a reload: the loop asks whichever
    reader the config names now, drops what the previous one said, and asks the new one
    without waiting for the 5 s period."""
    from lvstui.announce.peers import BgpPeer, MemoryPeers

    snap = Snapshot(seq=1, time=0.0, services=(_svc(UP, True),))
    state = AnnounceState("bird")
    bird = MemoryPeers([BgpPeer("uplink", "Established")], daemon="bird")
    frr = MemoryPeers([BgpPeer("192.0.2.1", "Active")], daemon="frr")
    current: list[MemoryPeers | None] = [bird]
    seen: list[tuple[str, tuple[str, ...]]] = []

    async def run() -> None:
        task = _following(snap, state, lambda: current[0], 3600.0)  # asks on a change only
        for step in range(60):
            await asyncio.sleep(0.01)
            if step == 20:
                current[0] = frr
            if step == 40:
                current[0] = None
            v = state.view()
            now = (v.daemon, tuple(p.name for p in v.peers))
            if not seen or seen[-1] != now:
                seen.append(now)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    # (between two looks a reader may have been switched to and not yet answered)
    assert [s for s in seen if s[1]] == [("bird", ("uplink",)), ("frr", ("192.0.2.1",))]
    assert seen[-1] == ("", ())
