"""Two directors (engines on the in-memory dataplane) in one group over real TLS on loopback:
a drain typed on one is weight 0 in the other's dataplane, audited there with its origin;
a director restarted with an empty state dir learns the group's overrides before it serves;
the status shows peers and config drift by section."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from lvstui.commands.group import group_json, render_group
from lvstui.config.load import load_config_text
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.group import keys
from lvstui.group.runtime import GroupRuntime
from lvstui.model import Drain, OperatorAction, RealKey, ServiceKey, SetWeight
from lvstui.wiring import EngineParts
from tests.helpers import async_wait_until

SVC = ServiceKey.parse("TCP 198.51.100.9:80")
R1 = RealKey.parse("198.51.100.21:80")
R2 = RealKey.parse("198.51.100.22:80")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config_text(name: str, port: int, peer_port: int, key: Path, *, delay_loop: int = 5) -> str:
    return f"""
[lvstui]
dataplane = "userspace"
[lvstui.group]
name = "{name}"
listen = "127.0.0.1:{port}"
peers = ["127.0.0.1:{peer_port}"]
key_file = "{key}"
startup_wait = 3.0

[global_defs]
router_id = "{name}"

[[virtual_server]]
ip = "198.51.100.9"
port = 80
delay_loop = {delay_loop}
[[virtual_server.real_server]]
ip = "198.51.100.21"
port = 80
[[virtual_server.real_server]]
ip = "198.51.100.22"
port = 80
"""


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Callable[..., object]]:
    key = tmp_path / "group.pem"
    key.write_text(keys.generate())
    key.chmod(0o600)
    ports = {"lb1": free_port(), "lb2": free_port()}
    running: list[EngineParts] = []

    async def start(name: str, state: str | None = None, **kw: int) -> EngineParts:
        other = "lb2" if name == "lb1" else "lb1"
        cfg = load_config_text(config_text(name, ports[name], ports[other], key, **kw))
        state_dir = tmp_path / (state or name)
        assert cfg.lvstui.group is not None
        runtime = GroupRuntime.create(cfg.lvstui.group, state_dir)
        dp = MemoryDataplane()
        engine = Engine(cfg, dataplane=dp, state_dir=state_dir, group=runtime)
        parts = EngineParts(engine, dp, "test", group=runtime)
        await parts.start()
        running.append(parts)
        return parts

    async def stop(parts: EngineParts) -> None:
        running.remove(parts)
        await parts.stop()

    start.stop = stop  # type: ignore[attr-defined]
    yield start
    for p in running:
        await p.stop()


async def test_a_drain_on_lb1_is_weight_0_on_lb2_and_audited_there(
    lab: Callable[..., object], tmp_path: Path
) -> None:
    start = lab
    lb1 = await start("lb1")  # type: ignore[operator]
    lb2 = await start("lb2")  # type: ignore[operator]
    await async_wait_until(lambda: lb1.group.member.peers()[0].synced, timeout=10)
    events = lb2.engine.subscribe()
    res = await lb1.engine.call(Drain(SVC, R1), who="uid 0 (root)")
    assert res.ok
    await async_wait_until(lambda: _weight_is(lb2, R1, 0), timeout=5)
    audit = [json.loads(x) for x in (tmp_path / "lb2" / "audit.log").read_text().splitlines()]
    assert audit[-1]["origin"] == "lb1" and audit[-1]["operator"] == "uid 0 (root)"
    assert audit[-1]["command"] == "drain TCP 198.51.100.9:80 198.51.100.21:80"
    action = await _next_operator_action(events)
    assert action.who == "uid 0 (root) on lb1"
    # the other way, and the status of the group
    await lb2.engine.call(SetWeight(SVC, R2, 7), who="alice")
    await async_wait_until(lambda: _weight_is(lb1, R2, 7), timeout=5)
    view = lb1.engine.snapshot().group
    assert view is not None and view.name == "lb1"
    (peer,) = view.peers
    assert peer.name == "lb2" and peer.reachable and peer.pending == 0
    await async_wait_until(lambda: lb1.engine.snapshot().group.peers[0].config_same is not None)
    assert lb1.engine.snapshot().group.peers[0].config_same is True
    doc = group_json(lb1.engine.snapshot().group, lb1.engine.snapshot().time)
    assert doc is not None and doc["peers"][0]["reachable"] is True
    assert "lb2 127.0.0.1:" in "\n".join(render_group(view, view_time(lb1)))


def view_time(parts: EngineParts) -> float:
    return parts.engine.snapshot().time


async def _weight_is(parts: EngineParts, real: RealKey, weight: int) -> bool:
    for s in await parts.dataplane.observe():
        for d in s.dests:
            if d.key == real:
                return d.weight == weight
    return False


async def _next_operator_action(events: object) -> OperatorAction:
    async for ev in events:  # type: ignore[attr-defined]
        if isinstance(ev, OperatorAction):
            return ev
    raise AssertionError("no operator action")


async def test_restarted_with_an_empty_state_dir_it_learns_before_serving(
    lab: Callable[..., object],
) -> None:
    start = lab
    lb1 = await start("lb1")  # type: ignore[operator]
    lb2 = await start("lb2")  # type: ignore[operator]
    await async_wait_until(lambda: lb1.group.member.peers()[0].synced, timeout=10)
    await lb1.engine.call(Drain(SVC, R2), who="root")
    await async_wait_until(lambda: _weight_is(lb2, R2, 0), timeout=5)
    await start.stop(lb2)  # type: ignore[attr-defined]
    # a new director, wiped state dir: its very first table already has the drain
    lb2b = await start("lb2", state="lb2-wiped")  # type: ignore[operator]
    assert lb2b.engine.overrides.drained == {(SVC, R2): None}
    assert await _weight_is(lb2b, R2, 0)


async def test_config_drift_is_named_by_section(lab: Callable[..., object]) -> None:
    start = lab
    lb1 = await start("lb1")  # type: ignore[operator]
    await start("lb2", delay_loop=9)  # type: ignore[operator]

    def differing() -> tuple[str, ...]:
        g = lb1.engine.snapshot().group
        return g.peers[0].differing if g is not None and g.peers else ()

    await async_wait_until(lambda: bool(differing()), timeout=10)
    assert differing() == ("virtual_server TCP 198.51.100.9:80",)
