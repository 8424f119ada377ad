from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lvstui.config.schema import LbKind
from lvstui.config.state import AddedReal, Overrides
from lvstui.group.clock import Hlc
from lvstui.group.store import (
    Added,
    Drained,
    Entry,
    EntryKey,
    Field,
    Removed,
    Store,
    Weighted,
    entries_between,
    entries_from_overrides,
)
from lvstui.group.sync import differing_buckets, plan, summary, versions
from lvstui.model import RealKey, ServiceKey

SVC = ServiceKey.parse("TCP 198.51.100.9:80")
SVC6 = ServiceKey.parse("TCP [2001:db8::9]:80")
R1 = RealKey.parse("198.51.100.21:80")
R2 = RealKey.parse("198.51.100.22:80")


def key(f: Field, real: RealKey = R1, svc: ServiceKey = SVC) -> EntryKey:
    return EntryKey(svc, real, f)


# --- strategies ----------------------------------------------------------------------------

keys = st.builds(
    EntryKey,
    st.sampled_from([SVC, SVC6]),
    st.sampled_from([R1, R2]),
    st.sampled_from(list(Field)),
)


def value_for(f: Field) -> st.SearchStrategy[object]:
    if f is Field.DRAIN:
        return st.one_of(st.none(), st.builds(Drained, st.none() | st.sampled_from([1.0, 30.0])))
    if f is Field.WEIGHT:
        return st.one_of(st.none(), st.builds(Weighted, st.integers(0, 3)))
    return st.one_of(
        st.none(),
        st.just(Removed()),
        st.builds(Added, st.integers(0, 2), st.sampled_from([None, LbKind.DR])),
    )


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    k = draw(keys)
    value = draw(value_for(k.field))
    # few distinct stamps and origins, so ties (same stamp, other origin or value) happen
    stamp = Hlc(draw(st.integers(0, 3)), draw(st.integers(0, 2)))
    return Entry(k, value, stamp, draw(st.sampled_from(["lb1", "lb2", "lb3"])))  # type: ignore[arg-type]


stores = st.lists(entries(), max_size=12).map(lambda es: Store().apply(es)[0])


# --- the merge laws --------------------------------------------------------------------------


@settings(max_examples=150)
@given(stores, stores)
def test_merge_is_commutative(a: Store, b: Store) -> None:
    assert a.merge(b).entries == b.merge(a).entries


@settings(max_examples=150)
@given(stores, stores, stores)
def test_merge_is_associative(a: Store, b: Store, c: Store) -> None:
    assert a.merge(b).merge(c).entries == a.merge(b.merge(c)).entries


@given(stores, stores)
def test_merge_is_idempotent(a: Store, b: Store) -> None:
    ab = a.merge(b)
    assert ab.merge(b).entries == ab.entries
    assert a.merge(a).entries == a.entries


@given(st.lists(entries(), max_size=15), st.randoms())
def test_order_of_arrival_does_not_matter(es: list[Entry], rnd: object) -> None:
    shuffled = list(es)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    one = Store().apply(es)[0]
    other = Store()
    for e in shuffled:  # one at a time, as deltas arrive
        other = other.apply([e])[0]
    assert one.entries == other.entries


# --- the rule itself -------------------------------------------------------------------------


def test_newest_wins_then_origin_name() -> None:
    old = Entry(key(Field.WEIGHT), Weighted(5), Hlc(10), "lb2")
    new = Entry(key(Field.WEIGHT), Weighted(0), Hlc(11), "lb1")
    s, won = Store().apply([new, old])
    assert s.get(key(Field.WEIGHT)) == new and won == [new]
    tie_a = Entry(key(Field.WEIGHT), Weighted(1), Hlc(20), "lb1")
    tie_b = Entry(key(Field.WEIGHT), Weighted(2), Hlc(20), "lb2")
    assert Store().apply([tie_a, tie_b])[0].get(key(Field.WEIGHT)) == tie_b
    assert Store().apply([tie_b, tie_a])[0].get(key(Field.WEIGHT)) == tie_b


def test_apply_reports_only_the_entries_that_won() -> None:
    e = Entry(key(Field.DRAIN), Drained(), Hlc(5), "lb1")
    s, won = Store().apply([e])
    assert won == [e]
    s2, won2 = s.apply([Entry(key(Field.DRAIN), None, Hlc(4), "lb2")])
    assert won2 == [] and s2 is s


def test_tombstone_clears_and_is_purged_after_retention() -> None:
    s, _ = Store().apply([Entry(key(Field.DRAIN), Drained(), Hlc(1000), "lb1")])
    assert s.overrides().drained == {(SVC, R1): None}
    s, _ = s.apply([Entry(key(Field.DRAIN), None, Hlc(2000), "lb2")])
    assert s.overrides().is_empty() and len(s) == 1
    assert len(s.purge(now_ms=2500, retention_ms=1000)) == 1  # still within retention
    assert len(s.purge(now_ms=3001, retention_ms=1000)) == 0
    # a live entry is never purged, however old
    live, _ = Store().apply([Entry(key(Field.WEIGHT), Weighted(3), Hlc(1), "lb1")])
    assert len(live.purge(now_ms=10**12, retention_ms=1)) == 1


