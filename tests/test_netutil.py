from __future__ import annotations

from lvstui.netutil import checksum


def test_checksum_rfc1071_example() -> None:
    # RFC 1071 section 3's worked example: the sum of these words is 0xddf2
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert checksum(data) == 0xFFFF ^ 0xDDF2
    # a packet carrying its own checksum sums to zero
    assert checksum(data + checksum(data).to_bytes(2, "big")) == 0


def test_checksum_odd_length_pads_with_zero() -> None:
    assert checksum(b"\x12\x34\x56") == checksum(b"\x12\x34\x56\x00")
    assert checksum(b"") == 0xFFFF
