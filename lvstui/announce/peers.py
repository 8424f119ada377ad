"""BGP peer state, read from the routing daemon that carries the announcements: BIRD 2
(`birdc -r show protocols`) or FRR (`vtysh -c 'show bgp summary json'`). lvstui speaks no BGP;
what the operator wants to see — is the session to the router up, does it carry our
routes — is the daemon's to say, so it is read from there, never guessed.

The parsers are pure (tested on the daemons' real output in tests/announce); the readers
run the daemon's own client with a timeout and turn every failure into PeerError; the
twin (MemoryPeers) stands in for both."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from lvstui.errors import LvstuiError

__all__ = [
    "BgpPeer",
    "BirdPeers",
    "FrrPeers",
    "MemoryPeers",
    "PeerError",
    "PeerReader",
    "parse_bird_protocols",
    "parse_frr_summary",
]

TIMEOUT_S = 3.0


class PeerError(LvstuiError):
    """The routing daemon could not be asked (not running, no access, bad output)."""


@dataclass(frozen=True, slots=True)
class BgpPeer:
    name: str  # BIRD: the protocol's name; FRR: the neighbor's address
    state: str  # the daemon's word: Established, Active, Connect, Idle, OpenSent, ...
    since: str = ""  # as the daemon prints it (BIRD: a time; FRR: the session's uptime)
    info: str = ""  # BIRD's info column beyond the state ("Socket: Connection refused")
    prefixes_sent: int | None = None  # FRR: routes announced to it (BIRD: not in this view)

    @property
    def established(self) -> bool:
        return self.state == "Established"


class PeerReader(Protocol):
    @property
    def daemon(self) -> str:
        """Which daemon is asked ("bird", "frr"), for status."""

    def peers(self) -> list[BgpPeer]:
        """Every BGP session of the daemon; PeerError when it cannot be read."""


def parse_bird_protocols(text: str) -> list[BgpPeer]:
    """`birdc show protocols`: the rows of protocol BGP. Columns: name, proto, table, state,
    since (date and/or time), info; a BGP row's info starts with the session state."""
    out = []
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 5 or cols[1] != "BGP":
            continue
        # since is one or two words (time, or date and time): the info starts after it
        rest = cols[4:]
        since = rest.pop(0)
        if rest and ":" in rest[0] and since.count("-") == 2:
            since += " " + rest.pop(0)
        state = rest[0] if rest else cols[3]
        out.append(BgpPeer(cols[0], state, since, " ".join(rest[1:])))
    return out


def parse_frr_summary(text: str) -> list[BgpPeer]:
    """`vtysh -c 'show bgp summary json'`: the peers of every address family, once each."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise PeerError(f"FRR's summary is not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise PeerError("FRR's summary is not a JSON object")
    seen: dict[str, BgpPeer] = {}
    for family in doc.values():
        peers = family.get("peers", {}) if isinstance(family, dict) else {}
        if not isinstance(peers, dict):
            continue
        for addr, p in sorted(peers.items()):
            if addr in seen or not isinstance(p, dict):
                continue
            sent = p.get("pfxSnt")
            seen[addr] = BgpPeer(
                str(addr),
                str(p.get("state", "?")),
                str(p.get("peerUptime", "")),
                "",
                sent if isinstance(sent, int) else None,
            )
    return list(seen.values())


def _run(argv: Sequence[str], what: str) -> str:
    try:
        p = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PeerError(f"cannot ask {what}: {e}") from e
    if p.returncode != 0:
        raise PeerError(f"{what} said: {(p.stderr or p.stdout).strip()[:200]}")
    return p.stdout


class BirdPeers:
    """BIRD 2 through `birdc -r` (restricted: read-only commands), on its default control
    socket or `socket`."""

    daemon = "bird"

    def __init__(self, socket: str = "") -> None:
        self._argv = ["birdc", "-r", *(["-s", socket] if socket else []), "show", "protocols"]

    def peers(self) -> list[BgpPeer]:
        return parse_bird_protocols(_run(self._argv, "BIRD (birdc)"))


class FrrPeers:
    """FRR through vtysh, on its default vty sockets or those in `vty_socket` (a directory)."""

    daemon = "frr"

    def __init__(self, vty_socket: str = "") -> None:
        extra = ["--vty_socket", vty_socket] if vty_socket else []
        self._argv = ["vtysh", *extra, "-c", "show bgp summary json"]

    def peers(self) -> list[BgpPeer]:
        return parse_frr_summary(_run(self._argv, "FRR (vtysh)"))


class MemoryPeers:
    """The twin: returns what it was given, or raises the error it was given."""

    def __init__(self, peers: Sequence[BgpPeer] = (), error: str = "", daemon: str = "") -> None:
        self.current = list(peers)
        self.error = error
        self.daemon = daemon or "memory"

    def peers(self) -> list[BgpPeer]:
        if self.error:
            raise PeerError(self.error)
        return list(self.current)
