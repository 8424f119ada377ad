"""global_defs.lvs_sync_daemon's options (maxlen, group, port, ttl) reach the dataplane, and a
reload that changes any setting restarts the daemon at once in the role it has (the kernel's
own read-back is in tests/vm/guest_ipvs.py and tests/engine/guest_engine.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from lvstui.clock import FakeClock
from lvstui.config.schema import Config, GlobalDefs, SyncDaemon
from lvstui.dataplane.base import NO_SYNC_OPTIONS, Capabilities, SyncOptions, SyncRole
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.errors import DataplaneError
from lvstui.model import LogEvent, VrrpChanged, VrrpRunState
from tests.engine.builders import FakeVrrp, config
from tests.helpers import async_wait_until


def with_sync(sd: SyncDaemon | None) -> Config:
    return replace(config(), global_defs=GlobalDefs(lvs_sync_daemon=sd))


def collect_logs(e: Engine) -> tuple[list[tuple[str, str]], asyncio.Task[None]]:
    """The engine's log lines (level, message) from now on, gathered by a task."""
    sub = e.subscribe()
    seen: list[tuple[str, str]] = []

    async def run() -> None:
        async for ev in sub:
            if isinstance(ev, LogEvent):
                seen.append((ev.level, ev.message))

    return seen, asyncio.create_task(run())


async def test_options_at_start_and_a_reload_restarts_the_daemon_at_once() -> None:
    sd = SyncDaemon("eth0", "vi", syncid=7, maxlen=1200, group="239.1.2.3", port=8900, ttl=3)
    dp = MemoryDataplane()
    vr = FakeVrrp()
    e = Engine(with_sync(sd), dataplane=dp, clock=FakeClock(), vrrp=vr)
    seen, reader = collect_logs(e)
    await e.start()
    try:
        assert dp.sync == (SyncRole.BACKUP, "eth0", 7)
        assert dp.sync_options == (1200, "239.1.2.3", 8900, 3)
        assert dp.sync_starts == 1
        # an unchanged reload leaves the running daemon alone
        assert (await e.reload(with_sync(sd))).ok
        assert dp.sync_starts == 1
        # a changed port and ttl, maxlen back to the default: restarted now, still BACKUP
        sd2 = replace(sd, maxlen=None, port=8950, ttl=None)
        assert (await e.reload(with_sync(sd2))).ok
        assert dp.sync == (SyncRole.BACKUP, "eth0", 7)
        assert dp.sync_options == (1472, "239.1.2.3", 8950, 1)  # the kernel's defaults
        assert dp.sync_starts == 2
        await async_wait_until(
            lambda: any(
                "restarted with new settings: backup" in m and "port 8950" in m for _, m in seen
            )
        )
        # the role flip keeps the new settings
        vr.state = VrrpRunState.MASTER
        await vr.queue.put(VrrpChanged(1.0, "vi", VrrpRunState.BACKUP, VrrpRunState.MASTER, "x"))
        await async_wait_until(lambda: dp.sync[0] is SyncRole.MASTER)
        assert dp.sync_options == (1472, "239.1.2.3", 8950, 1)
        # another interface and syncid while MASTER: restarted as MASTER
        assert (await e.reload(with_sync(replace(sd2, interface="eth1", syncid=8)))).ok
        assert dp.sync == (SyncRole.MASTER, "eth1", 8)
        # lvs_sync_daemon taken out: stopped
        assert (await e.reload(with_sync(None))).ok
        assert dp.sync[0] is SyncRole.NONE and dp.sync_options is None
    finally:
        reader.cancel()
        await e.stop()


