"""Small network primitives shared across lvstui: the Internet checksum and the address family
of an address's text. One definition each, so VRRP, the ICMP checker, the config checks and
the dataplanes cannot disagree."""

from __future__ import annotations

import socket
import struct

__all__ = ["bracket_host", "checksum", "ip_family", "is_ipv6", "socket_family"]


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
