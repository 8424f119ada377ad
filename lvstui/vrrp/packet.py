"""VRRP advertisements: VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798), IPv4 and IPv6.

Encode and decode are pure and total: any byte string either decodes to an `Advert` or
raises `PacketError` whose `reason` is one of the stable tokens in `REASONS` (they are
counter keys, shown in metrics and in the console).

Wire formats::

    v2:  ver|type  vrid  prio  count | auth_type  adv_int(s)  checksum
         count × IPv4 address, then 8 bytes of authentication data (always present)
    v3:  ver|type  vrid  prio  count | rsvd(4) max_adv_int(12, centiseconds)  checksum
         count × IPv4 or IPv6 address

The v2 checksum covers the VRRP message only; the v3 checksum also covers the IPv4/IPv6
pseudo-header (source, destination, protocol 112, length), so decoding v3 needs the
addresses the packet travelled with. A raw IPv4 socket hands us the IP header too:
`decode_ipv4_packet` parses it (TTL, addresses, protocol) before the advert.

PASS authentication (v2 only) is a plain-text password: anyone on the link can read it.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import dataclass

from lvstui.errors import PacketError
from lvstui.netutil import checksum

__all__ = [
    "IPPROTO_VRRP",
    "MCAST_V4",
    "MCAST_V6",
    "REASONS",
    "Advert",
    "AuthType",
    "Ipv4Header",
    "checksum",
    "decode",
    "decode_ipv4_packet",
    "encode",
    "encode_ipv4_packet",
    "parse_ipv4_header",
    "wrap_ipv4",
]

IPPROTO_VRRP = 112
MCAST_V4 = "224.0.0.18"
MCAST_V6 = "ff02::12"
ADVERT_TYPE = 1
AUTH_LEN = 8
HEADER_LEN = 8
MAX_V3_INTERVAL_CS = 0x0FFF  # 12 bits of centiseconds: 40.95 s

# Every reason a received byte string can be dropped for, at decode or at receive time.
REASONS = (
    "too_short",  # shorter than a header (IP or VRRP)
    "bad_ip_header",  # IPv4 header malformed (version, IHL, total length)
    "not_vrrp",  # IP protocol is not 112
    "bad_version",  # neither 2 nor 3, or v2 over IPv6
    "bad_type",  # not an ADVERTISEMENT
    "bad_vrid",  # VRID 0
    "addr_count",  # address count does not match the length
    "bad_length",  # trailing bytes after the advert
    "bad_interval",  # advert interval 0
    "bad_auth_type",  # v2 auth type other than 0/1 (AH is not supported)
    "bad_checksum",
    "bad_address",  # address bytes not valid (IPv4 multicast / v6 unspecified ...)
    # receive rules, checked by the state machine against the instance
    "ttl",  # TTL / hop limit ≠ 255
    "version_mismatch",
    "vrid_mismatch",  # another VRID on the same link: normal, counted, not logged
    "auth_type_mismatch",
    "bad_auth",  # wrong password
    "interval_mismatch",  # v2 only
    "addr_mismatch",  # VIP list differs from ours
    "own_advert",  # our own advert looped back
)


class AuthType(enum.IntEnum):
    NONE = 0
    PASS = 1
    AH = 2


@dataclass(frozen=True, slots=True)
class Advert:
    """One decoded advertisement. `advert_int` is in seconds (v3: multiple of 0.01)."""

    version: int
    vrid: int
    priority: int
    advert_int: float
    addrs: tuple[str, ...]
    family: int = 4
    auth_type: AuthType = AuthType.NONE
    auth_data: bytes = b""  # v2: the 8 raw bytes (PASS: password NUL-padded)


@dataclass(frozen=True, slots=True)
class Ipv4Header:
    src: str
    dst: str
    ttl: int
    proto: int
    ihl: int  # header length in bytes


def _pseudo_header(family: int, src: str, dst: str, length: int) -> bytes:
    s = ipaddress.ip_address(src).packed
    d = ipaddress.ip_address(dst).packed
    if family == 4:
        return s + d + struct.pack("!BBH", 0, IPPROTO_VRRP, length)
    return s + d + struct.pack("!I3xB", length, IPPROTO_VRRP)


def _pass_bytes(password: str | bytes) -> bytes:
    raw = password.encode() if isinstance(password, str) else password
    # keepalived truncates PASS to 8 bytes and pads with NULs
    return raw[:AUTH_LEN].ljust(AUTH_LEN, b"\0")


def encode(
    advert: Advert,
    *,
    src: str | None = None,
    dst: str | None = None,
    bad_checksum: bool = False,
) -> bytes:
    """Encode `advert`. v3 needs `src` and `dst` (pseudo-header). Raises ValueError on bad
    field values (that is a programming error, not a network one).

    `bad_checksum` flips the checksum: only the lab uses it, to show peers reject it."""
    v = advert.version
    fam = advert.family
    if v not in (2, 3) or (v == 2 and fam != 4):
        raise ValueError(f"cannot encode VRRPv{v} for IPv{fam}")
    if not 1 <= advert.vrid <= 255 or not 0 <= advert.priority <= 255:
        raise ValueError("vrid must be 1-255 and priority 0-255")
    if len(advert.addrs) > 255:
        raise ValueError("at most 255 addresses")
    addrs = b"".join(ipaddress.ip_address(a).packed for a in advert.addrs)
    if len(addrs) != len(advert.addrs) * (4 if fam == 4 else 16):
        raise ValueError("address family does not match the advert family")
    if v == 2:
        interval = round(advert.advert_int)
        if not 1 <= interval <= 255:
            raise ValueError("VRRPv2 advert_int must be 1-255 seconds")
        auth = (
            _pass_bytes(advert.auth_data)
            if advert.auth_type == AuthType.PASS
            else advert.auth_data[:AUTH_LEN].ljust(AUTH_LEN, b"\0")
        )
        head = struct.pack(
            "!BBBBBBH",
            (2 << 4) | ADVERT_TYPE,
            advert.vrid,
            advert.priority,
            len(advert.addrs),
            int(advert.auth_type),
            interval,
            0,
        )
        body = head + addrs + auth
        csum = checksum(body)
    else:
        if src is None or dst is None:
            raise ValueError("VRRPv3 needs src and dst for its checksum")
        cs = round(advert.advert_int * 100)
        if not 1 <= cs <= MAX_V3_INTERVAL_CS:
            raise ValueError("VRRPv3 advert_int must be 0.01-40.95 seconds")
        head = struct.pack(
            "!BBBBHH",
            (3 << 4) | ADVERT_TYPE,
            advert.vrid,
            advert.priority,
            len(advert.addrs),
            cs,
            0,
        )
        body = head + addrs
        csum = checksum(_pseudo_header(fam, src, dst, len(body)) + body)
    if bad_checksum:
        csum ^= 0x5A5A
    return body[:6] + struct.pack("!H", csum) + body[8:]


def decode(
    data: bytes, *, family: int = 4, src: str | None = None, dst: str | None = None
) -> Advert:
    """Decode one VRRP message (without IP header). v3 needs `src` and `dst`."""
    if len(data) < HEADER_LEN:
        raise PacketError("too_short", f"{len(data)} bytes, a VRRP header is {HEADER_LEN}")
    ver = data[0] >> 4
    if ver not in (2, 3) or (ver == 2 and family != 4):
        raise PacketError("bad_version", f"version {ver} over IPv{family}")
    if data[0] & 0x0F != ADVERT_TYPE:
        raise PacketError("bad_type", f"type {data[0] & 0x0F}")
    vrid, prio, count = data[1], data[2], data[3]
    if vrid == 0:
        raise PacketError("bad_vrid", "VRID 0")
    alen = 4 if family == 4 else 16
    expected = HEADER_LEN + count * alen + (AUTH_LEN if ver == 2 else 0)
    if len(data) < expected:
        raise PacketError("addr_count", f"{count} addresses need {expected} bytes, got {len(data)}")
    if len(data) > expected:
        raise PacketError("bad_length", f"{len(data) - expected} trailing bytes")
    if ver == 2:
        auth_type = data[4]
        interval = float(data[5])
        if checksum(data) != 0:
            raise PacketError("bad_checksum", "VRRPv2 checksum")
        if auth_type not in (AuthType.NONE, AuthType.PASS):
            raise PacketError("bad_auth_type", f"auth type {auth_type} not supported")
        auth = AuthType(auth_type)
        auth_data = bytes(data[expected - AUTH_LEN : expected])
    else:
        cs = struct.unpack_from("!H", data, 4)[0] & MAX_V3_INTERVAL_CS
        interval = cs / 100
        if src is None or dst is None:
            raise PacketError("bad_checksum", "VRRPv3 checksum needs the IP addresses")
        try:
            pseudo = _pseudo_header(family, src, dst, len(data))
        except ValueError as exc:
            raise PacketError("bad_address", f"pseudo-header: {exc}") from None
        if len(pseudo) != (12 if family == 4 else 40) or checksum(pseudo + data) != 0:
            raise PacketError("bad_checksum", "VRRPv3 checksum (with pseudo-header)")
        auth = AuthType.NONE
        auth_data = b""
    if interval == 0:
        raise PacketError("bad_interval", "advert interval 0")
    raw = data[HEADER_LEN : HEADER_LEN + count * alen]
    addrs = tuple(
        str(ipaddress.ip_address(bytes(raw[i : i + alen]))) for i in range(0, len(raw), alen)
    )
    return Advert(ver, vrid, prio, interval, addrs, family, auth, auth_data)


def parse_ipv4_header(data: bytes) -> tuple[Ipv4Header, bytes]:
    """Split a raw IPv4 datagram into its header and payload."""
    if len(data) < 20:
        raise PacketError("too_short", f"{len(data)} bytes, an IPv4 header is 20")
    if data[0] >> 4 != 4:
        raise PacketError("bad_ip_header", f"IP version {data[0] >> 4}")
    ihl = (data[0] & 0x0F) * 4
    total = struct.unpack_from("!H", data, 2)[0]
    if ihl < 20 or len(data) < ihl:
        raise PacketError("bad_ip_header", f"IHL {ihl}")
    # Linux raw sockets hand the datagram as received; trust the shorter of both lengths
    # but never read past the buffer.
    end = min(len(data), total) if total >= ihl else len(data)
    hdr = Ipv4Header(
        src=str(ipaddress.IPv4Address(bytes(data[12:16]))),
        dst=str(ipaddress.IPv4Address(bytes(data[16:20]))),
        ttl=data[8],
        proto=data[9],
        ihl=ihl,
    )
    return hdr, bytes(data[ihl:end])


def decode_ipv4_packet(data: bytes) -> tuple[Ipv4Header, Advert]:
    """Decode a raw IPv4 datagram carrying VRRP (what an IPv4 raw socket returns)."""
    hdr, payload = parse_ipv4_header(data)
    if hdr.proto != IPPROTO_VRRP:
        raise PacketError("not_vrrp", f"IP protocol {hdr.proto}")
    return hdr, decode(payload, family=4, src=hdr.src, dst=hdr.dst)


def wrap_ipv4(payload: bytes, *, src: str, dst: str, ttl: int = 255) -> bytes:
    """Prepend a 20-byte IPv4 header (protocol 112) to a VRRP payload."""
    head = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0xC0,
        20 + len(payload),
        0,
        0,
        ttl,
        IPPROTO_VRRP,
        0,
        ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address(dst).packed,
    )
    return head[:10] + struct.pack("!H", checksum(head)) + head[12:] + payload


def encode_ipv4_packet(
    advert: Advert, *, src: str, dst: str, ttl: int = 255, bad_checksum: bool = False
) -> bytes:
    """A whole IPv4 datagram (20-byte header + advert): for tests and IP_HDRINCL crafting."""
    payload = encode(advert, src=src, dst=dst, bad_checksum=bad_checksum)
    return wrap_ipv4(payload, src=src, dst=dst, ttl=ttl)