async def test_a_refused_restart_is_logged_and_retried_by_the_next_reload() -> None:
    sd = SyncDaemon("eth0", "vi", syncid=7)
    dp = MemoryDataplane()
    e = Engine(with_sync(sd), dataplane=dp, clock=FakeClock(), vrrp=FakeVrrp())
    seen, reader = collect_logs(e)
    await e.start()
    try:
        # an empty interface cannot pass the config loader; the dataplane refusing stands for
        # the kernel refusing (no such device)
        assert (await e.reload(with_sync(replace(sd, interface="")))).ok
        await async_wait_until(
            lambda: any(lv == "error" and "cannot set the IPVS sync daemon" in m for lv, m in seen)
        )
        assert dp.sync[0] is SyncRole.NONE  # stopped for the restart, and not started again
        assert (await e.reload(with_sync(sd))).ok
        assert dp.sync == (SyncRole.BACKUP, "eth0", 7)
    finally:
        reader.cancel()
        await e.stop()


class BusyKernelDataplane(MemoryDataplane):
    """Refuses the first `refusals` daemon starts, as a kernel does while the interface is
    not there yet or a stopped daemon still holds its socket."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals

    async def set_sync_role(
        self,
        role: SyncRole,
        interface: str = "",
        syncid: int = 0,
        options: SyncOptions = NO_SYNC_OPTIONS,
    ) -> None:
        if role is not SyncRole.NONE and self.refusals > 0:
            self.refusals -= 1
            raise DataplaneError("starting the backup sync daemon: Device or resource busy")
        await super().set_sync_role(role, interface, syncid, options)


async def test_a_refused_start_is_retried_by_every_tick_and_said_once() -> None:
    sd = SyncDaemon("eth0", "vi", syncid=7)
    dp = BusyKernelDataplane(refusals=3)
    e = Engine(with_sync(sd), dataplane=dp, clock=FakeClock(), vrrp=FakeVrrp())
    seen, reader = collect_logs(e)
    await e.start()  # the first refusal
    try:
        assert dp.sync[0] is SyncRole.NONE
        await e.tick()
        await e.tick()  # the second and third refusals
        assert dp.sync[0] is SyncRole.NONE and dp.refusals == 0
        await e.tick()  # the kernel takes it now
        assert dp.sync == (SyncRole.BACKUP, "eth0", 7) and dp.sync_starts == 1
        await e.tick()  # running as asked: left alone
        assert dp.sync_starts == 1
        await async_wait_until(lambda: any("IPVS sync daemon now: backup" in m for _, m in seen))
        refused = [m for lv, m in seen if lv == "error" and "sync daemon" in m]
        assert len(refused) == 1 and "retried every tick" in refused[0], refused
    finally:
        reader.cancel()
        await e.stop()


class NoSyncDataplane(MemoryDataplane):
    """A dataplane without connection sync (the userspace forwarder's capabilities)."""

    @property
    def capabilities(self) -> Capabilities:
        return replace(super().capabilities, name="userspace", sync_daemon=False)


async def test_a_dataplane_without_sync_warns_once_and_is_not_asked() -> None:
    sd = SyncDaemon("eth0", "vi", syncid=7)
    dp = NoSyncDataplane()
    vr = FakeVrrp()
    e = Engine(with_sync(sd), dataplane=dp, clock=FakeClock(), vrrp=vr)
    seen, reader = collect_logs(e)
    await e.start()
    try:
        vr.state = VrrpRunState.MASTER
        await vr.queue.put(VrrpChanged(1.0, "vi", VrrpRunState.BACKUP, VrrpRunState.MASTER, "x"))
        await async_wait_until(lambda: e.snapshot().vrrp[0].state is VrrpRunState.MASTER)
        assert (await e.reload(with_sync(sd))).ok
        await asyncio.sleep(0.05)
        said = [m for lv, m in seen if lv == "warning" and m.startswith("lvs_sync_daemon:")]
        assert said == [
            "lvs_sync_daemon: the userspace dataplane has no IPVS connection sync; ignored "
            "(a failover drops the connections it relays)"
        ]
        assert dp.sync == (SyncRole.NONE, "", 0) and dp.sync_starts == 0
    finally:
        reader.cancel()
        await e.stop()
