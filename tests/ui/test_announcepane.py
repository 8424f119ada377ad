"""The console's BGP pane: hidden while no VIP is in bgp mode, then each VIP announced or
withdrawn with its reason and the routing daemon's sessions, as the snapshot says."""

from __future__ import annotations

from lvstui.model import AnnounceView, BgpPeerView, VipAnnounceView
from lvstui.ui.announcepane import AnnouncePanel, announce_lines
from lvstui.ui.fake import FakeClient
from tests.ui.conftest import running

VIEW = AnnounceView(
    vips=(
        VipAnnounceView("198.51.100.10", True, "announced"),
        VipAnnounceView("198.51.100.11", False, "a service has no quorum: TCP 198.51.100.11:80"),
    ),
    daemon="bird",
    peers=(BgpPeerView("uplink", "Established", "10:02:11"), BgpPeerView("spare", "Active")),
)


def test_lines_say_each_vip_and_each_peer() -> None:
    assert announce_lines(VIEW) == [
        "▲ 198.51.100.10 announced",
        "▼ 198.51.100.11 withdrawn: a service has no quorum: TCP 198.51.100.11:80",
        "peer uplink Established since 10:02:11",
        "peer spare Active",
    ]
    frr = AnnounceView(
        vips=(), daemon="frr", peers=(BgpPeerView("192.0.2.1", "Established", "", "", 2),)
    )
    assert announce_lines(frr) == ["no VIP in bgp mode", "peer 192.0.2.1 Established, 2 sent"]
    broken = AnnounceView(vips=VIEW.vips[:1], daemon="bird", peers_error="cannot ask BIRD")
    assert announce_lines(broken)[1:] == ["peers: cannot ask BIRD"]
    assert announce_lines(AnnounceView(vips=VIEW.vips[:1]))[1:] == ["peers: not asked"]


async def test_the_pane_appears_with_bgp_vips_and_follows_the_snapshot() -> None:
    client = FakeClient(2, 2)
    async with running(client) as (app, pilot):
        pane = app.main.query_one(AnnouncePanel)
        assert not pane.display  # no bgp VIP: the quorum panel keeps the room
        client.announce = VIEW
        await app.poll_once()
        await pilot.pause()
        assert pane.display and pane.border_title == "BGP"
        assert "▼ 198.51.100.11 withdrawn: a service has no quorum" in str(pane.render())
        client.announce = None  # a reload left no VIP in bgp mode
        await app.poll_once()
        await pilot.pause()
        assert not pane.display
