"""The engine says each thing once, and keeps a ring of recent events for late subscribers."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import tomli_w

from lvstui.clock import FakeClock
from lvstui.config.dump import to_toml_dict
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.bus import EventBus, Subscription
from lvstui.engine.engine import Engine
from lvstui.model import (
    ConfigReloaded,
    Event,
    Health,
    HealthChanged,
    LogEvent,
    OperatorAction,
    QuorumChanged,
    Reload,
)
from tests.engine.builders import SK, R, config
from tests.helpers import async_wait_until


def _log(i: int) -> LogEvent:
    return LogEvent(float(i), "info", f"m{i}")


async def _drain(sub: Subscription) -> list[Event]:
    """What the subscription holds now (it is closed first, so the iteration ends)."""
    sub.close()
    return [ev async for ev in sub]


async def test_a_replaying_subscriber_starts_with_the_ring_then_goes_live() -> None:
    bus = EventBus(recent=3)
    for i in range(5):
        bus.publish(_log(i))
    assert bus.recent() == (_log(2), _log(3), _log(4))  # bounded: the oldest went
    late = bus.subscribe(replay=True)
    plain = bus.subscribe()
    bus.publish(_log(5))
    assert await _drain(late) == [_log(2), _log(3), _log(4), _log(5)]
    assert await _drain(plain) == [_log(5)]  # without replay: from now on only


async def test_health_quorum_and_reload_are_each_one_event(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    cfg = replace(config(quorum=5), path=str(path))
    path.write_text(tomli_w.dumps(to_toml_dict(cfg)))
    e = Engine(cfg, dataplane=MemoryDataplane(), clock=FakeClock())
    sub = e.subscribe()
    await e.start()
    try:
        await _said_once(e, sub)
    finally:
        await e.stop()


async def _said_once(e: Engine, sub: Subscription) -> None:
    e.set_health(SK, R[0], Health.DOWN, reason="test")  # live 4 < quorum 5: quorum lost
    await async_wait_until(lambda: not e.snapshot().services[0].quorum_up, 5)
    assert (await e.call(Reload())).ok
    await asyncio.sleep(0.05)
    got = await _drain(sub)
    health = [x for x in got if isinstance(x, HealthChanged) and x.real == R[0]]
    quorum = [x for x in got if isinstance(x, QuorumChanged) and not x.up]
    reloads = [x for x in got if isinstance(x, ConfigReloaded)]
    assert len(health) == 1 and len(quorum) == 1 and len(reloads) == 1, got
    assert reloads[0].ok and reloads[0].who == "local"
    # before: the same facts again as LogEvents ("real server … is DOWN", "Lost quorum …",
    # "reloaded: …") and an OperatorAction for the reload: every console said them twice
    said = [x.message for x in got if isinstance(x, LogEvent)]
    assert not [m for m in said if "is DOWN" in m or "Lost quorum" in m or "reloaded" in m], said
    assert not [x for x in got if isinstance(x, OperatorAction) and x.action == "reload"], got
