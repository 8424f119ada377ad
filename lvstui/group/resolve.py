"""Group peers given by host name (`peers = ["lb2.example.net:7946"]`): resolved once, when
the daemon starts, to the address the dialer uses and `lvstui status` shows.

Once, not at every dial: a director must not depend on DNS to reach its peers during an
outage (the one time it matters most). A name that does not resolve stops the start with a
clear error; a name that resolves to several addresses takes the first the system's
resolver prefers (RFC 6724 order, /etc/gai.conf). A changed address needs a restart.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

from lvstui.group.channel import format_addr
from lvstui.netutil import name_and_port

__all__ = ["Lookup", "resolve_peers"]

# socket.getaddrinfo's shape (tests give a table instead of DNS)
Lookup = Callable[..., list[tuple[Any, ...]]]


def resolve_peers(
    peers: Sequence[str], lookup: Lookup | None = None
) -> tuple[list[str], list[str]]:
    """The peers with every name replaced by its address, and one line per name resolved
    (for the log). ValueError naming the peer when a name does not resolve."""
    out: list[str] = []
    said: list[str] = []
    for text in peers:
        named = name_and_port(text)
        if named is None:  # an address: as written (the config loader checked it)
            out.append(text)
            continue
        host, port = named
        try:
            found = (lookup or socket.getaddrinfo)(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except (OSError, UnicodeError) as e:
            raise ValueError(f"peer {text!r}: cannot resolve {host!r}: {e}") from None
        addrs = [str(sockaddr[0]) for family, *_, sockaddr in found if family in _FAMILIES]
        if not addrs:
            raise ValueError(f"peer {text!r}: {host!r} has no IPv4 or IPv6 address")
        out.append(format_addr(addrs[0], port))
        more = f" (of {', '.join(dict.fromkeys(addrs))})" if len(set(addrs)) > 1 else ""
        said.append(f"peer {text} is {out[-1]}{more}")
    return out, said


_FAMILIES = (socket.AF_INET, socket.AF_INET6)
