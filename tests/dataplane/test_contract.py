"""The contract suite on the in-memory dataplane and the userspace forwarder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from lvstui.dataplane.base import Dataplane
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.dataplane.userspace.forwarder import UserspaceDataplane
from tests.dataplane.contract import CHECKS, ContractContext, run_contract


@pytest.fixture(params=["memory", "userspace"])
async def dp_ctx(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[Dataplane, ContractContext]]:
    dp: Dataplane
    if request.param == "memory":
        mem = MemoryDataplane()

        async def reopen() -> Dataplane:
            return MemoryDataplane(list(await mem.observe()))  # the "kernel" keeps the table

        dp, ctx = mem, ContractContext(reopen=reopen)
    else:
        dp, ctx = UserspaceDataplane(), ContractContext()
    await dp.start()
    try:
        yield dp, ctx
    finally:
        await dp.close()


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
async def test_contract(
    dp_ctx: tuple[Dataplane, ContractContext],
    check: Callable[[Dataplane, ContractContext], Awaitable[None]],
) -> None:
    dp, ctx = dp_ctx
    await check(dp, ctx)
    assert list(await dp.observe()) == [], "a check left services behind"


async def test_run_contract_reports_nothing_on_memory() -> None:
    dp = MemoryDataplane()
    assert await run_contract(dp, ContractContext()) == []


async def test_run_contract_catches_a_broken_dataplane() -> None:
    class Broken(MemoryDataplane):
        async def observe(self):  # type: ignore[no-untyped-def]
            return [s.__class__(s.key, "rr") for s in await super().observe()]  # loses dests

    failures = await run_contract(Broken(), ContractContext())
    assert "check_add_and_observe" in {name for name, _ in failures}
