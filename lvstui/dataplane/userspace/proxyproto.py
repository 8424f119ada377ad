"""PROXY protocol headers (v1 text, v2 binary) that tell a real server the client's address.

The userspace forwarder opens its own connection to the real server, so the server sees the
director's address (the source NAT the tutorial complains about). With `proxy_protocol = 1`
or `2` the forwarder writes this header first; nginx (`listen ... proxy_protocol`), HAProxy,
Postfix and others read it. Pure functions; the parser is used by tests and by anyone who
wants to check what a server receives.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from lvstui.netutil import is_ipv6

__all__ = ["V2_SIGNATURE", "ProxyHeader", "build", "build_v1", "build_v2", "parse"]

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    version: int
    protocol: str  # "TCP" or "UDP"
    src: tuple[str, int]
    dst: tuple[str, int]


def build_v1(src: tuple[str, int], dst: tuple[str, int]) -> bytes:
    fam = "TCP6" if is_ipv6(src[0]) else "TCP4"
    return f"PROXY {fam} {src[0]} {dst[0]} {src[1]} {dst[1]}\r\n".encode("ascii")


def build_v2(src: tuple[str, int], dst: tuple[str, int], *, udp: bool = False) -> bytes:
    if is_ipv6(src[0]):
        fam = 0x22 if udp else 0x21
        addrs = socket.inet_pton(socket.AF_INET6, src[0]) + socket.inet_pton(
            socket.AF_INET6, dst[0]
        )
    else:
        fam = 0x12 if udp else 0x11
        addrs = socket.inet_aton(src[0]) + socket.inet_aton(dst[0])
    body = addrs + struct.pack("!HH", src[1], dst[1])
    return V2_SIGNATURE + struct.pack("!BBH", 0x21, fam, len(body)) + body


def build(version: int, src: tuple[str, int], dst: tuple[str, int], *, udp: bool = False) -> bytes:
    if version == 1:
        if udp:
            raise ValueError("PROXY protocol v1 has no UDP form: use version 2")
        return build_v1(src, dst)
    if version == 2:
        return build_v2(src, dst, udp=udp)
    raise ValueError(f"PROXY protocol version must be 1 or 2, not {version}")


def parse(data: bytes) -> tuple[ProxyHeader, int]:
    """(header, bytes consumed). ValueError when `data` does not start with a whole header."""
    if data.startswith(V2_SIGNATURE):
        if len(data) < 16:
            raise ValueError("truncated PROXY v2 header")
        ver_cmd, fam, length = struct.unpack("!BBH", data[12:16])
        if ver_cmd != 0x21:
            raise ValueError(f"unsupported PROXY v2 version/command {ver_cmd:#x}")
        body = data[16 : 16 + length]
        if len(body) < length:
            raise ValueError("truncated PROXY v2 addresses")
        proto = "UDP" if fam & 0x0F == 2 else "TCP"
        if fam >> 4 == 1:
            src = socket.inet_ntoa(body[0:4])
            dst = socket.inet_ntoa(body[4:8])
            sport, dport = struct.unpack("!HH", body[8:12])
        elif fam >> 4 == 2:
            src = socket.inet_ntop(socket.AF_INET6, body[0:16])
            dst = socket.inet_ntop(socket.AF_INET6, body[16:32])
            sport, dport = struct.unpack("!HH", body[32:36])
        else:
            raise ValueError(f"unsupported PROXY v2 family {fam:#x}")
        return ProxyHeader(2, proto, (src, sport), (dst, dport)), 16 + length
    if data.startswith(b"PROXY "):
        end = data.find(b"\r\n")
        if end < 0:
            raise ValueError("truncated PROXY v1 header")
        parts = data[:end].decode("ascii").split(" ")
        if len(parts) != 6 or parts[1] not in ("TCP4", "TCP6"):
            raise ValueError(f"bad PROXY v1 header {data[:end]!r}")
        hdr = ProxyHeader(1, "TCP", (parts[2], int(parts[4])), (parts[3], int(parts[5])))
        return hdr, end + 2
    raise ValueError("no PROXY protocol header")
