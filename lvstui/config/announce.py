"""The announcement settings of config.toml (issue 16, docs/bgp.md): how each VIP reaches the
network. `vrrp` (the default) moves the VIP between directors; `bgp` keeps it on every
director and announces a /32 (/128) route that the site's routing daemon (BIRD 2, FRR)
exports, for several active directors behind ECMP."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "DEFAULT_ANNOUNCE_DEVICE",
    "DEFAULT_ANNOUNCE_PROTOCOL",
    "DEFAULT_ANNOUNCE_TABLE",
    "DEFAULT_DRAIN_SETTLE",
    "AnnounceHandoff",
    "AnnounceMode",
    "AnnounceSettings",
    "RoutingDaemon",
]

# 245 is unassigned in iproute2's rt_protos (BIRD is 12, FRR uses 186-198), and table 245 is
# below the reserved 253-255; one number for both is easy to find in `ip route show`.
DEFAULT_ANNOUNCE_TABLE = 245
DEFAULT_ANNOUNCE_PROTOCOL = 245
DEFAULT_ANNOUNCE_DEVICE = "lvsannounce"
# `ctl drain-director` without --settle: seconds without a new connection before "safe"
DEFAULT_DRAIN_SETTLE = 10.0


class AnnounceMode(enum.Enum):
    VRRP = "vrrp"
    BGP = "bgp"


class RoutingDaemon(enum.Enum):
    """The routing daemon lvstui asks for the BGP sessions' state (announce/peers.py)."""

    NONE = "none"
    BIRD = "bird"
    FRR = "frr"


class AnnounceHandoff(enum.Enum):
    """How an announced VIP reaches the routing daemon (docs/bgp.md, "The handoff"); both go
    through the tun device lvstui owns, so both vanish when lvstui dies.

    ROUTE: a route VIP/32 in `table` (BIRD's `kernel` protocol reads it). ADDRESS: the VIP
    as an address on the device (FRR's `redistribute connected`): FRR 8.4's `ip import-table`
    keeps a route the kernel flushed with its device, but zebra does hear an address go."""

    ROUTE = "route"
    ADDRESS = "address"


@dataclass(frozen=True, slots=True)
class AnnounceSettings:
    """[lvstui.announce]."""

    mode: AnnounceMode = AnnounceMode.VRRP  # a virtual_server's, unless it says `announce`
    table: int = DEFAULT_ANNOUNCE_TABLE
    protocol: int = DEFAULT_ANNOUNCE_PROTOCOL
    device: str = DEFAULT_ANNOUNCE_DEVICE
    daemon: RoutingDaemon = RoutingDaemon.NONE  # whom to ask for the BGP peer state
    daemon_socket: str = ""  # birdc's control socket / vtysh's socket directory; "": default
    drain_settle: float = DEFAULT_DRAIN_SETTLE  # director drain's settle time (ctl --settle)
    # unset in the file: ADDRESS with daemon = "frr", ROUTE otherwise (read_announce)
    handoff: AnnounceHandoff = AnnounceHandoff.ROUTE
