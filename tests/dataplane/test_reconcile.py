"""reconcile(): table-driven cases and a property (ops applied to observed give desired)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lvstui.config.schema import LbKind, Protocol
from lvstui.dataplane.base import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    DesiredDest,
    DesiredService,
    EditDest,
    EditService,
    ObservedDest,
    ObservedService,
)
from lvstui.dataplane.hashorder import ORDERED_SCHEDULERS, canonical
from lvstui.dataplane.memory import apply_ops
from lvstui.dataplane.reconcile import mask_prefix, reconcile
from lvstui.model import RealKey, ServiceKey

S1 = ServiceKey(Protocol.TCP, "10.0.0.1", 80)
S2 = ServiceKey(Protocol.UDP, "10.0.0.1", 53)
S3 = ServiceKey(Protocol.TCP, "", 0, fwmark=7)
R1 = RealKey("10.1.0.1", 80)
R2 = RealKey("10.1.0.2", 80)
R3 = RealKey("10.1.0.3", 80)


def obs(key: ServiceKey, *dests: tuple[RealKey, int], sched: str = "wlc", **kw: object):
    return ObservedService(
        key, sched, dests=tuple(ObservedDest(r, w, LbKind.NAT) for r, w in dests), **kw
    )  # type: ignore[arg-type]


def des(key: ServiceKey, *dests: tuple[RealKey, int], sched: str = "wlc", **kw: object):
    return DesiredService(key, sched, dests=tuple(DesiredDest(r, w) for r, w in dests), **kw)  # type: ignore[arg-type]


def bare(s: DesiredService) -> DesiredService:
    from dataclasses import replace

    return replace(s, dests=())


CASES = [
    ("empty", [], [], None, []),
    ("nothing to do", [des(S1, (R1, 1))], [obs(S1, (R1, 1))], None, []),
    (
        "add service then its dests in order",
        [des(S1, (R2, 1), (R1, 2))],
        [],
        None,
        [
            AddService(bare(des(S1))),
            AddDest(S1, DesiredDest(R2, 1)),
            AddDest(S1, DesiredDest(R1, 2)),
        ],
    ),
    (
        "weight change is an edit",
        [des(S1, (R1, 5))],
        [obs(S1, (R1, 1))],
        None,
        [EditDest(S1, DesiredDest(R1, 5))],
    ),
    (
        "drain to weight 0 is an edit",
        [des(S1, (R1, 0))],
        [obs(S1, (R1, 1))],
        None,
        [EditDest(S1, DesiredDest(R1, 0))],
    ),
    (
        "fwd change is an edit",
        [DesiredService(S1, "wlc", dests=(DesiredDest(R1, 1, LbKind.DR),))],
        [obs(S1, (R1, 1))],
        None,
        [EditDest(S1, DesiredDest(R1, 1, LbKind.DR))],
    ),
    (
        "threshold change is an edit",
        [DesiredService(S1, "wlc", dests=(DesiredDest(R1, 1, u_threshold=10),))],
        [obs(S1, (R1, 1))],
        None,
        [EditDest(S1, DesiredDest(R1, 1, u_threshold=10))],
    ),
    (
        "scheduler change",
        [des(S1, (R1, 1), sched="rr")],
        [obs(S1, (R1, 1))],
        None,
        [EditService(bare(des(S1, sched="rr")))],
    ),
    ("scheduler case ignored", [des(S1, sched="RR")], [obs(S1, sched="rr")], None, []),
    (
        "flags change",
        [des(S1, sched="sh", flags=frozenset({"sh-port"}))],
        [obs(S1, sched="sh")],
        None,
        [EditService(des(S1, sched="sh", flags=frozenset({"sh-port"})))],
    ),
    ("kernel state flags ignored", [des(S1)], [obs(S1, flags=frozenset({"hashed"}))], None, []),
    (
        "persistence on",
        [des(S1, persistence_timeout=300)],
        [obs(S1)],
        None,
        [EditService(des(S1, persistence_timeout=300))],
    ),
    (
        "netmask default equals host mask",
        [des(S1, persistence_timeout=300)],
        [obs(S1, persistence_timeout=300, netmask="255.255.255.255")],
        None,
        [],
    ),
    (
        "netmask /24 equals dotted",
        [des(S1, persistence_timeout=300, netmask="/24")],
        [obs(S1, persistence_timeout=300, netmask="255.255.255.0")],
        None,
        [],
    ),
    ("netmask ignored when not persistent", [des(S1, netmask="/24")], [obs(S1)], None, []),
    (
        "userspace options compared where reported",
        [des(S1, proxy_protocol=2)],
        [obs(S1, proxy_protocol=0)],
        None,
        [EditService(des(S1, proxy_protocol=2))],
    ),
    (
        "userspace options not compared on the kernel",
        [des(S1, proxy_protocol=2)],
        [obs(S1)],
        None,
        [],
    ),
    (
        "dest deletes before edits before adds",
        [des(S1, (R3, 1), (R1, 9))],
        [obs(S1, (R1, 1), (R2, 1))],
        None,
        [DelDest(S1, R2), EditDest(S1, DesiredDest(R1, 9)), AddDest(S1, DesiredDest(R3, 1))],
    ),
    ("undesired owned service deleted (owned=None: all)", [], [obs(S1)], None, [DelService(S1)]),
    ("foreign service left alone", [], [obs(S1), obs(S2)], {S2}, [DelService(S2)]),
    ("adopt: owned but desired is kept", [des(S1, (R1, 1))], [obs(S1, (R1, 1))], {S1}, []),
    (
        "deletes first, services in a stable order",
        [des(S2), des(S1)],
        [obs(S3)],
        None,
        [DelService(S3), AddService(des(S1)), AddService(des(S2))],
    ),
]


@pytest.mark.parametrize(
    ("name", "desired", "observed", "owned", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_reconcile_table(name, desired, observed, owned, expected) -> None:  # type: ignore[no-untyped-def]
    assert reconcile(desired, observed, owned) == expected


def test_duplicates_rejected() -> None:
    with pytest.raises(ValueError, match="twice"):
        reconcile([des(S1), des(S1)], [])
    with pytest.raises(ValueError, match="twice"):
        reconcile([des(S1, (R1, 1), (R1, 2))], [])


def test_mask_prefix() -> None:
    assert mask_prefix(None, 4) == 32
    assert mask_prefix(None, 6) == 128
    assert mask_prefix("255.255.0.0", 4) == 16
    assert mask_prefix("/64", 6) == 64
    assert mask_prefix("ffff:ffff::", 6) == 32


# --- property ---------------------------------------------------------------------------------

SKEYS = [S1, S2, S3, ServiceKey(Protocol.TCP, "2001:db8::1", 443, family=6)]
RKEYS = [R1, R2, R3, RealKey("10.1.0.4", 8080)]

dest_st = st.builds(
    DesiredDest,
    key=st.sampled_from(RKEYS),
    weight=st.integers(0, 3),
    fwd=st.sampled_from(list(LbKind)),
    u_threshold=st.sampled_from([0, 5]),
    l_threshold=st.sampled_from([0, 2]),
)
svc_st = st.builds(
    DesiredService,
    key=st.sampled_from(SKEYS),
    scheduler=st.sampled_from(["rr", "wlc", "sh", "mh"]),
    flags=st.sampled_from([frozenset(), frozenset({"sh-port"})]),
    persistence_timeout=st.sampled_from([None, 300]),
    netmask=st.sampled_from([None, "/24"]),
    dests=st.lists(dest_st, max_size=4, unique_by=lambda d: d.key).map(tuple),
    proxy_protocol=st.sampled_from([0, 1]),
)
table_st = st.lists(svc_st, max_size=4, unique_by=lambda s: s.key)


def _as_observed(ds: list[DesiredService]) -> dict[ServiceKey, ObservedService]:
    return apply_ops({}, reconcile(ds, []))


def _shape(table: dict[ServiceKey, ObservedService]) -> dict[object, object]:
    return {
        k: (
            s.scheduler,
            s.flags,
            s.persistence_timeout,
            mask_prefix(s.netmask, k.family) if s.persistence_timeout else None,
            s.proxy_protocol,
            {d.key: (d.weight, d.fwd, d.u_threshold, d.l_threshold) for d in s.dests},
        )
        for k, s in table.items()
    }


@settings(max_examples=300, deadline=None)
@given(before=table_st, after=table_st)
def test_ops_turn_observed_into_desired(
    before: list[DesiredService], after: list[DesiredService]
) -> None:
    observed = _as_observed(before)
    ops = reconcile(after, list(observed.values()))
    result = apply_ops(observed, ops)  # raises on any impossible op
    assert _shape(result) == _shape(_as_observed(after))
    # minimal: a second pass has nothing to do, and a dest that stays is never re-added
    # (except where a hashing scheduler needs its list in canonical order: hashorder.py)
    assert reconcile(after, list(result.values())) == []
    for s in after:
        if s.scheduler in ORDERED_SCHEDULERS:
            assert [d.key for d in result[s.key].dests] == canonical(d.key for d in s.dests)
    kept = {(s.key, d.key) for s in before for d in s.dests} & {
        (s.key, d.key) for s in after for d in s.dests if s.scheduler not in ORDERED_SCHEDULERS
    }
    for op in ops:
        if isinstance(op, AddDest | DelDest):
            k = op.dest.key if isinstance(op, AddDest) else op.key
            if any(
                isinstance(o, DelService | AddService)
                and (o.key if isinstance(o, DelService) else o.service.key) == op.service
                for o in ops
            ):
                continue
            assert (op.service, k) not in kept


@settings(max_examples=100, deadline=None)
@given(before=table_st, after=table_st, owned_idx=st.sets(st.integers(0, 3)))
def test_foreign_services_untouched(before, after, owned_idx) -> None:  # type: ignore[no-untyped-def]
    owned = {SKEYS[i] for i in owned_idx}
    observed = _as_observed(before)
    result = apply_ops(observed, reconcile(after, list(observed.values()), owned))
    wanted = {s.key for s in after}
    for k, s in observed.items():
        if k not in wanted and k not in owned:
            assert result[k] == s
        if k not in wanted and k in owned:
            assert k not in result
