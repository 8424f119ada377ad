"""Userspace schedulers against sequences computed by hand from the kernel's algorithms."""

from __future__ import annotations

from collections import Counter

import pytest

from lvstui.dataplane.userspace.sched import (
    RealServer,
    Scheduler,
    addr_fold,
    hash_32,
    make_scheduler,
)


class Svc:
    """A service's kernel-ordered list: new real servers go to the head, like IPVS."""

    def __init__(self, sched: str, *weights: int, flags: frozenset[str] = frozenset()) -> None:
        self.dests: list[RealServer] = []
        self.s: Scheduler = make_scheduler(sched, self.dests, flags)
        self.by_name: dict[str, RealServer] = {}
        for i, w in enumerate(weights):
            self.add("ABCDEFGH"[i], w)

    def add(self, name: str, weight: int) -> RealServer:
        d = RealServer(f"10.1.0.{len(self.by_name) + 1}", 80, weight)
        self.by_name[name] = d
        self.dests.insert(0, d)
        self.s.add_dest(d)
        return d

    def delete(self, name: str) -> None:
        d = self.by_name.pop(name)
        i = self.dests.index(d)
        del self.dests[i]
        self.s.del_dest(d, i)

    def weight(self, name: str, w: int) -> None:
        self.by_name[name].set_weight(w)
        self.s.upd_dest(self.by_name[name])

    def name(self, d: RealServer | None) -> str:
        if d is None:
            return "-"
        return next(n for n, x in self.by_name.items() if x is d)

    def run(self, n: int, *, hold: bool = False, client: str = "0.0.0.0") -> str:
        out = []
        for _ in range(n):
            d = self.s.schedule(addr_fold(client), 0)
            out.append(self.name(d))
            if hold and d is not None:
                d.active += 1
        return "".join(out)


# Added A, B, C: the kernel's list is C, B, A (list_add_rcu at the head).
def test_rr_walks_kernel_order() -> None:
    assert Svc("rr", 1, 1, 1).run(7) == "CBACBAC"


def test_rr_skips_weight_zero_and_keeps_cursor() -> None:
    s = Svc("rr", 1, 0, 1)
    assert s.run(4) == "CACA"
    s.weight("B", 1)
    assert s.run(3) == "CBA"  # cursor was on A (end): wraps to C, then B
    s.add("D", 1)  # head: D C B A; cursor stays on A
    assert s.run(4) == "DCBA"
    s.run(2)  # D, C
    s.delete("C")  # cursor steps back to D
    assert s.run(3) == "BAD"


def test_rr_all_drained() -> None:
    assert Svc("rr", 0, 0).run(2) == "--"


def test_wrr_gcd_max_weight_stepping() -> None:
    # weights A1 B2 C3, list C B A. Adding them one by one leaves cw at 1 (each add keeps
    # cw when 0 < cw <= mw), so the first pass is C B A; then cw 3: C; cw 2: C B; cw 1: C B A
    assert Svc("wrr", 1, 2, 3).run(15) == "CBA" + "CCBCBA" * 2


def test_wrr_gcd_step() -> None:
    # A4 B2 (list B A): di 2, mw = 4 - (2 - 1) = 3; after the adds cw = (1 // 2) * 2 + 1 = 1.
    # cw 1: B A; cw 3: A; cw 1: B A (stop set at A on the last pass) ...
    assert Svc("wrr", 4, 2).run(9) == "BAA" * 3


def test_wrr_weight_change_resets_to_head() -> None:
    s = Svc("wrr", 1, 1)  # list B A, di 1, mw 1
    assert s.run(3) == "BAB"
    s.weight("A", 2)  # cl back to the head; cw 1 <= mw 2 and di 1: cw stays 1
    # cw 1: B A; cw 2: A; cw 1: B A
    assert s.run(5) == "BAABA"


def test_lc_least_overhead_first_on_ties() -> None:
    s = Svc("lc", 1, 5, 1)  # weights are ignored by lc (except 0)
    assert s.run(6, hold=True) == "CBACBA"
    s.by_name["C"].active = 0
    s.by_name["C"].inact = 300  # 300 < 1 << 8: one active outweighs 255 inactive
    assert s.run(1) == "C"
    s.by_name["C"].inact = 600
    assert s.run(1) == "B"


def test_wlc_hand_computed() -> None:
    # weights A1 B2 C3 (list C B A), every connection stays open:
    # C, B (256*2 > 0), A, C (256 vs 256*3), B, C, C (768*2 = 512*3: no switch), B
    assert Svc("wlc", 1, 2, 3).run(8, hold=True) == "CBACBCCB"


