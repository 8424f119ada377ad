"""VRRP packet encode/decode: round trips, checksums, and every decode error reason."""

from __future__ import annotations

import struct

import pytest

from lvstui.errors import PacketError
from lvstui.vrrp.packet import (
    MCAST_V4,
    MCAST_V6,
    REASONS,
    Advert,
    AuthType,
    checksum,
    decode,
    decode_ipv4_packet,
    encode,
    encode_ipv4_packet,
    parse_ipv4_header,
)

SRC4, SRC6 = "198.51.100.13", "fe80::1"
V2 = Advert(2, 51, 100, 1.0, ("198.51.100.9",), 4, AuthType.PASS, b"1111")
V3 = Advert(3, 51, 150, 0.1, ("198.51.100.9", "198.51.100.10"), 4)
V3_6 = Advert(3, 7, 200, 1.0, ("2001:db8::9",), 6)


def reason(fn, *a, **kw) -> str:
    with pytest.raises(PacketError) as ei:
        fn(*a, **kw)
    assert ei.value.reason in REASONS
    return ei.value.reason


def test_v2_pass_round_trip_and_wire_layout() -> None:
    raw = encode(V2)
    assert len(raw) == 8 + 4 + 8
    assert raw[0] == 0x21 and raw[1] == 51 and raw[2] == 100 and raw[3] == 1
    assert raw[4] == 1 and raw[5] == 1  # PASS, 1 s
    assert raw[-8:] == b"1111\0\0\0\0"  # the password travels in clear, NUL padded
    assert checksum(raw) == 0
    got = decode(raw)
    assert got.priority == 100 and got.addrs == V2.addrs and got.auth_data == b"1111\0\0\0\0"


def test_v3_ipv4_checksum_covers_pseudo_header() -> None:
    raw = encode(V3, src=SRC4, dst=MCAST_V4)
    assert raw[0] == 0x31
    assert struct.unpack("!H", raw[4:6])[0] == 10  # centiseconds
    assert decode(raw, src=SRC4, dst=MCAST_V4) == V3
    # the same bytes from another source fail: the pseudo-header is part of the sum
    assert reason(decode, raw, src="198.51.100.14", dst=MCAST_V4) == "bad_checksum"
    # a checksum over the VRRP message alone (an old bug of some peers) is refused
    body = raw[:6] + b"\0\0" + raw[8:]
    plain = body[:6] + struct.pack("!H", checksum(body)) + body[8:]
    assert reason(decode, plain, src=SRC4, dst=MCAST_V4) == "bad_checksum"


def test_v3_ipv6_round_trip() -> None:
    raw = encode(V3_6, src=SRC6, dst=MCAST_V6)
    assert len(raw) == 8 + 16
    assert decode(raw, family=6, src=SRC6, dst=MCAST_V6) == V3_6
    assert reason(decode, raw, family=6, src="fe80::2", dst=MCAST_V6) == "bad_checksum"


def test_ipv4_packet_header_gives_ttl_and_addresses() -> None:
    pkt = encode_ipv4_packet(V3, src=SRC4, dst=MCAST_V4, ttl=254)
    hdr, adv = decode_ipv4_packet(pkt)
    assert (hdr.src, hdr.dst, hdr.ttl, hdr.proto) == (SRC4, MCAST_V4, 254, 112)
    assert adv == V3
    assert reason(decode_ipv4_packet, pkt[:10]) == "too_short"
    assert reason(decode_ipv4_packet, b"\x65" + pkt[1:]) == "bad_ip_header"
    assert reason(decode_ipv4_packet, pkt[:9] + b"\x06" + pkt[10:]) == "not_vrrp"
    _hdr2, payload = parse_ipv4_header(pkt + b"padding")  # Ethernet padding is cut off
    assert payload == pkt[20:]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda b: b[:7], "too_short"),
        (lambda b: bytes([0x41]) + b[1:], "bad_version"),
        (lambda b: bytes([0x22]) + b[1:], "bad_type"),
        (lambda b: b[:1] + b"\0" + b[2:], "bad_vrid"),
        (lambda b: b[:3] + b"\x05" + b[4:], "addr_count"),
        (lambda b: b + b"\0\0\0\0", "bad_length"),
        (lambda b: b[:4] + b"\x02" + b[5:], "bad_checksum"),  # auth type changed, sum stale
        (lambda b: b[:6] + bytes([b[6] ^ 1]) + b[7:], "bad_checksum"),
    ],
)
def test_v2_decode_errors(mutate, expected) -> None:
    assert reason(decode, mutate(encode(V2))) == expected


def test_v2_unsupported_auth_and_zero_interval() -> None:
    def with_sum(b: bytes) -> bytes:
        z = b[:6] + b"\0\0" + b[8:]
        return z[:6] + struct.pack("!H", checksum(z)) + z[8:]

    raw = encode(V2)
    assert reason(decode, with_sum(raw[:4] + b"\x02" + raw[5:])) == "bad_auth_type"
    assert reason(decode, with_sum(raw[:5] + b"\x00" + raw[6:])) == "bad_interval"
    assert reason(decode, raw, family=6) == "bad_version"  # v2 is IPv4 only


def test_encode_refuses_impossible_values() -> None:
    with pytest.raises(ValueError):
        encode(Advert(2, 1, 1, 0.5, (), 4))  # v2 intervals are whole seconds
    with pytest.raises(ValueError):
        encode(Advert(3, 1, 1, 41.0, (), 4), src=SRC4, dst=MCAST_V4)
    with pytest.raises(ValueError):
        encode(V3)  # v3 needs the addresses for its checksum
    with pytest.raises(ValueError):
        encode(Advert(2, 1, 1, 1.0, ("2001:db8::1",), 4))


def test_bad_checksum_flag_for_the_lab() -> None:
    raw = encode(V3, src=SRC4, dst=MCAST_V4, bad_checksum=True)
    assert reason(decode, raw, src=SRC4, dst=MCAST_V4) == "bad_checksum"
