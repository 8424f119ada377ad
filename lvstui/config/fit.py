"""Whether a real or sorry server fits its virtual server: address family and port.

One place for the rules, used by the config loader (real_server and sorry_server blocks)
and by the engine for `ctl add`, so a server the loader refuses cannot come in through the
control socket either (issue 10, item 6: `ctl add VIP RS:0` on the userspace dataplane
failed one request in N; a `::1` sorry server on an IPv4 service reset every client).

Each function returns "" when the server fits, else the reason, worded for an error.
"""

from __future__ import annotations

from lvstui.model import LbKind
from lvstui.netutil import ip_family

__all__ = ["family_problem", "port_problem"]


def family_problem(service_family: int, ip: str, kind: LbKind, what: str = "real server") -> str:
    """The kernel takes a server of the other family only when tunnelling (IPv4 in IPv6
    and back); with NAT or DR the packet cannot be rewritten across families."""
    fam = ip_family(ip)
    if fam == service_family or kind is LbKind.TUN:
        return ""
    return (
        f"an IPv{fam} {what} ({ip}) in an IPv{service_family} service needs TUN "
        f"forwarding, not {kind.value}"
    )


def port_problem(
    service_port: int, fwmark: bool, kind: LbKind, port: int, what: str = "real server"
) -> str:
    """Port 0 means "the packet's port": right for fwmark and all-ports (port 0) services,
    where there is a packet's port to keep, and for nothing else (a connection to port 0
    fails). DR and TUN cannot change the port at all."""
    if fwmark or service_port == 0:
        return ""
    if port == 0:
        return f"a {what} on port 0 in a service on port {service_port}: nothing would answer there"
    if kind in (LbKind.DR, LbKind.TUN) and port != service_port:
        return (
            f"{kind.value} cannot change the port: the virtual server is on port "
            f"{service_port}, the {what} on {port}"
        )
    return ""