def test_wlc_weight_zero_never_chosen() -> None:
    s = Svc("wlc", 1, 0)
    assert s.run(5, hold=True) == "AAAAA"


def test_sed_and_nq() -> None:
    # sed: (active+1)/weight. A1 B3 (list B A): B(1/3<1), B(2/3<1), then 3/3 vs 1/1: tie → B
    # stays (no strict improvement), B 4/3 > 1 → A ...
    assert Svc("sed", 1, 3).run(5, hold=True) == "BBBAB"
    # nq: an idle server first, whatever the weights
    assert Svc("nq", 1, 3).run(3, hold=True) == "BAB"


def test_fo_highest_weight_available() -> None:
    s = Svc("fo", 5, 10, 10)  # C and B both 10: C first in the list
    assert s.run(2) == "CC"
    s.by_name["C"].overloaded = True
    assert s.run(1) == "B"
    s.weight("B", 0)
    assert s.run(1) == "A"


def test_overload_thresholds() -> None:
    d = RealServer("10.1.0.1", 80, 1, u_threshold=4, l_threshold=0)
    d.active = 4
    d.check_overload_up()
    assert d.overloaded and not d.available
    d.active = 3  # 3*4 = 12 is not < 4*3: stays overloaded
    d.check_overload_down()
    assert d.overloaded
    d.active = 2
    d.check_overload_down()
    assert not d.overloaded
    d.set_thresholds(4, 1)
    d.active = 4
    d.check_overload_up()
    d.active = 1
    d.check_overload_down()
    assert d.overloaded  # not below the lower threshold yet
    d.active = 0
    d.check_overload_down()
    assert not d.overloaded


def test_hash32() -> None:
    assert hash_32(1, 8) == 0x61
    assert hash_32(2, 8) == 0xC3
    assert hash_32(5, 8) == 0xE8


def test_sh_buckets_and_hash() -> None:
    # A1 B1 (list B A): buckets alternate B, A, B, A ...; client 0.0.0.1 → bucket 0x61 (odd)
    s = Svc("sh", 1, 1)
    assert s.run(3, client="0.0.0.1") == "AAA"
    assert s.run(1, client="0.0.0.5") == "B"  # bucket 0xE8 (even)
    # weights fill consecutive buckets: A2 B1 (list B A): B A A B A A ...; 0x61 = 97 → 97 % 3 = 1
    assert Svc("sh", 2, 1).run(1, client="0.0.0.1") == "A"


def test_sh_unavailable_without_and_with_fallback() -> None:
    s = Svc("sh", 1, 1)
    s.weight("A", 0)
    assert s.run(1, client="0.0.0.1") == "-"  # no fallback: nothing
    f = Svc("sh", 1, 1, flags=frozenset({"sh-fallback"}))
    f.weight("A", 0)
    assert f.run(1, client="0.0.0.1") == "B"


def test_sh_spreads_many_clients_by_weight() -> None:
    s = Svc("sh", 1, 3)
    got = Counter(s.run(1, client=f"10.9.{i // 250}.{i % 250}") for i in range(4000))
    assert 2.3 < got["B"] / got["A"] < 3.9


def test_mh_weights_and_minimal_disruption() -> None:
    s = Svc("mh", 1, 1, 2)
    clients = [f"10.8.{i // 250}.{i % 250}" for i in range(3000)]
    before = {c: s.run(1, client=c) for c in clients}
    share = Counter(before.values())
    assert 1.5 < share["C"] / share["A"] < 2.6
    # draining B (weight 0) keeps last_weight: A and C clients do not move
    s.weight("B", 0)
    after = {c: s.run(1, client=c) for c in clients}
    assert all(after[c] == v for c, v in before.items() if v != "B")
    assert all(after[c] == "-" for c, v in before.items() if v == "B")


def test_mh_fallback() -> None:
    s = Svc("mh", 1, 1, flags=frozenset({"mh-fallback"}))
    s.weight("A", 0)
    assert set(s.run(1, client=f"10.8.0.{i}") for i in range(50)) == {"B"}


def test_dh_one_server_per_vip() -> None:
    s = Svc("dh", 1, 1, 1)
    assert len(set(s.run(20))) == 1


def test_random_respects_weights() -> None:
    s = Svc("random", 1, 0, 3)
    got = Counter(s.run(2000))
    assert got["B"] == 0
    assert 2.2 < got["C"] / got["A"] < 4.0


def test_unknown_scheduler() -> None:
    with pytest.raises(KeyError):
        make_scheduler("lblc", [])