def test_changes_map_to_entries_and_back_to_overrides() -> None:
    def run(*changes: Callable[[Overrides], Overrides]) -> tuple[Overrides, Store]:
        s, ov = Store(), Overrides()
        for i, change in enumerate(changes):
            new = change(ov)
            s, _ = s.apply(entries_between(ov, new, Hlc(100 + i), "lb1", "root"))
            assert s.overrides() == new  # the store always equals what the engine applies
            ov = new
        return ov, s

    p1, p2 = (SVC, R1), (SVC, R2)
    assert run(lambda o: o.drain(p1, 30.0))[0].drained == {p1: 30.0}
    ov, s = run(lambda o: o.drain(p1, None), lambda o: o.undrain(p1))
    assert ov.is_empty() and s.get(key(Field.DRAIN)) is not None  # a tombstone travels
    assert run(lambda o: o.set_weight(p1, 7), lambda o: o.set_weight(p1, None))[0].is_empty()
    removed, s = run(
        lambda o: o.drain(p1, None),
        lambda o: o.set_weight(p1, 3),
        lambda o: o.remove(p1, configured=True),
    )
    assert removed == Overrides(removed=frozenset({p1}))
    assert run(lambda o: o.remove(p1, configured=True), lambda o: o.restore(p1))[0].is_empty()
    added, _ = run(lambda o: o.add(p2, AddedReal(4, LbKind.DR)))
    assert added.added == {p2: AddedReal(4, LbKind.DR)}
    assert run(lambda o: o.add(p2, AddedReal()), lambda o: o.remove(p2, configured=False))[
        0
    ].is_empty()
    assert entries_between(Overrides(), Overrides(), Hlc(1), "lb1", "") == []


def test_entries_describe_themselves_for_the_audit_log() -> None:
    ov = Overrides().drain((SVC, R1), 30.0)
    (e,) = entries_between(Overrides(), ov, Hlc(1), "lb1", "root")
    assert e.describe() == "drain TCP 198.51.100.9:80 198.51.100.21:80 timeout 30s"
    (u,) = entries_between(ov, Overrides(), Hlc(2), "lb1", "root")
    assert u.describe() == "undrain TCP 198.51.100.9:80 198.51.100.21:80"


def test_seed_from_existing_overrides_round_trips() -> None:
    ov = Overrides(
        drained={(SVC, R1): None},
        weights={(SVC6, R2): 9},
        added={(SVC, R2): AddedReal(2)},
        removed=frozenset({(SVC6, R1)}),
    )
    s, _ = Store().apply(entries_from_overrides(ov, Hlc(1), "lb1"))
    assert s.overrides() == ov


@given(stores)
def test_state_file_form_round_trips(s: Store) -> None:
    assert Store.from_doc(s.to_doc()).entries == s.entries


def test_bad_entries_are_refused_or_skipped() -> None:
    good = Entry(key(Field.DRAIN), Drained(), Hlc(1), "lb1").to_doc()
    bad = [
        {**good, "field": "colour"},
        {**good, "real": "not an address"},
        {**good, "field": "weight", "value": {"weight": 70000}},
        {**good, "field": "weight", "value": {"weight": True}},
        {**good, "stamp": "-1.0"},
        {**good, "origin": ""},
        {k: v for k, v in good.items() if k != "service"},
        {**good, "value": "drained"},
        {**good, "value": {"timeout": "soon"}},
        "a string",
    ]
    for row in bad:
        with pytest.raises(ValueError):
            Store.from_doc([row])
    skipped: list[str] = []
    s = Store.from_doc([good, *bad], skipped=skipped)
    assert len(s) == 1 and len(skipped) == len(bad)
    assert skipped[0].startswith("entry[1]: ")


def test_value_must_match_its_field() -> None:
    with pytest.raises(ValueError):
        Entry(key(Field.DRAIN), Weighted(1), Hlc(1), "lb1")


# --- anti-entropy ----------------------------------------------------------------------------


def exchange(a: Store, b: Store) -> tuple[Store, Store, int]:
    """One anti-entropy round as channel.py runs it; returns both stores and entries sent."""
    diff = differing_buckets(summary(a), summary(b))
    theirs = versions(b, diff)
    send, want = plan(a, theirs, diff)
    b, _ = b.apply(send)
    back = [e for k in want if (e := b.get(k)) is not None]
    a, _ = a.apply(back)
    return a, b, len(send) + len(back)


@settings(max_examples=100)
@given(stores, stores)
def test_one_exchange_makes_two_stores_equal(a: Store, b: Store) -> None:
    a2, b2, _ = exchange(a, b)
    assert a2.entries == b2.entries == a.merge(b).entries
    assert summary(a2) == summary(b2)


def test_equal_stores_exchange_nothing() -> None:
    s, _ = Store().apply(
        [Entry(key(Field.DRAIN, r), Drained(), Hlc(i), "lb1") for i, r in enumerate([R1, R2])]
    )
    assert differing_buckets(summary(s), summary(s)) == frozenset()
    assert exchange(s, s)[2] == 0


def test_only_differences_travel() -> None:
    base = [
        Entry(EntryKey(SVC, RealKey("198.51.100.1", p), Field.WEIGHT), Weighted(1), Hlc(1), "lb1")
        for p in range(1, 501)
    ]
    a, _ = Store().apply(base)
    changed = Entry(base[7].key, Weighted(0), Hlc(2), "lb2")
    b, _ = a.apply([changed])
    a2, b2, sent = exchange(a, b)
    assert sent == 1 and a2.get(changed.key) == changed and a2.entries == b2.entries
