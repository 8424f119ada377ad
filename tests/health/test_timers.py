"""Coarse timers: never early, in order, one failing callback does not stop the others."""

from __future__ import annotations

import asyncio

from lvstui.health.timers import CoarseTimers, coarse_sleep


async def test_fire_in_order_never_early() -> None:
    loop = asyncio.get_running_loop()
    timers = CoarseTimers(loop, resolution=0.005)
    fired: list[tuple[int, float, float]] = []
    done = asyncio.Event()
    t0 = loop.time()
    offsets = [0.05, 0.01, 0.03, 0.01, 0.0, 0.04]
    for i, off in enumerate(offsets):
        timers.call_at(t0 + off, lambda i=i, w=t0 + off: fired.append((i, w, loop.time())))
    timers.call_at(t0 + 0.06, done.set)
    await asyncio.wait_for(done.wait(), 5)
    assert sorted(i for i, *_ in fired) == list(range(len(offsets)))
    order = [i for i, *_ in fired]
    assert order == sorted(order, key=lambda i: (offsets[i], i))
    for _, when, at in fired:
        assert at >= when - 1e-9  # never early


async def test_an_earlier_timer_rearms() -> None:
    loop = asyncio.get_running_loop()
    timers = CoarseTimers(loop)
    got: list[str] = []
    ev = asyncio.Event()
    timers.call_at(loop.time() + 5.0, got.append, "late")
    timers.call_at(loop.time() + 0.01, lambda: (got.append("early"), ev.set()))
    await asyncio.wait_for(ev.wait(), 2)
    assert got == ["early"]


async def test_failing_callback_is_contained(caplog: object) -> None:
    loop = asyncio.get_running_loop()
    timers = CoarseTimers(loop)
    ev = asyncio.Event()

    def boom() -> None:
        raise RuntimeError("boom")

    now = loop.time()
    timers.call_at(now + 0.01, boom)
    timers.call_at(now + 0.01, ev.set)
    await asyncio.wait_for(ev.wait(), 2)


async def test_coarse_sleep() -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await coarse_sleep(0.05)
    assert 0.05 <= loop.time() - t0 < 0.5
    await coarse_sleep(0)
    task = asyncio.create_task(coarse_sleep(10))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
