"""Decoder and state machine under random input: never a crash, every drop has a reason.

`bench/vrrp_fuzz.py` runs the same generator for a million cases."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lvstui.errors import PacketError
from lvstui.model import VrrpRunState as S
from lvstui.vrrp import fsm
from lvstui.vrrp.packet import MCAST_V4, REASONS, Advert, decode, decode_ipv4_packet, encode
from tests.vrrp.fuzzcore import PARAMS, PEER, STATES, run


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=128), st.sampled_from([4, 6]))
def test_decode_is_total(data: bytes, family: int) -> None:
    try:
        decode(
            data,
            family=family,
            src=PEER if family == 4 else "fe80::1",
            dst=MCAST_V4 if family == 4 else "ff02::12",
        )
    except PacketError as exc:
        assert exc.reason in REASONS
    try:
        decode_ipv4_packet(data)
    except PacketError as exc:
        assert exc.reason in REASONS


@settings(max_examples=300, deadline=None)
@given(
    version=st.sampled_from([2, 3]),
    vrid=st.integers(1, 255),
    prio=st.integers(0, 255),
    n=st.integers(0, 30),
    intv=st.integers(1, 255),
    cs=st.integers(1, 4095),
)
def test_round_trip(version: int, vrid: int, prio: int, n: int, intv: int, cs: int) -> None:
    addrs = tuple(f"198.51.100.{i}" for i in range(n))
    auth = b"\0" * 8 if version == 2 else b""  # v2 always carries 8 bytes of auth data
    adv = Advert(
        version, vrid, prio, float(intv) if version == 2 else cs / 100, addrs, 4, auth_data=auth
    )
    assert decode(encode(adv, src=PEER, dst=MCAST_V4), src=PEER, dst=MCAST_V4) == adv


@settings(max_examples=300, deadline=None)
@given(
    prio=st.integers(0, 255),
    vrid=st.integers(1, 255),
    ttl=st.integers(0, 255),
    src=st.sampled_from(["198.51.100.11", "198.51.100.13", "198.51.100.200"]),
    state=st.sampled_from(STATES),
    pi=st.sampled_from([0, 1]),
)
def test_fsm_never_breaks_invariants(prio, vrid, ttl, src, state, pi) -> None:
    p = PARAMS[pi]
    adv = Advert(p.version, vrid, prio, p.advert_int, p.vips, 4)
    new, acts = fsm.step(p, state, fsm.AdvertIn(adv, src, ttl), 1000.0)
    assert new.state in S
    if new.state == S.MASTER:
        assert new.advert_at is not None
    if new.state == S.BACKUP:
        assert new.down_at is not None
    if ttl != 255:
        assert [type(a) for a in acts] == [fsm.Drop]


def test_twenty_thousand_mutated_adverts() -> None:
    counts = run(20_000, seed=5)
    assert sum(counts.values()) == 20_000
    assert set(counts) - {"accepted"} <= set(REASONS)
    # the generator reaches every layer: decode errors, receive rules and acceptance
    for reason in ("too_short", "bad_checksum", "addr_count", "ttl", "bad_auth", "vrid_mismatch"):
        assert counts[reason] > 0, reason
    assert counts["accepted"] > 500
