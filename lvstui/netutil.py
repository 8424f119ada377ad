"""Small network primitives shared by the packet builders and the address handling: one
definition each, so VRRP, the ICMP checker and the rest cannot disagree."""

from __future__ import annotations

import struct

__all__ = ["checksum"]


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`: the ones' complement of the ones'
    complement sum of its 16-bit big-endian words (an odd length is padded with a zero)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
