from __future__ import annotations

from socket import AF_INET, AF_INET6

from lvstui.netutil import bracket_host, checksum, ip_family, is_ipv6, socket_family


def test_checksum_rfc1071_example() -> None:
    # RFC 1071 section 3's worked example: the sum of these words is 0xddf2
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert checksum(data) == 0xFFFF ^ 0xDDF2
    # a packet carrying its own checksum sums to zero
    assert checksum(data + checksum(data).to_bytes(2, "big")) == 0


def test_checksum_odd_length_pads_with_zero() -> None:
    assert checksum(b"\x12\x34\x56") == checksum(b"\x12\x34\x56\x00")
    assert checksum(b"") == 0xFFFF


def test_address_family_of_text() -> None:
    for text in ("192.0.2.1", "198.51.100.7/24 dev eth0", "0.0.0.0"):
        assert (ip_family(text), is_ipv6(text), socket_family(text)) == (4, False, AF_INET)
        assert bracket_host(text) == text
    for text in ("2001:db8::1", "fe80::1%eth0", "::", "2001:db8::/64 dev eth0"):
        assert (ip_family(text), is_ipv6(text), socket_family(text)) == (6, True, AF_INET6)
    assert bracket_host("2001:db8::1") == "[2001:db8::1]"
    assert bracket_host("relay.example.com") == "relay.example.com"
