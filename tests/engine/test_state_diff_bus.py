"""Overrides state file, config diff, event bus, history rings, supervisor."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from lvstui.clock import FakeClock
from lvstui.config.diff import diff_configs
from lvstui.config.schema import (
    Config,
    LbKind,
    RealServer,
    VipAddress,
    VirtualServer,
    VrrpInstance,
)
from lvstui.config.state import AddedReal, Overrides, StateFile, unmatched_overrides
from lvstui.dataplane.base import ObservedDest, ObservedService
from lvstui.engine.bus import EventBus
from lvstui.engine.stats import StatsHistory
from lvstui.engine.supervisor import Supervisor
from lvstui.errors import ConfigError
from lvstui.model import LogEvent, RealKey, ServiceKey, Stats

SK = ServiceKey.parse("TCP 198.51.100.9:80")
SK6 = ServiceKey.parse("udp [2001:db8::9]:53")
R1 = RealKey("192.0.2.1", 80)


def test_state_roundtrip_atomic(tmp_path: Path) -> None:
    sf = StateFile(tmp_path / "state")
    assert sf.load().is_empty()
    ov = (
        Overrides()
        .drain((SK, R1), 30.0)
        .set_weight((SK, RealKey("192.0.2.2", 80)), 7)
        .add((SK6, RealKey("2001:db8::3", 53)), AddedReal(2, LbKind.DR))
        .remove((SK, RealKey("192.0.2.3", 80)), configured=True)
    )
    sf.save(ov)
    assert sf.load() == ov
    text = sf.path.read_text()
    assert 'service = "TCP 198.51.100.9:80"' in text and "timeout = 30.0" in text
    # no temp file left behind, and a second save replaces the file
    sf.save(ov.undrain((SK, R1)))
    assert [p.name for p in sf.dir.iterdir()] == ["overrides.toml"]
    assert (SK, R1) not in sf.load().drained


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("version = 2\n", "unsupported state file version"),
        ("[[weight]]\nservice='TCP 1.2.3.4:80'\nreal='1.2.3.5:80'\nweight=70000\n", "weight"),
        ("[[drain]]\nservice='nonsense'\nreal='1.2.3.5:80'\n", "drain"),
        ("this is not toml", "cannot parse"),
    ],
)
def test_state_errors_are_clear(tmp_path: Path, content: str, match: str) -> None:
    (tmp_path / "overrides.toml").write_text(content)
    with pytest.raises(ConfigError, match=match) as ei:
        StateFile(tmp_path).load()
    assert "overrides.toml" in str(ei.value)


def test_unmatched_overrides_are_reported() -> None:
    cfg = Config(
        virtual_servers=(
            VirtualServer(ip="198.51.100.9", port=80, real_servers=(RealServer("192.0.2.1", 80),)),
        )
    )
    ov = Overrides().drain((SK, RealKey("192.0.2.9", 80)), None).set_weight((SK6, R1), 3)
    lines = unmatched_overrides(ov, cfg)
    assert len(lines) == 2
    assert any("no such service" in x for x in lines)
    assert any("no such real server" in x for x in lines)
    assert unmatched_overrides(Overrides().drain((SK, R1), None), cfg) == []


def _cfg(
    weight: int = 1, algo: str = "rr", extra: bool = False, vip: str = "198.51.100.9"
) -> Config:
    reals = [RealServer("192.0.2.1", 80, weight=weight), RealServer("192.0.2.2", 80)]
    if extra:
        reals.append(RealServer("192.0.2.3", 80))
    services = [VirtualServer(ip="198.51.100.9", port=80, lb_algo=algo, real_servers=tuple(reals))]
    if extra:
        services.append(VirtualServer(ip="198.51.100.9", port=443))
    return Config(
        virtual_servers=tuple(services),
        vrrp_instances=(VrrpInstance("vi", "eth0", 51, virtual_ipaddress=(VipAddress(vip, 32),)),),
    )


def test_diff_lines() -> None:
    assert diff_configs(_cfg(), _cfg()) == []
    lines = diff_configs(_cfg(), _cfg(weight=2, algo="wrr", extra=True, vip="198.51.100.10"))
    assert "~ TCP 198.51.100.9:80 lb_algo rr → wrr" in lines
    assert "~ TCP 198.51.100.9:80 real 192.0.2.1:80 weight 1 → 2" in lines
    assert "+ TCP 198.51.100.9:80 real 192.0.2.3:80 weight 1" in lines
    assert any(x.startswith("+ TCP 198.51.100.9:443") for x in lines)
    assert "+ VIP 198.51.100.10/32 on vi" in lines
    assert "- VIP 198.51.100.9/32 on vi" in lines
    back = diff_configs(_cfg(extra=True), _cfg())
    assert "- TCP 198.51.100.9:443" in back
    assert "- TCP 198.51.100.9:80 real 192.0.2.3:80" in back


async def test_bus_fanout_and_slow_subscriber() -> None:
    bus = EventBus(maxsize=3, wall=lambda: 1.0)
    fast, slow = bus.subscribe(), bus.subscribe()
    got_fast = []
    for i in range(5):
        bus.publish(LogEvent(float(i), "info", f"m{i}"))
        got_fast.append(await anext(fast))
    assert [e.message for e in got_fast] == [f"m{i}" for i in range(5)]  # type: ignore[union-attr]
    first = await anext(slow)
    assert isinstance(first, LogEvent) and "2 event(s) dropped" in first.message
    rest = [await anext(slow) for _ in range(3)]
    assert [e.message for e in rest] == ["m2", "m3", "m4"]  # type: ignore[union-attr]
    assert slow.dropped == 2
    slow.close()
    assert bus.subscribers == 1
    bus.close()
    with pytest.raises(StopAsyncIteration):
        await anext(fast)


def test_history_rings() -> None:
    h = StatsHistory(size=3)
    for i in range(5):
        obs = ObservedService(
            SK,
            "rr",
            dests=(ObservedDest(R1, 1, LbKind.NAT, active_conns=i),),
            stats=Stats(conns=10 * i),
        )
        h.sample([obs], now=float(i))
    assert h.real(SK, R1) == (2, 3, 4)
    assert h.service(SK) == (10, 10, 10)  # derived from the conns counter: 10/s
    h.sample([], now=6.0)
    assert h.real(SK, R1) == () and h.service(SK) == ()


async def test_supervisor_restarts_crashed_task_with_backoff() -> None:
    clock = FakeClock()
    crashes: list[tuple[str, float]] = []
    runs = 0
    done = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError(f"boom {runs}")
        done.set()
        await asyncio.Event().wait()

    sup = Supervisor(clock=clock, initial=1.0, on_crash=lambda n, e, d: crashes.append((n, d)))
    sup.add("flaky", flaky)
    sup.start()
    for _ in range(50):
        await asyncio.sleep(0)
        clock.advance(1.0)
        if done.is_set():
            break
    assert done.is_set()
    assert crashes == [("flaky", 1.0), ("flaky", 2.0)]
    await sup.stop()


def test_state_file_mode(tmp_path: Path) -> None:
    sf = StateFile(tmp_path)
    sf.save(Overrides().drain((SK, R1), None))
    assert os.stat(sf.path).st_size > 0
