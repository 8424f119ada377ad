"""`VrrpGroup`: every vrrp_instance and vrrp_sync_group of a Config, the engine's VRRP API.

::

    group = VrrpGroup(config, clock, transport_factory, addresses,
                      announcer=RawAnnouncer(), links=PyrouteLinks(), runner=ScriptRunner())
    await group.start()            # opens sockets, starts one task per instance
    group.views()                  # tuple[VrrpView, ...] for the Snapshot
    async for ev in group.events():  # VrrpChanged, LogEvent (split brain, drops), NotifyResult
        ...
    group.drops()                  # {reason: count} summed over instances, for metrics
    lines = await group.reload(new_config)  # apply a reloaded config (see vrrp/reload.py)
    await group.stop(graceful=True)  # masters send priority 0 and remove their VIPs;
                                     # then the edges given to the group are closed

`transport_factory(instance) -> Transport` (`raw_transport_factory` for real links,
`MemoryHub.transport` in tests). Each instance is a `VrrpNode` (vrrp/node.py); sync groups
(vrrp/sync.py) steer their members through the nodes' listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable

from lvstui.clock import Clock
from lvstui.config.schema import Config, VrrpInstance, VrrpScript
from lvstui.config.syncweights import as_run
from lvstui.errors import VrrpError
from lvstui.model import Event, LogEvent, NotifyResult, VrrpView
from lvstui.notify.scripts import ScriptRunner
from lvstui.vrrp.accept import DropSet, VipDrops
from lvstui.vrrp.addresses import AddressManager
from lvstui.vrrp.garp import Announcer
from lvstui.vrrp.node import VrrpNode
from lvstui.vrrp.process import ProcessTable
from lvstui.vrrp.reload import Change, describe, plan_reload
from lvstui.vrrp.routes import MemoryRoutes, RouteManager
from lvstui.vrrp.statics import Statics
from lvstui.vrrp.sync import SyncGroup
from lvstui.vrrp.track import LinkMonitor
from lvstui.vrrp.transport import RawSocketTransport, Transport
from lvstui.vrrp.vmac import MemoryVmacs, VmacFirst, VmacLinks, family_of, xmit_interface

__all__ = ["VrrpGroup", "raw_transport_factory"]

log = logging.getLogger("lvstui.vrrp")


def raw_transport_factory(inst: VrrpInstance) -> Transport:
    return RawSocketTransport(
        xmit_interface(inst),  # the VMAC with use_vmac (vrrp/vmac.py)
        family=family_of(inst),
        # an IPv4 VMAC has no address of its own to send from; an IPv6 one has its link-local
        address_of=inst.interface if family_of(inst) == 4 else "",
        unicast_src_ip=inst.unicast_src_ip,
        unicast_peers=inst.unicast_peer,
    )


class VrrpGroup:
    """Every vrrp_instance and vrrp_sync_group of a Config (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        clock: Clock,
        transport_factory: Callable[[VrrpInstance], Transport],
        addresses: AddressManager,
        *,
        announcer: Announcer | None = None,
        links: LinkMonitor | None = None,
        runner: ScriptRunner | None = None,
        routes: RouteManager | None = None,
        drops: DropSet | None = None,
        proc_table: ProcessTable | None = None,  # track_process's view of /proc
        vmacs: VmacLinks | None = None,
    ) -> None:
        config = as_run(config)  # keepalived's sync group weight rule (config/syncweights.py)
        self.config = config
        self.proc_table = proc_table
        self.clock = clock
        self.transport_factory = transport_factory
        self.addresses = addresses
        self.announcer = announcer
        self.routes = routes or MemoryRoutes()
        self.vip_drops = drops or VipDrops()
        self.vmacs = vmacs or MemoryVmacs()
        self.statics = Statics(addresses, self.routes, self._log)
        self._set_garp_intervals(config)
        self.links = links
        self._own_runner = runner is None
        self.runner = runner or ScriptRunner(
            timeout=config.lvstui.notify_timeout, on_result=self._on_notify, wall=clock.wall
        )
        self._events: asyncio.Queue[Event] = asyncio.Queue(10_000)
        self._runner_task: asyncio.Task[None] | None = None
        self._started = False
        self._delayed: asyncio.Task[None] | None = None  # vrrp_startup_delay's wait
        self._procs = {p.name: p for p in config.vrrp_track_processes}
        self._files = {f.name: f for f in config.track_files}
        scripts = {s.name: s for s in config.vrrp_scripts}
        member_of = {m: g.name for g in config.vrrp_sync_groups for m in g.group}
        self.nodes: dict[str, VrrpNode] = {}
        for inst in config.vrrp_instances:
            self.nodes[inst.name] = self._make_node(inst, scripts, member_of.get(inst.name))
        self.sync_groups = [
            SyncGroup(g, [self.nodes[m] for m in g.group if m in self.nodes], self.runner)
            for g in config.vrrp_sync_groups
        ]

    def _make_node(
        self, inst: VrrpInstance, scripts: dict[str, VrrpScript], sync_group: str | None
    ) -> VrrpNode:
        transport = self.transport_factory(inst)
        if inst.use_vmac:  # made at start, as keepalived does: before its socket opens
            transport = VmacFirst(transport, self.vmacs, inst)
        node = VrrpNode(
            inst,
            clock=self.clock,
            transport=transport,
            addresses=self.addresses,
            announcer=self.announcer,
            links=self.links,
            runner=self.runner,
            scripts=scripts,
            sync_group=sync_group,
            emit=self._emit,
            routes=self.routes,
            drops=self.vip_drops,
            processes=self._procs,
            proc_table=self.proc_table,
            files=self._files,
        )
        node.vips.vmacs = self.vmacs  # use_vmac, the VIPs' side: one edge for the group
        return node

    def _emit(self, ev: Event) -> None:
        if not self._events.full():
            self._events.put_nowait(ev)

    def _on_notify(self, res: NotifyResult) -> None:
        self._emit(res)

    def _set_garp_intervals(self, config: Config) -> None:
        if self.announcer is not None:
            gd = config.global_defs
            self.announcer.set_intervals(gd.vrrp_garp_interval, gd.vrrp_gna_interval)

    async def start(self) -> None:
        if self._own_runner and self._runner_task is None:
            self._runner_task = asyncio.create_task(self.runner.run(), name="vrrp-notify")
        # static_*: there from the start, whatever the state (and before vrrp_startup_delay)
        for line in await self.statics.apply(self.config.global_defs):
            log.info("%s", line)
        delay = self.config.global_defs.vrrp_startup_delay
        if delay > 0:
            # keepalived's vrrp_startup_delay: the instances wait (in INIT) for the network of
            # a booting host to settle; the rest of the director starts now
            self._delayed = asyncio.create_task(self._start_later(delay), name="vrrp-delay")
            return
        await self._start_nodes()

    async def _start_later(self, delay: float) -> None:
        await self.clock.sleep(delay)
        try:
            await self._start_nodes()
        except Exception as exc:
            self._log_error(f"VRRP not started after vrrp_startup_delay: {exc}")

    async def _start_nodes(self) -> None:
        started: list[VrrpNode] = []
        try:
            for node in self.nodes.values():
                await node.start()
                started.append(node)
        except BaseException:
            for node in started:
                await node.stop(graceful=False)
            await self.statics.remove()
            await self._stop_runner()
            raise
        self._started = True

    async def reload(self, config: Config) -> list[str]:
        """Apply a reloaded configuration without needless failovers (see vrrp/reload.py):
        unchanged instances are not touched, in-place changes go to the running nodes,
        the others stop gracefully and/or start. Returns what was done, one line each
        (nothing for an unchanged configuration)."""
        config = as_run(config)  # keepalived's sync group weight rule (config/syncweights.py)
        plans = plan_reload(self.config, config)
        lines = describe(self.config, config)
        scripts = {s.name: s for s in config.vrrp_scripts}
        self._procs = {p.name: p for p in config.vrrp_track_processes}
        self._files = {f.name: f for f in config.track_files}
        for kept in self.nodes.values():
            kept.procs.defs = self._procs  # a redefined one makes its instance's plan UPDATE
            kept.files.defs = self._files
        member_of = {m: g.name for g in config.vrrp_sync_groups for m in g.group}
        # sync groups stop steering their members while they change
        old_groups = {g.name: g for g in self.sync_groups}
        for g in self.sync_groups:
            g.detach()
        # the old routers leave first, so a restarted one never runs twice at once
        for p in plans:
            if p.change in (Change.REMOVE, Change.RESTART):
                await self.nodes.pop(p.name).stop(graceful=True)
        new_insts = {i.name: i for i in config.vrrp_instances}
        for p in plans:
            node = self.nodes.get(p.name)
            if node is None:
                continue
            if p.change is Change.UPDATE:
                try:
                    lines += await node.reconfigure(
                        new_insts[p.name], scripts, member_of.get(p.name)
                    )
                except VrrpError as exc:
                    lines.append(f"! vrrp_instance {p.name}: not updated: {exc.message}")
            else:  # KEEP: same settings; only the shared script table and group may move
                node.scripts, node.sync_group = scripts, member_of.get(p.name)
        nodes: dict[str, VrrpNode] = {}
        for inst in config.vrrp_instances:
            node = self.nodes.get(inst.name)
            if node is None:
                node = self._make_node(inst, scripts, member_of.get(inst.name))
                if self._started:
                    try:
                        await node.start()
                    except (VrrpError, OSError) as exc:
                        node.transport.close()  # start raises before any task exists
                        lines.append(f"! vrrp_instance {inst.name}: not started: {exc}")
                        self._log_error(f"vrrp_instance {inst.name} not started: {exc}")
            nodes[inst.name] = node
        self.nodes = nodes
        self.sync_groups = []
        for gc in config.vrrp_sync_groups:
            g = SyncGroup(gc, [nodes[m] for m in gc.group if m in nodes], self.runner)
            old = old_groups.get(gc.name)
            if old is not None and old.cfg.group == gc.group:
                g.state = old.state  # same members: no group notify for a state it had
            self.sync_groups.append(g)
        # faults follow the new membership: set the current ones, then clear stale keys
        for g in self.sync_groups:
            g.resync()
        for node in nodes.values():
            node.clear_sync_faults(keep={f"sync:{g.name}" for g in self.sync_groups})
        self.config = config
        self._set_garp_intervals(config)
        return lines + await self.statics.apply(config.global_defs)

    def _log(self, level: str, message: str) -> None:
        if level == "error":
            self._log_error(message)
        else:
            log.info("%s", message)

    def _log_error(self, message: str) -> None:
        log.error("%s", message)
        self._emit(LogEvent(self.clock.wall(), "error", message))

    async def stop(self, graceful: bool = True) -> None:
        if self._delayed is not None and not self._delayed.done():
            self._delayed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delayed
        for node in self.nodes.values() if self._started or self._delayed is None else ():
            await node.stop(graceful)
        await self.statics.remove()
        await self.routes.close()
        await self.vmacs.close()
        try:
            await self.vip_drops.close()
        except VrrpError as exc:
            self._log_error(exc.message)
        # the group owns the edges it was given: their sockets close with it
        if self.links is not None:
            await self.links.close()
        await self.addresses.close()
        if self.announcer is not None:
            self.announcer.close()
        await self._stop_runner()

    async def _stop_runner(self) -> None:
        if self._runner_task is not None:
            # let the stop notifications run (bounded: a hung script does not hold the stop)
            await self.runner.finish()
            self._runner_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner_task
            self._runner_task = None

    def views(self) -> tuple[VrrpView, ...]:
        return tuple(n.view() for n in self.nodes.values())

    def drops(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for n in self.nodes.values():
            total.update(n.drops)
        return dict(total)

    async def events(self) -> AsyncIterator[Event]:
        while True:
            yield await self._events.get()
