"""Random and mutated adverts for the decoder and the state machine (shared by the test
suite's bounded run and `bench/vrrp_fuzz.py`'s million)."""

from __future__ import annotations

import random
import struct
from collections import Counter

from lvstui.errors import PacketError
from lvstui.model import VrrpRunState as S
from lvstui.vrrp import fsm
from lvstui.vrrp.packet import (
    MCAST_V4,
    MCAST_V6,
    Advert,
    AuthType,
    checksum,
    decode,
    decode_ipv4_packet,
    encode,
    wrap_ipv4,
)

ME = "198.51.100.13"
PEER = "198.51.100.11"
VIPS = ("198.51.100.9",)
PARAMS = (
    fsm.FsmParams(vrid=51, version=3, advert_int=0.1, vips=VIPS, primary_addr=ME),
    fsm.FsmParams(
        vrid=51,
        version=2,
        advert_int=1.0,
        vips=VIPS,
        primary_addr=ME,
        auth_type=AuthType.PASS,
        auth_pass=b"1111\0\0\0\0",
    ),
)
STATES = tuple(
    fsm.FsmState(state=s, priority=100, master_adver_int=0.1, down_at=1e9, advert_at=1e9)
    for s in (S.BACKUP, S.MASTER, S.FAULT, S.INIT)
)


def _valid(rng: random.Random) -> tuple[bytes, int]:
    """A valid advert (payload, family), near the lab's values so it reaches the FSM."""
    fam = 6 if rng.random() < 0.2 else 4
    ver = 3 if fam == 6 or rng.random() < 0.6 else 2
    n = rng.choice((0, 1, 1, 1, 2, 20))
    if fam == 4:
        addrs = (
            VIPS
            if n == 1 and rng.random() < 0.7
            else tuple(f"198.51.100.{rng.randrange(256)}" for _ in range(n))
        )
    else:
        addrs = tuple(f"2001:db8::{rng.randrange(65536):x}" for _ in range(n))
    prio = rng.choice((0, 1, 100, 150, 254, 255, rng.randrange(256)))
    vrid = 51 if rng.random() < 0.8 else rng.randrange(1, 256)
    if ver == 2:
        auth = AuthType.PASS if rng.random() < 0.7 else AuthType.NONE
        pw = b"1111" if rng.random() < 0.7 else rng.randbytes(8)
        adv = Advert(2, vrid, prio, float(rng.choice((1, 1, 2, 255))), addrs, 4, auth, pw)
        return encode(adv), 4
    intv = rng.choice((0.1, 0.1, 1.0, 40.95, 0.01))
    src, dst = (PEER, MCAST_V4) if fam == 4 else ("fe80::1", MCAST_V6)
    return encode(Advert(3, vrid, prio, intv, addrs, fam), src=src, dst=dst), fam


def _fix_v2_sum(b: bytearray) -> None:
    if len(b) >= 8:
        b[6:8] = b"\0\0"
        b[6:8] = struct.pack("!H", checksum(bytes(b)))


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 8))):
        op = rng.randrange(6)
        if op == 0 and b:
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 2:
            del b[rng.randrange(len(b) + 1) :]
        elif op == 3:
            b += rng.randbytes(rng.randrange(1, 24))
        elif op == 4 and len(b) > 3:
            b[3] = rng.randrange(256)  # address count
        else:
            b[:1] = bytes([rng.randrange(256)])
    if rng.random() < 0.5:
        _fix_v2_sum(b)  # so mutated v2 adverts get past the checksum to deeper checks
    return bytes(b)


def one(rng: random.Random, counts: Counter[str]) -> None:
    """Generate one case, run it through decode (+ FSM), count the outcome."""
    r = rng.random()
    if r < 0.15:
        data, fam = rng.randbytes(rng.randrange(0, 80)), 4
    else:
        data, fam = _valid(rng)
        if r < 0.75:
            data = mutate(rng, data)
    ttl = 255 if rng.random() < 0.9 else rng.randrange(256)
    try:
        if fam == 4:
            if rng.random() < 0.1:
                raw = mutate(rng, wrap_ipv4(data, src=PEER, dst=MCAST_V4, ttl=ttl))
            else:
                raw = wrap_ipv4(data, src=PEER, dst=MCAST_V4, ttl=ttl)
            hdr, adv = decode_ipv4_packet(raw)
            src, ttl = hdr.src, hdr.ttl
        else:
            adv = decode(data, family=6, src="fe80::1", dst=MCAST_V6)
            src = "fe80::1"
    except PacketError as exc:
        counts[exc.reason] += 1
        return
    p = PARAMS[0] if adv.version == 3 or rng.random() < 0.3 else PARAMS[1]
    st = rng.choice(STATES)
    new, acts = fsm.step(p, st, fsm.AdvertIn(adv, src, ttl), 1000.0)
    assert new.state in S
    drops = [a for a in acts if isinstance(a, fsm.Drop)]
    if drops:
        assert new == st and len(acts) == 1
        counts[drops[0].reason] += 1
    else:
        counts["accepted"] += 1


def run(n: int, seed: int = 0) -> Counter[str]:
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    for _ in range(n):
        one(rng, counts)
    return counts
