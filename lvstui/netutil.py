"""Small network primitives shared across lvstui: the Internet checksum and the address family
of an address's text. One definition each, so VRRP, the ICMP checker, the config checks and
the dataplanes cannot disagree."""

from __future__ import annotations

import re
import socket
import struct

__all__ = [
    "bracket_host",
    "checksum",
    "ip_family",
    "is_hostname",
    "is_ipv6",
    "name_and_port",
    "socket_family",
]

# RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens, 63 bytes a
# label, 253 in all (a trailing dot: fully qualified)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`: the ones' complement of the ones'
    complement sum of its 16-bit big-endian words (an odd length is padded with a zero)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


# The address family of an IP address's text. IPv6 text always has a colon and IPv4 text
# never has one, so no parsing is needed, and a zone (`%eth0`), a prefix (`/64`) or the
# options after a VIP (`dev eth0`) do not change the answer. One definition, so a check
# that needs the family and the code that programs the kernel cannot disagree.


def is_ipv6(addr: str) -> bool:
    return ":" in addr


def ip_family(addr: str) -> int:
    """4 or 6."""
    return 6 if is_ipv6(addr) else 4


def socket_family(addr: str) -> socket.AddressFamily:
    """socket.AF_INET or socket.AF_INET6."""
    return socket.AF_INET6 if is_ipv6(addr) else socket.AF_INET


def bracket_host(host: str) -> str:
    """A host for `host:port` text: an IPv6 address in brackets (RFC 3986), others as is."""
    return f"[{host}]" if is_ipv6(host) else host


def is_hostname(text: str) -> bool:
    """A syntactically valid DNS host name (not an IP literal: all-digit names are refused,
    so "198.51.100" cannot pass for a name)."""
    return bool(_HOSTNAME.fullmatch(text)) and not text.rstrip(".").replace(".", "").isdigit()


def name_and_port(text: str) -> tuple[str, int] | None:
    """ "NAME:PORT" (a host name, a port 1-65535) → (name, port); None for anything else (an
    IP literal's "ADDR:PORT" included)."""
    host, sep, port = text.rpartition(":")
    if sep and is_hostname(host) and port.isdigit() and 0 < int(port) < 65536:
        return host, int(port)
    return None
