"""The dataplane contract suite: the same checks for every Dataplane implementation.

Plain async functions (no pytest inside), so a script in the User-Mode-Linux guest can run
them against kernel IPVS too::

    from tests.dataplane.contract import ContractContext, run_contract
    failures = await run_contract(dp, ContractContext(vip="198.51.100.1", reals=[...]))

Each check leaves the dataplane as it found it (it deletes what it added), raises
AssertionError on a broken promise, and uses only `ctx` for addresses and ports.
"""

from __future__ import annotations

import socket
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from lvstui.config.schema import LbKind, Protocol
from lvstui.dataplane.base import (
    AddDest,
    AddService,
    Dataplane,
    DelDest,
    DelService,
    DesiredDest,
    DesiredService,
    EditDest,
    EditService,
    ObservedService,
)
from lvstui.dataplane.reconcile import reconcile
from lvstui.errors import DataplaneError, UnsupportedError
from lvstui.model import RealKey, ServiceKey

__all__ = ["CHECKS", "ContractContext", "run_contract"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ContractContext:
    vip: str = "127.0.0.1"  # an address the dataplane may serve on
    reals: Sequence[str] = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
    real_port: int = 8080
    port: Callable[[], int] = free_port  # a fresh service port each call
    # a second instance over the same state (adopt check); None where state dies with close()
    reopen: Callable[[], Awaitable[Dataplane]] | None = None
    scheduler: str = "wlc"
    extra: dict[str, object] = field(default_factory=dict)

    def key(self, proto: Protocol = Protocol.TCP) -> ServiceKey:
        fam = 6 if ":" in self.vip else 4
        return ServiceKey(proto, self.vip, self.port(), family=fam)

    def dest(self, i: int, weight: int = 1) -> DesiredDest:
        return DesiredDest(RealKey(self.reals[i], self.real_port), weight, LbKind.NAT)


def _find(observed: Sequence[ObservedService], key: ServiceKey) -> ObservedService:
    for s in observed:
        if s.key == key:
            return s
    raise AssertionError(f"service {key} not observed (have {[str(s.key) for s in observed]})")


def _weights(s: ObservedService) -> dict[RealKey, int]:
    return {d.key: d.weight for d in s.dests}


async def _cleanup(dp: Dataplane, *keys: ServiceKey) -> None:
    have = {s.key for s in await dp.observe()}
    ops = [DelService(k) for k in keys if k in have]
    if ops:
        await dp.apply(ops)


# --- checks -----------------------------------------------------------------------------------


async def check_add_and_observe(dp: Dataplane, ctx: ContractContext) -> None:
    key = ctx.key()
    svc = DesiredService(key, ctx.scheduler, dests=(ctx.dest(0, 1), ctx.dest(1, 3)))
    try:
        await dp.apply(reconcile([svc], await dp.observe(), owned=set()))
        got = _find(await dp.observe(), key)
        assert got.scheduler == ctx.scheduler, got.scheduler
        assert _weights(got) == {ctx.dest(0).key: 1, ctx.dest(1).key: 3}, _weights(got)
        assert all(d.fwd is LbKind.NAT for d in got.dests)
        assert got.persistence_timeout in (None, 0)
        # nothing left to do
        assert reconcile([svc], [got]) == []
    finally:
        await _cleanup(dp, key)


async def check_edit_weight_in_place(dp: Dataplane, ctx: ContractContext) -> None:
    key = ctx.key()
    d0, d1 = ctx.dest(0, 2), ctx.dest(1, 2)
    try:
        await dp.apply(
            [AddService(DesiredService(key, ctx.scheduler)), AddDest(key, d0), AddDest(key, d1)]
        )
        want = DesiredService(key, ctx.scheduler, dests=(replace(d0, weight=0), d1))
        ops = reconcile([want], await dp.observe())
        assert ops == [EditDest(key, replace(d0, weight=0))], ops
        await dp.apply(ops)
        got = _find(await dp.observe(), key)
        assert _weights(got) == {d0.key: 0, d1.key: 2}
        await dp.apply([EditDest(key, replace(d0, weight=5, u_threshold=100, l_threshold=10))])
        got = _find(await dp.observe(), key)
        o0 = next(d for d in got.dests if d.key == d0.key)
        assert (o0.weight, o0.u_threshold, o0.l_threshold) == (5, 100, 10)
    finally:
        await _cleanup(dp, key)


async def check_edit_service(dp: Dataplane, ctx: ContractContext) -> None:
    key = ctx.key()
    try:
        await dp.apply([AddService(DesiredService(key, "rr")), AddDest(key, ctx.dest(0))])
        want = DesiredService(
            key, "wrr", persistence_timeout=120, netmask="255.255.255.0", dests=(ctx.dest(0),)
        )
        ops = reconcile([want], await dp.observe())
        assert ops == [EditService(replace(want, dests=()))], ops
        await dp.apply(ops)
        got = _find(await dp.observe(), key)
        assert got.scheduler == "wrr"
        assert got.persistence_timeout == 120
        assert reconcile([want], [got]) == [], "persistence/netmask not read back"
        assert _weights(got) == {ctx.dest(0).key: 1}, "EditService must keep the real servers"
    finally:
        await _cleanup(dp, key)


async def check_delete(dp: Dataplane, ctx: ContractContext) -> None:
    key = ctx.key()
    try:
        await dp.apply(
            [
                AddService(DesiredService(key, ctx.scheduler)),
                AddDest(key, ctx.dest(0)),
                AddDest(key, ctx.dest(1)),
            ]
        )
        await dp.apply([DelDest(key, ctx.dest(0).key)])
        assert _weights(_find(await dp.observe(), key)) == {ctx.dest(1).key: 1}
        await dp.apply([DelService(key)])
        assert key not in {s.key for s in await dp.observe()}
    finally:
        await _cleanup(dp, key)


async def check_errors_name_the_op(dp: Dataplane, ctx: ContractContext) -> None:
    key = ctx.key()
    try:
        await dp.apply([AddService(DesiredService(key, ctx.scheduler))])
        for bad in (
            AddService(DesiredService(key, ctx.scheduler)),
            EditDest(key, ctx.dest(2)),
            DelDest(key, ctx.dest(2).key),
        ):
            try:
                await dp.apply([bad])
            except DataplaneError as e:
                assert str(key.port) in str(e), f"error does not name the op: {e}"
            else:
                raise AssertionError(f"{bad} was accepted")
        missing = ctx.key()
        try:
            await dp.apply([DelService(missing)])
        except DataplaneError:
            pass
        else:
            raise AssertionError("deleting a missing service was accepted")
    finally:
        await _cleanup(dp, key)


async def check_unsupported_lb_kind(dp: Dataplane, ctx: ContractContext) -> None:
    refused = [k for k in LbKind if k not in dp.capabilities.lb_kinds]
    if not refused:
        return
    key = ctx.key()
    try:
        await dp.apply([AddService(DesiredService(key, ctx.scheduler))])
        try:
            await dp.apply([AddDest(key, replace(ctx.dest(0), fwd=refused[0]))])
        except UnsupportedError as e:
            assert refused[0].value in str(e), f"error does not name lb_kind: {e}"
        else:
            raise AssertionError(f"lb_kind {refused[0].value} accepted")
    finally:
        await _cleanup(dp, key)


async def check_foreign_services_left_alone(dp: Dataplane, ctx: ContractContext) -> None:
    mine, theirs = ctx.key(), ctx.key()
    try:
        await dp.apply([AddService(DesiredService(theirs, "rr")), AddDest(theirs, ctx.dest(0))])
        want = [DesiredService(mine, ctx.scheduler, dests=(ctx.dest(1),))]
        await dp.apply(reconcile(want, await dp.observe(), owned={mine}))
        observed = await dp.observe()
        _find(observed, mine)
        assert _weights(_find(observed, theirs)) == {ctx.dest(0).key: 1}
        # and a reconcile that no longer wants ours deletes only ours
        await dp.apply(reconcile([], await dp.observe(), owned={mine}))
        keys = {s.key for s in await dp.observe()}
        assert mine not in keys and theirs in keys
    finally:
        await _cleanup(dp, mine, theirs)


async def check_adopt_on_restart(dp: Dataplane, ctx: ContractContext) -> None:
    if ctx.reopen is None:
        return  # state does not outlive the instance (userspace, memory)
    key = ctx.key()
    want = [DesiredService(key, ctx.scheduler, dests=(ctx.dest(0, 2), ctx.dest(1, 1)))]
    try:
        await dp.apply(reconcile(want, await dp.observe(), owned=set()))
        again = await ctx.reopen()
        await again.start()
        try:
            ops = reconcile(want, await again.observe(), owned={key})
            assert ops == [], f"a restart must adopt, not redo: {ops}"
        finally:
            await again.close()
    finally:
        await _cleanup(dp, key)


CHECKS: list[Callable[[Dataplane, ContractContext], Awaitable[None]]] = [
    check_add_and_observe,
    check_edit_weight_in_place,
    check_edit_service,
    check_delete,
    check_errors_name_the_op,
    check_unsupported_lb_kind,
    check_foreign_services_left_alone,
    check_adopt_on_restart,
]


async def run_contract(dp: Dataplane, ctx: ContractContext) -> list[tuple[str, str]]:
    """Run every check; return (name, failure text) for the ones that failed."""
    failures: list[tuple[str, str]] = []
    for check in CHECKS:
        try:
            await check(dp, ctx)
        except Exception:
            failures.append((check.__name__, traceback.format_exc()))
    return failures
