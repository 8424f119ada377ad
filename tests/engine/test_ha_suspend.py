"""ha_suspend: a virtual server's checks pause while no VRRP instance carrying its VIP is
MASTER here, keep their last state meanwhile, and resume on MASTER. The decision (pure, table
driven), HealthMonitor.suspend/resume, and the engine with a fake VRRP driver flipping."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

import pytest

from lvstui.clock import FakeClock
from lvstui.config.schema import (
    CheckKind,
    Config,
    RealServer,
    TcpCheck,
    VipAddress,
    VirtualServer,
    VrrpInstance,
)
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.engine.hasuspend import SUSPENDED_REASON, Carrier, ha_suspended, same_address
from lvstui.health.base import CheckSpec, CheckTarget, ScriptedChecker
from lvstui.health.scheduler import HealthMonitor
from lvstui.model import (
    CheckView,
    Event,
    Health,
    RealKey,
    ServiceKey,
    VrrpChanged,
    VrrpRunState,
    VrrpView,
)

M, B, F = VrrpRunState.MASTER, VrrpRunState.BACKUP, VrrpRunState.FAULT
VIP = "198.51.100.9"


@pytest.mark.parametrize(
    ("ha_suspend", "vip", "carriers", "suspended"),
    [
        (False, VIP, [(B, [f"{VIP}/24"])], False),  # option off: never
        (True, VIP, [(B, [f"{VIP}/24"])], True),  # carried by a BACKUP instance
        (True, VIP, [(F, [VIP])], True),  # FAULT
        (True, VIP, [(VrrpRunState.INIT, [VIP])], True),  # not yet decided
        (True, VIP, [(M, [f"{VIP}/24"])], False),  # MASTER here: local
        (True, VIP, [(B, [VIP]), (M, [VIP])], False),  # one carrier MASTER is enough
        (True, VIP, [(M, ["198.51.100.10"]), (B, [VIP])], True),  # MASTER of another VIP
        (True, VIP, [(B, ["198.51.100.10"])], False),  # no VRRP carries it: outside lvstui
        (True, VIP, [], False),  # no VRRP instance at all
        (True, None, [(B, [VIP])], False),  # fwmark service: no address
        (True, "2001:db8::1", [(B, ["2001:db8:0::1/64"])], True),  # IPv6, spelled otherwise
        (True, "2001:db8::1", [(M, ["2001:db8::1"])], False),
        (True, "fe80::1", [(B, ["fe80::1%eth0/64"])], True),  # zone ignored
        (True, VIP, [(B, ["not-an-address"])], False),
    ],
)
def test_decision(
    ha_suspend: bool, vip: str | None, carriers: list[Carrier], suspended: bool
) -> None:
    assert ha_suspended(ha_suspend, vip, carriers) is suspended


def test_same_address() -> None:
    assert same_address("10.0.0.1/8", "10.0.0.1")
    assert not same_address("10.0.0.1", "10.0.0.2")
    assert not same_address("x", "x")


# --- HealthMonitor.suspend / resume ----------------------------------------------------------


def spec(port: int) -> CheckSpec:
    return CheckSpec(
        kind=CheckKind.TCP_CHECK,
        target=CheckTarget("192.0.2.1", port),
        period=1.0,
        timeout=1.0,
        retry=0,
        delay_before_retry=1.0,
        warmup=0.0,
        rise=1,
        fall=1,
        check=TcpCheck(),
    )


async def step(clock: FakeClock, seconds: float) -> None:
    """Advance fake time by 0.1 s steps, letting every task run in between."""
    for _ in range(round(seconds / 0.1)):
        clock.advance(0.1)
        for _ in range(20):
            await asyncio.sleep(0)


async def test_monitor_suspend_keeps_state_and_resume_runs_again() -> None:
    clock = FakeClock()
    mon: HealthMonitor[str] = HealthMonitor(clock, rng=random.Random(1))
    chk = ScriptedChecker(spec(80), [True])
    mon.add("a", [chk])
    with pytest.raises(KeyError):
        mon.suspend("nope")
    mon.suspend("a")  # before run(): run() does not start it
    task = asyncio.create_task(mon.run())
    try:
        await step(clock, 3)
        assert chk.calls == 0 and mon.is_suspended("a") and mon.health("a") is Health.UP
        mon.resume("a")
        await step(clock, 3)
        assert chk.calls >= 2 and not mon.is_suspended("a")
        mon.suspend("a")
        calls = chk.calls
        chk.set_results([False])  # would go DOWN if it ran
        await step(clock, 3)
        assert chk.calls == calls and mon.health("a") is Health.UP  # last state kept
        mon.update("a", [chk])  # a reload keeps it suspended
        await step(clock, 2)
        assert chk.calls == calls
        mon.resume("a")
        await step(clock, 2)
        assert mon.health("a") is Health.DOWN
    finally:
        mon.stop()
        await asyncio.wait_for(task, 5)


# --- the engine with a VRRP driver flipping ----------------------------------------------------


class FlipVrrp:
    """A fake VRRP driver: one instance carrying the VIP; `flip` changes its state."""

    def __init__(self) -> None:
        self.state = B
        self.queue: asyncio.Queue[Event] = asyncio.Queue()

    async def start(self) -> None:
        pass

    async def stop(self, graceful: bool = True) -> None:
        pass

    async def reload(self, config: object) -> list[str]:
        return []  # VRRP settings are not what these tests change

    def views(self) -> tuple[VrrpView, ...]:
        return (VrrpView("VI_1", "eth0", 51, self.state, 100, 100, 3, 1.0, vips=(f"{VIP}/24",)),)

    def drops(self) -> dict[str, int]:
        return {}

    def flip(self, new: VrrpRunState) -> None:
        old, self.state = self.state, new
        self.queue.put_nowait(VrrpChanged(0.0, "VI_1", old, new, "test"))

    async def events(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()


SK_HA = ServiceKey.parse(f"TCP {VIP}:80")
SK_OTHER = ServiceKey.parse(f"TCP {VIP}:443")
REAL = RealKey("192.0.2.1", 80)


@pytest.fixture
async def rig() -> AsyncIterator[tuple[Engine, FlipVrrp, FakeClock, dict[int, ScriptedChecker]]]:
    clock = FakeClock()
    checkers: dict[int, ScriptedChecker] = {}

    def factory(rs: RealServer, vs: VirtualServer) -> Sequence[Any]:
        checkers[vs.port] = ScriptedChecker(spec(vs.port), [True])
        return [checkers[vs.port]]

    def vs(port: int, ha: bool) -> VirtualServer:
        return VirtualServer(
            ip=VIP,
            port=port,
            lb_algo="rr",
            ha_suspend=ha,
            real_servers=(RealServer(REAL.addr, REAL.port, checks=(TcpCheck(),)),),
        )

    cfg = Config(
        path="<test>",
        virtual_servers=(vs(80, True), vs(443, False)),
        vrrp_instances=(
            VrrpInstance("VI_1", "eth0", 51, virtual_ipaddress=(VipAddress(VIP, 24),)),
        ),
    )
    vrrp = FlipVrrp()
    e = Engine(
        cfg,
        dataplane=MemoryDataplane(),
        clock=clock,
        health=HealthMonitor(clock, rng=random.Random(1)),
        checkers=factory,
        vrrp=vrrp,
    )
    await e.start()
    try:
        yield e, vrrp, clock, checkers
    finally:
        await e.stop()


def checks(e: Engine, key: ServiceKey) -> tuple[CheckView, ...]:
    svc = next(s for s in e.snapshot().services if s.key == key)
    return svc.real_servers[0].checks


async def test_engine_suspends_checks_while_backup(rig) -> None:  # type: ignore[no-untyped-def]
    e, vrrp, clock, chk = rig
    ha, other = chk[80], chk[443]
    # BACKUP at start: the ha_suspend service's checks do not run, the other's do
    await step(clock, 3)
    assert ha.calls == 0 and other.calls >= 2
    (view,) = checks(e, SK_HA)
    assert view.last_reason == SUSPENDED_REASON
    assert not checks(e, SK_OTHER)[0].last_reason.startswith("suspended")

    vrrp.flip(M)  # the VIP is ours: checks resume
    await step(clock, 3)
    assert ha.calls >= 2
    (view,) = checks(e, SK_HA)
    assert view.last_reason == "ok" and view.health is Health.UP

    vrrp.flip(B)  # back to BACKUP: suspended, last state kept even if it would fail now
    await step(clock, 0.5)
    calls = ha.calls
    ha.set_results([False])
    await step(clock, 3)
    assert ha.calls == calls
    rs = next(s for s in e.snapshot().services if s.key == SK_HA).real_servers[0]
    assert rs.health is Health.UP and rs.weight == 1
    assert rs.checks[0].last_reason == f"{SUSPENDED_REASON}; last: ok"

    vrrp.flip(M)  # resumed: the failure is seen now
    await step(clock, 3)
    rs = next(s for s in e.snapshot().services if s.key == SK_HA).real_servers[0]
    assert rs.health is Health.DOWN and ha.calls > calls

    # a reload turning ha_suspend off while BACKUP keeps the checks running
    vrrp.flip(B)
    await step(clock, 0.5)
    calls = ha.calls
    await step(clock, 2)
    assert ha.calls == calls
    new = replace(
        e.config,
        virtual_servers=tuple(replace(v, ha_suspend=False) for v in e.config.virtual_servers),
    )
    assert (await e.reload(new)).ok
    await step(clock, 3)
    assert ha.calls > calls
    assert not checks(e, SK_HA)[0].last_reason.startswith("suspended")
