from __future__ import annotations

import asyncio

from lvstui.announce.base import MemoryAnnouncer
from lvstui.announce.follow import follow, vip_views
from lvstui.model import (
    LbKind,
    Protocol,
    RealKey,
    RealServerView,
    ServiceKey,
    ServiceView,
    Snapshot,
)


def service(vip: str, port: int, *, quorum: bool = True, in_table: bool = True) -> ServiceView:
    rs = RealServerView(RealKey("192.0.2.10", port), LbKind.NAT, 1, 1, in_table=in_table)
    return ServiceView(
        ServiceKey(Protocol.TCP, vip, port), "mh", LbKind.NAT, quorum_up=quorum, real_servers=(rs,)
    )


def test_views_from_the_snapshot() -> None:
    snap = Snapshot(
        seq=1,
        time=0.0,
        services=(
            service("198.51.100.1", 80),
            service("198.51.100.1", 443, quorum=False),
            service("198.51.100.2", 80, in_table=False),
        ),
    )
    a, b, c = vip_views(snap, ["198.51.100.1", "198.51.100.2", "198.51.100.3"])
    assert [s.quorum for s in a.services] == [True, False] and a.served
    assert not b.served
    assert c.services == () and not c.served


def test_follow_announces_tracks_changes_and_withdraws_when_cancelled() -> None:
    snaps = [Snapshot(seq=1, time=0.0, services=(service("198.51.100.1", 80),))]
    ann = MemoryAnnouncer()

    async def run() -> None:
        task = asyncio.create_task(
            follow(lambda: snaps[-1], ann, lambda: ["198.51.100.1"], interval=0.01)
        )
        for _ in range(200):
            if ann.announced():
                break
            await asyncio.sleep(0.01)
        assert ann.announced() == {"198.51.100.1"}
        snaps.append(
            Snapshot(seq=2, time=1.0, services=(service("198.51.100.1", 80, quorum=False),))
        )
        for _ in range(200):
            if not ann.announced():
                break
            await asyncio.sleep(0.01)
        assert ann.announced() == frozenset()
        snaps.append(snaps[0])
        for _ in range(200):
            if ann.announced():
                break
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    assert ann.log == [
        ("announce", "198.51.100.1"),
        ("withdraw", "198.51.100.1"),
        ("announce", "198.51.100.1"),
        ("withdraw", "198.51.100.1"),
    ]
    assert ann.announced() == frozenset()
