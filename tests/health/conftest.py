"""The in-memory monitor rig (FakeClock, scripted checkers) shared by the scheduler tests."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from lvstui.clock import FakeClock
from lvstui.config.schema import CheckKind, MiscCheck, TcpCheck
from lvstui.health.base import CheckSpec, CheckTarget
from lvstui.health.scheduler import HealthMonitor
from lvstui.model import Health


def spec(
    *,
    period: float = 1.0,
    retry: int = 0,
    delay_before_retry: float = 1.0,
    warmup: float | None = 0.0,
    rise: int = 1,
    fall: int = 1,
    port: int = 80,
    dynamic: bool = False,
) -> CheckSpec:
    check = MiscCheck("/bin/true", misc_dynamic=True) if dynamic else TcpCheck()
    return CheckSpec(
        kind=CheckKind.MISC_CHECK if dynamic else CheckKind.TCP_CHECK,
        target=CheckTarget("127.0.0.1", port),
        period=period,
        timeout=1.0,
        retry=retry,
        delay_before_retry=delay_before_retry,
        warmup=warmup,
        rise=rise,
        fall=fall,
        check=check,
    )


@dataclass
class Rig:
    clock: FakeClock
    mon: HealthMonitor[str]
    changes: list[tuple[str, Health, int | None, str]] = field(default_factory=list)

    async def settle(self) -> None:
        for _ in range(30):
            await asyncio.sleep(0)

    async def step(self, seconds: float, *, by: float | None = None) -> None:
        """Advance fake time in small increments, letting every task run in between."""
        by = by or seconds
        done = 0.0
        await self.settle()
        while done < seconds - 1e-9:
            d = min(by, seconds - done)
            self.clock.advance(d)
            done += d
            await self.settle()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = FakeClock()
    r = Rig(clock, HealthMonitor(clock, concurrency=1000, rng=random.Random(7)))
    r.mon.on_change = lambda k, h, w, why: r.changes.append((k, h, w, why))
    task = asyncio.create_task(r.mon.run())
    yield r
    r.mon.stop()
    await asyncio.wait_for(task, 5)
