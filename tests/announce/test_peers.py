"""BGP peer state from the routing daemon (lvstui/announce/peers.py): the parsers on output
captured from BIRD 2.0.12 and FRR 8.4 in the lab (test_bgp_lab.py reads the live daemons),
and the readers' failures."""

from __future__ import annotations

import pytest

from lvstui.announce.peers import (
    BgpPeer,
    BirdPeers,
    FrrPeers,
    MemoryPeers,
    PeerError,
    parse_bird_protocols,
    parse_frr_summary,
)

BIRD_UP = """BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     07:47:53.479
lvstui_vips Kernel     lvstui4    up     07:47:53.479
uplink     BGP        ---        up     07:47:57.800  Established
"""

BIRD_DOWN = """BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     07:47:53.479
uplink     BGP        ---        start  07:48:00.111  Active   Received: Administrative shutdown
tor2       BGP        ---        start  2026-12-06 07:48:00  Connect
"""

FRR = """{
"ipv4Unicast":{
  "routerId":"192.0.2.12", "as":65012,
  "peers":{
    "192.0.2.1":{"remoteAs":65000, "peerUptime":"00:00:05", "pfxRcd":0, "pfxSnt":1,
                 "state":"Established", "peerState":"OK"},
    "192.0.2.2":{"remoteAs":65000, "peerUptime":"never", "pfxSnt":0, "state":"Idle"}
  }
},
"ipv6Unicast":{"peers":{"192.0.2.1":{"state":"Established", "pfxSnt":0}}}
}"""


def test_bird_rows_of_bgp_only_with_state_and_info() -> None:
    assert parse_bird_protocols(BIRD_UP) == [BgpPeer("uplink", "Established", "07:47:57.800")]
    down = parse_bird_protocols(BIRD_DOWN)
    assert down == [
        BgpPeer("uplink", "Active", "07:48:00.111", "Received: Administrative shutdown"),
        BgpPeer("tor2", "Connect", "2026-12-06 07:48:00"),
    ]
    assert not any(p.established for p in down)


def test_frr_peers_once_each_with_prefixes_sent() -> None:
    peers = parse_frr_summary(FRR)
    assert peers == [
        BgpPeer("192.0.2.1", "Established", "00:00:05", "", 1),
        BgpPeer("192.0.2.2", "Idle", "never", "", 0),
    ]
    assert [p.established for p in peers] == [True, False]


@pytest.mark.parametrize("text", ["not json", "[1, 2]"])
def test_frr_bad_output_is_a_peer_error(text: str) -> None:
    with pytest.raises(PeerError):
        parse_frr_summary(text)


def test_readers_say_why_when_the_daemon_cannot_be_asked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PeerError, match="BIRD"):
        BirdPeers(str(tmp_path / "no-such.ctl")).peers()
    with pytest.raises(PeerError, match="FRR"):
        FrrPeers(str(tmp_path)).peers()


def test_twin() -> None:
    twin = MemoryPeers([BgpPeer("uplink", "Established")])
    assert twin.peers()[0].established
    twin.error = "bird is not running"
    with pytest.raises(PeerError, match="not running"):
        twin.peers()


def test_the_reader_follows_the_config_across_reloads() -> None:
    """wiring.peer_readers: the same reader while daemon/daemon_socket stay (so the loop
    keeps its period), a new one for new settings, none for "none"."""
    from lvstui.config.load import load_config_text
    from lvstui.wiring import peer_readers

    def cfg(head: str) -> str:
        return f"[lvstui.announce]\n{head}\n"

    now = [load_config_text(cfg('daemon = "bird"'))]
    current = peer_readers(lambda: now[0])
    bird = current()
    assert isinstance(bird, BirdPeers) and current() is bird
    now[0] = load_config_text(cfg('daemon = "bird"\ndrain_settle = 3'))  # other keys: same
    assert current() is bird
    now[0] = load_config_text(cfg('daemon = "bird"\ndaemon_socket = "/run/b2.ctl"'))
    moved = current()
    assert isinstance(moved, BirdPeers) and moved is not bird
    assert "/run/b2.ctl" in moved._argv
    now[0] = load_config_text(cfg('daemon = "frr"'))
    frr = current()
    assert isinstance(frr, FrrPeers) and frr.daemon == "frr"
    now[0] = load_config_text(cfg('daemon = "none"'))
    assert current() is None
