"""ha_suspend: whether a virtual server's health checks pause because its VIP is elsewhere.

keepalived suspends the checks of a virtual server marked `ha_suspend` while its address is
not set on the director, i.e. while the VRRP instance that carries the VIP is not MASTER
here: the backup director does not hammer the real servers, and its checkers' view is
refreshed when it takes over. lvstui decides it from the VRRP instances (pure, below):

- suspended when `ha_suspend` is set, the service has an IP address, at least one VRRP
  instance carries that address (virtual_ipaddress or virtual_ipaddress_excluded), and none
  of the instances carrying it is MASTER;
- never suspended when no VRRP instance carries the address (it is managed outside lvstui,
  so presumably local), for firewall-mark services (no address), or without VRRP at all.

Suspended checks keep their last state (the real server keeps its health and weight).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from lvstui.model import VrrpRunState

__all__ = ["SUSPENDED_REASON", "Carrier", "ha_suspended", "same_address"]

SUSPENDED_REASON = "suspended (ha_suspend: VIP not local)"

# one VRRP instance as the decision sees it: its state and the addresses it carries
# ("198.51.100.9", "198.51.100.9/24", "fe80::1%eth0/64" are all accepted)
Carrier = tuple[VrrpRunState, Iterable[str]]


def _addr(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    host = text.strip().split("/", 1)[0].split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def same_address(a: str, b: str) -> bool:
    """Whether two address strings name one address (prefix and zone ignored)."""
    x, y = _addr(a), _addr(b)
    return x is not None and x == y


def ha_suspended(ha_suspend: bool, vip: str | None, carriers: Iterable[Carrier]) -> bool:
    """True when the checks of a service with address `vip` should be suspended."""
    if not ha_suspend or not vip:
        return False
    want = _addr(vip)
    if want is None:
        return False
    carried = False
    for state, vips in carriers:
        if any(_addr(v) == want for v in vips):
            if state is VrrpRunState.MASTER:
                return False
            carried = True
    return carried
