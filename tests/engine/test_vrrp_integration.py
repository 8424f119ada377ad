"""Two engines with the real VRRP driver on an in-memory LAN: the IPVS sync-daemon role
follows the VRRP instance, notify scripts share the engine's serial runner, and a graceful
stop hands the VIP over at once (priority 0) and releases the table."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from lvstui.clock import FakeClock
from lvstui.config.schema import Config, GlobalDefs, SyncDaemon, VipAddress, VrrpInstance
from lvstui.dataplane.base import SyncRole
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.model import VrrpChanged, VrrpRunState
from lvstui.notify.scripts import ScriptRunner
from lvstui.vrrp.addresses import MemoryAddresses
from lvstui.vrrp.garp import MemoryAnnouncer
from lvstui.vrrp.group import VrrpGroup
from lvstui.vrrp.track import MemoryLinks
from lvstui.vrrp.transport import MemoryHub
from tests.engine.builders import SK, config
from tests.helpers import async_wait_until


class Director:
    def __init__(self, hub: MemoryHub, clock: FakeClock, addr: str, cfg: Config) -> None:
        self.dp = MemoryDataplane()
        runner = ScriptRunner(timeout=5)
        self.group = VrrpGroup(
            cfg,
            clock,
            lambda inst: hub.transport(addr),
            MemoryAddresses(),
            announcer=MemoryAnnouncer(),
            links=MemoryLinks(),
            runner=runner,
        )
        self.engine = Engine(cfg, dataplane=self.dp, clock=clock, vrrp=self.group, notifier=runner)


async def advance_until(clock: FakeClock, cond, limit: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    t0 = clock.now()
    while not cond():
        assert clock.now() - t0 < limit, "not reached in time (fake seconds)"
        clock.advance(0.01)
        for _ in range(5):
            await asyncio.sleep(0)


def cfg_for(prio: int, script: Path) -> Config:
    inst = VrrpInstance(
        "VI_1",
        "eth0",
        51,
        priority=prio,
        advert_int=0.1,
        version=3,
        virtual_ipaddress=(VipAddress("198.51.100.9", 24),),
        notify_master=f"{script} master {prio}",
    )
    return replace(
        config(),
        global_defs=GlobalDefs(lvs_sync_daemon=SyncDaemon("eth0", "VI_1", syncid=3)),
        vrrp_instances=(inst,),
    )


async def test_sync_role_follows_vrrp_and_graceful_handover(recorder) -> None:  # type: ignore[no-untyped-def]
    script, log = recorder
    hub, clock = MemoryHub(), FakeClock()
    a = Director(hub, clock, "198.51.100.11", cfg_for(150, script))
    b = Director(hub, clock, "198.51.100.12", cfg_for(100, script))
    events = b.engine.subscribe()
    await a.engine.start()
    await b.engine.start()
    try:
        await advance_until(clock, lambda: a.dp.sync[0] is SyncRole.MASTER)
        await advance_until(clock, lambda: b.dp.sync[0] is SyncRole.BACKUP)
        assert a.dp.sync == (SyncRole.MASTER, "eth0", 3)
        assert {s.key for s in await a.dp.observe()} == {SK}
        await async_wait_until(lambda: log.exists() and "master 150" in log.read_text())

        await a.engine.stop()  # graceful: priority 0, then the table is released
        assert await a.dp.observe() == [] and a.dp.sync[0] is SyncRole.NONE
        await advance_until(clock, lambda: b.dp.sync[0] is SyncRole.MASTER, limit=1.0)
        await async_wait_until(lambda: "master 100" in log.read_text())
        seen = []
        while not any(isinstance(x, VrrpChanged) and x.new is VrrpRunState.MASTER for x in seen):
            seen.append(await asyncio.wait_for(anext(events), 2))
        assert b.engine.snapshot().vrrp[0].state is VrrpRunState.MASTER
    finally:
        events.close()
        await b.engine.stop()
        await a.engine.stop()
