"""The hashing schedulers' destination order (hashorder.py): whatever order real servers come
in, the list ends canonical, so every director builds the same table; and its digest."""

from __future__ import annotations

from lvstui.dataplane.base import AddDest, DelDest, DesiredDest, DesiredService, ObservedService
from lvstui.dataplane.hashorder import canonical, hash_digest, order_ops
from lvstui.dataplane.memory import apply_ops
from lvstui.dataplane.reconcile import reconcile
from lvstui.model import Protocol, RealKey, ServiceKey

S = ServiceKey(Protocol.TCP, "198.51.100.10", 80)
R = [RealKey(f"203.0.113.{i}", 80) for i in range(1, 6)]


def _svc(*reals: RealKey, sched: str = "mh", weights: dict[RealKey, int] | None = None):
    w = weights or {}
    return DesiredService(S, sched, dests=tuple(DesiredDest(r, w.get(r, 1)) for r in reals))


def _build(svc: DesiredService, table: dict[ServiceKey, ObservedService] | None = None):
    table = table or {}
    return apply_ops(table, reconcile([svc], list(table.values())))


def _digest(table: dict[ServiceKey, ObservedService]) -> str:
    s = table[S]
    return hash_digest(s.scheduler, s.flags, s.dests)


def test_order_of_the_config_does_not_matter() -> None:
    a = _build(_svc(R[2], R[0], R[4], R[1]))
    b = _build(_svc(R[1], R[4], R[0], R[2]))
    assert [d.key for d in a[S].dests] == [R[4], R[2], R[1], R[0]]
    assert [d.key for d in a[S].dests] == [d.key for d in b[S].dests]
    assert _digest(a) == _digest(b)


def test_the_build_adds_in_sorted_order() -> None:
    ops = reconcile([_svc(R[3], R[0], R[2])], [])
    assert [op.dest.key for op in ops if isinstance(op, AddDest)] == [R[0], R[2], R[3]]


def test_a_newcomer_sorting_last_is_added_in_place() -> None:
    table = _build(_svc(R[0], R[1]))
    ops = reconcile([_svc(R[0], R[1], R[2])], list(table.values()))
    assert ops == [AddDest(S, DesiredDest(R[2], 1))]


def test_a_newcomer_in_the_middle_readds_those_after_it() -> None:
    """ctl add on one director: the list ends as the other director's full build."""
    table = _build(_svc(R[0], R[2], R[4]))
    ops = reconcile([_svc(R[0], R[2], R[4], R[1])], list(table.values()))
    assert ops == [
        AddDest(S, DesiredDest(R[1], 1)),
        DelDest(S, R[2]),
        AddDest(S, DesiredDest(R[2], 1)),
        DelDest(S, R[4]),
        AddDest(S, DesiredDest(R[4], 1)),
    ]
    after = apply_ops(table, ops)
    assert _digest(after) == _digest(_build(_svc(R[4], R[2], R[1], R[0])))


def test_a_readded_destination_takes_its_new_weight_and_no_edit() -> None:
    table = _build(_svc(R[0], R[2]))
    want = _svc(R[0], R[1], R[2], weights={R[2]: 5})
    ops = reconcile([want], list(table.values()))
    assert not [op for op in ops if type(op).__name__ == "EditDest"]
    after = apply_ops(table, ops)
    assert {d.key: d.weight for d in after[S].dests}[R[2]] == 5
    assert [d.key for d in after[S].dests] == canonical([R[0], R[1], R[2]])


def test_a_list_out_of_order_is_put_right() -> None:
    """A table someone else built (ipvsadm in config order) is reordered, not left."""
    table = apply_ops(
        {},
        [
            *reconcile([_svc(sched="mh")], []),
            *(AddDest(S, DesiredDest(r, 1)) for r in (R[3], R[0], R[1])),
        ],
    )
    before = _digest(table)
    after = apply_ops(table, reconcile([_svc(R[0], R[1], R[3])], list(table.values())))
    assert [d.key for d in after[S].dests] == canonical([R[0], R[1], R[3]])
    assert _digest(after) != before
    assert reconcile([_svc(R[0], R[1], R[3])], list(after.values())) == []


def test_round_robin_keeps_config_order_and_never_readds() -> None:
    table = _build(_svc(R[0], R[2], sched="rr"))
    ops = reconcile([_svc(R[0], R[2], R[1], sched="rr")], list(table.values()))
    assert ops == [AddDest(S, DesiredDest(R[1], 1))]


def test_the_digest_sees_weights_flags_and_order_but_not_weight_zero() -> None:
    base = _build(_svc(R[0], R[1]))
    s = base[S]
    d = hash_digest("mh", frozenset(), s.dests)
    assert hash_digest("MH", frozenset({"ops"}), s.dests) == d  # ops does not change a lookup
    assert hash_digest("mh", frozenset({"mh-port"}), s.dests) != d
    assert hash_digest("sh", frozenset(), s.dests) != d
    assert hash_digest("mh", frozenset(), tuple(reversed(s.dests))) != d
    heavier = _build(_svc(R[0], R[1], weights={R[0]: 3}))[S]
    assert hash_digest("mh", frozenset(), heavier.dests) != d
    drained = _build(_svc(R[0], R[1], R[2], weights={R[2]: 0}))[S]
    assert hash_digest("mh", frozenset(), drained.dests) == d


def test_order_ops_alone() -> None:
    ops, readded = order_ops(S, [DesiredDest(R[1], 1), DesiredDest(R[0], 1)], ())
    assert [op.dest.key for op in ops if isinstance(op, AddDest)] == [R[0], R[1]]
    assert readded == frozenset()
