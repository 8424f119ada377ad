"""One vrrp_instance driven: runs the instance's pure state machine against real (or fake)
edges. `VrrpGroup` (vrrp/group.py) makes one `VrrpNode` per instance.

A receive task feeds an inbox, the main task turns inbox items and timer deadlines into
`fsm.step` calls and executes the returned actions in order. Nothing here decides a
transition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from lvstui.clock import Clock, SystemClock
from lvstui.config.schema import TrackFile, VipAddress, VrrpInstance, VrrpScript, VrrpTrackProcess
from lvstui.errors import PacketError, VrrpError
from lvstui.model import Event, LogEvent, VrrpChanged, VrrpRunState, VrrpView
from lvstui.notify.fifo import vrrp_line
from lvstui.notify.scripts import ScriptRunner, notify_command
from lvstui.vrrp import fsm
from lvstui.vrrp.accept import DropSet
from lvstui.vrrp.addresses import AddressManager
from lvstui.vrrp.garp import Announcer, MemoryAnnouncer
from lvstui.vrrp.inbox import TIMER_SLACK, Dgram, Item, Reconfig, Stop, next_item
from lvstui.vrrp.packet import Advert, encode
from lvstui.vrrp.params import all_vips, fsm_params
from lvstui.vrrp.process import InstanceProcesses, ProcessTable
from lvstui.vrrp.routes import RouteManager
from lvstui.vrrp.scripts import InstanceScripts
from lvstui.vrrp.track import LinkMonitor, link_faults, tracked_weight, weighted_links
from lvstui.vrrp.trackfile import InstanceFiles
from lvstui.vrrp.transport import (
    Datagram,
    InterfaceUnavailable,
    Transport,
    decode_datagram,
)
from lvstui.vrrp.vips import VipHolder, held

__all__ = ["VrrpNode"]

log = logging.getLogger("lvstui.vrrp")

S = VrrpRunState
LINK_POLL = 0.1  # seconds between link-state looks (a dictionary lookup, see track.py)
OPEN_RETRY = 1.0  # seconds between two tries to open on an interface without an address


class VrrpNode:
    """One vrrp_instance. Create, `await start()`, `await stop()`."""

    def __init__(
        self,
        inst: VrrpInstance,
        *,
        clock: Clock,
        transport: Transport,
        addresses: AddressManager,
        announcer: Announcer | None = None,
        links: LinkMonitor | None = None,
        runner: ScriptRunner | None = None,
        scripts: dict[str, VrrpScript] | None = None,
        sync_group: str | None = None,
        emit: Callable[[Event], None] | None = None,
        routes: RouteManager | None = None,  # virtual_routes / virtual_rules
        drops: DropSet | None = None,  # accept = false
        processes: dict[str, VrrpTrackProcess] | None = None,  # the vrrp_track_processes
        proc_table: ProcessTable | None = None,
        files: dict[str, TrackFile] | None = None,  # the track_files
    ) -> None:
        self.inst = inst
        self.clock = clock
        self.transport = transport
        self.addresses = addresses
        self.announcer = announcer or MemoryAnnouncer()
        self.vips = VipHolder(addresses, self.announcer, self._log, routes, drops)
        self.links = links
        self.runner = runner
        self.scripts = scripts or {}
        self.sync_group = sync_group
        self._emit = emit or (lambda ev: None)
        self.listeners: list[Callable[[VrrpNode, VrrpRunState, VrrpRunState], None]] = []
        self.drops: Counter[str] = Counter()
        self.split_brains = 0
        self.adverts_in = 0
        self.adverts_out = 0
        self.priority_zero_in = 0  # a master leaving (keepalived's pri_zero_rcvd)
        self.priority_zero_out = 0
        self.become_master = 0
        self.release_master = 0
        self.last_transition: float | None = None
        self._inbox: asyncio.Queue[Item] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._prev_vips: tuple[VipAddress, ...] = ()  # before a reload (for SyncVips)
        self._synced: list[str] = []  # what SyncVips did (returned by reconfigure)
        self._faults: dict[str, str] = {}  # source → reason
        moved = lambda: self.post(fsm.PriorityChanged(self._effective_priority()))  # noqa: E731
        warn = lambda m: self._log("warning", m)  # noqa: E731
        self.track_scripts = InstanceScripts(clock, self.set_fault, moved, warn)
        self.procs = InstanceProcesses(processes or {}, proc_table, clock, self.set_fault, moved)
        self.files = InstanceFiles(files or {}, clock, self.set_fault, moved, warn)
        self._link_up: dict[str, bool] = {}  # weighted track_interface links: up?
        self._params: fsm.FsmParams | None = None
        self.state = fsm.FsmState(priority=inst.priority, master_adver_int=inst.advert_int)
        self._stopped = asyncio.Event()
        # receive timestamps are time.monotonic(): usable only when the clock is that one
        self._rx_clock = isinstance(clock, SystemClock)
        # the transport on `interface`: opened once it exists and has an address (until
        # then, and while it is gone, the instance is FAULT: "iface:<name>")
        self._opened = False
        self._ifindex: int | None = None  # the link monitor's index when opened
        self._tried_index: int | None = None
        self._last_try = float("-inf")
        self._unavailable = ""  # last reason logged, so a retry loop logs it once

    # --- public -----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.inst.name

    @property
    def own_faulted(self) -> bool:
        """Faulty for a reason of its own (not because a sync group partner is)."""
        return any(not k.startswith("sync:") for k in self._faults)

    def params(self) -> fsm.FsmParams:
        if self._params is None:
            raise VrrpError(f"instance {self.name} not started")
        return self._params

    async def start(self) -> None:
        inst = self.inst
        self._params = fsm_params(inst, self.transport.source)  # raises before anything opens
        # Like keepalived 2.x: a missing interface (a VLAN or bond created later) or one
        # without an address is no reason to stop: the instance waits in FAULT for it.
        await self._open_transport(startup=True)
        self.state = fsm.initial(self._params, inst.priority)
        # Like keepalived: VIPs left behind by a crashed run are removed before we start
        # (we start as BACKUP; a VIP on two directors would split the traffic).
        await self.vips.remove(inst, force=True)
        if self._opened:
            with contextlib.suppress(VrrpError, OSError):
                # opens the announcer's sockets now rather than during the first takeover
                await self.announcer.announce(inst.interface, (), 0)
        # a weight-0 script: FAULT until its first result (init_fail: until `rise` passes)
        self._faults.update(self.track_scripts.start(inst, self.scripts))
        self._faults.update(self.procs.start(inst))
        self._faults.update(self.files.start(inst))
        if self.links is not None:
            weighted = weighted_links(self.inst)
            for ifname in self._tracked_links():
                if ifname == inst.interface and not self._opened:
                    continue  # already FAULT for it, with a better reason
                up = await self.links.is_up(ifname)
                if ifname in weighted:
                    self._link_up[ifname] = up
                elif link_faults(self.inst, ifname, up):
                    self._faults[f"link:{ifname}"] = f"interface {ifname} down"
        self.state = fsm.FsmState(
            priority=self._effective_priority(),
            master_adver_int=inst.advert_int,
            faulted=bool(self._faults),
        )
        self._tasks.append(asyncio.create_task(self._recv_loop(), name=f"vrrp-recv-{self.name}"))
        self._tasks.append(asyncio.create_task(self._main(), name=f"vrrp-{self.name}"))
        if self.links is not None or not self._opened:
            self._tasks.append(
                asyncio.create_task(self._link_loop(), name=f"vrrp-link-{self.name}")
            )
        why = "; ".join(dict.fromkeys(self._faults.values()))
        # keepalived runs no notify script for a FAULT due only to scripts in init state
        waiting = self.track_scripts.waiting()
        quiet = bool(self._faults) and all(k in waiting for k in self._faults)
        self._inbox.put_nowait(fsm.Startup(why, quiet))

    async def stop(self, graceful: bool = True) -> None:
        if not self._tasks:
            return
        main = self._tasks[1]
        if not main.done():
            self._inbox.put_nowait(Stop(graceful))
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(main), 5.0)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        await self.track_scripts.stop()
        await self.procs.stop()
        await self.files.stop()
        self.transport.close()

    async def reconfigure(
        self,
        inst: VrrpInstance,
        scripts: dict[str, VrrpScript] | None = None,
        sync_group: str | None = None,
    ) -> list[str]:
        """Apply a reloaded config of this instance in place (same interface, VRID, version
        and family: see vrrp/reload.py). Runs on the node's own task, between two events, so
        no action of the machine sees half of it. Returns what it did to the addresses."""
        self.sync_group = sync_group
        scripts = self.scripts if scripts is None else scripts
        main = self._tasks[1] if len(self._tasks) > 1 else None
        if main is None or main.done():
            # not running (never started, or stopped): the next start uses it
            self.inst, self.scripts = inst, scripts
            return []
        done: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait(Reconfig(inst, scripts, done))
        # if the node stops meanwhile, its main task ends: do not wait for ever
        waiters: set[asyncio.Future[Any]] = {done, main}
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        return done.result() if done.done() else []

    def post(self, ev: fsm.Event) -> None:
        """Queue an event for the machine (sync groups, tests)."""
        self._inbox.put_nowait(ev)

    def clear_sync_faults(self, keep: set[str]) -> None:
        """After a reload changed the sync groups: forget faults of groups left."""
        for key in [k for k in self._faults if k.startswith("sync:") and k not in keep]:
            self.set_fault(key, False)

    def set_fault(self, source: str, on: bool, reason: str = "") -> None:
        was = bool(self._faults)
        if on:
            self._faults[source] = reason or source
        else:
            self._faults.pop(source, None)
        now = bool(self._faults)
        if now != was:
            why = reason if on else f"{source} cleared"
            self.post(fsm.FaultChanged(now, why))

    def view(self) -> VrrpView:
        inst = self.inst
        return VrrpView(
            name=inst.name,
            interface=inst.interface,
            vrid=inst.virtual_router_id,
            state=self.state.state,
            priority=self.state.priority,
            base_priority=inst.priority,
            version=inst.version,
            advert_int=inst.advert_int,
            vips=tuple(f"{v.address}/{v.prefixlen}" for v in inst.virtual_ipaddress),
            sync_group=self.sync_group,
            master_addr=self.state.master_addr,
            last_transition=self.last_transition,
            reason=self.state.reason,
            adverts_received=self.adverts_in,
            adverts_sent=self.adverts_out,
            priority_zero_received=self.priority_zero_in,
            priority_zero_sent=self.priority_zero_out,
            become_master=self.become_master,
            split_brains=self.split_brains,
            release_master=self.release_master,
            vip_devs=tuple(v.dev or "" for v in inst.virtual_ipaddress),
            drops=tuple(sorted(self.drops.items())),
            scripts=self.track_scripts.verdicts(),
        )

    # --- internals -----------------------------------------------------------------------------

    async def _apply_reconfig(self, new: VrrpInstance, scripts: dict[str, VrrpScript]) -> list[str]:
        old = self.inst
        params = fsm_params(new, self.transport.source)  # raises before anything changes
        was_faulted = bool(self._faults)
        self.inst, self.scripts = new, scripts
        self._faults = await self.track_scripts.reconfigure(new, scripts, self._faults)
        self._faults = await self.procs.reconfigure(new, self._faults)
        self._faults = await self.files.reconfigure(new, self._faults)
        # track_interface: forget links no longer tracked, look at the new ones now
        tracked = self._tracked_links()
        weighted = weighted_links(self.inst)
        for key in [k for k in self._faults if k.startswith("link:")]:
            if key[5:] not in tracked or key[5:] in weighted:
                del self._faults[key]
        self._link_up = {k: v for k, v in self._link_up.items() if k in weighted}
        if self.links is not None:
            for ifname in tracked:
                up = await self.links.is_up(ifname)
                if ifname in weighted:
                    self._link_up[ifname] = up
                elif link_faults(self.inst, ifname, up):
                    self._faults[f"link:{ifname}"] = f"interface {ifname} down"
        if bool(self._faults) != was_faulted:
            why = "; ".join(self._faults.values()) if self._faults else "reload cleared the fault"
            self.post(fsm.FaultChanged(bool(self._faults), why))
        if old.unicast_peer != new.unicast_peer:
            self.transport.set_peers(new.unicast_peer)
        old_params, self._params = self.params(), params
        self._prev_vips = all_vips(old)
        self._synced = []
        await self._handle(
            fsm.Reconfigure(old_params, self._effective_priority(), held(old) != held(new))
        )
        return self._synced

    def _tracked_links(self) -> tuple[str, ...]:
        seen = dict.fromkeys((self.inst.interface, *self.inst.track_interface))
        return tuple(seen)

    def _effective_priority(self) -> int:
        base = self.inst.priority
        if base == fsm.PRIO_OWNER:
            return base  # the address owner keeps 255 (keepalived ignores weights there)
        total = base + self.track_scripts.weight()
        for w in weighted_links(self.inst).values():
            total += tracked_weight(w.weight, w.reverse, self._link_up.get(w.name, True))
        total += self.procs.weight() + self.files.weight()
        return max(1, min(254, total))

    async def _check_links(self) -> None:
        """Look at every tracked link: an unweighted one down (reversed: up) is a FAULT, a
        weighted one changes the priority."""
        if self.links is None:
            return
        weighted = weighted_links(self.inst)
        moved = False
        for ifname in self._tracked_links():
            up = await self.links.is_up(ifname)
            key = f"link:{ifname}"
            if ifname in weighted:
                moved |= self._link_up.get(ifname, True) != up
                self._link_up[ifname] = up
                if key in self._faults:
                    self.set_fault(key, False, "")
                continue
            fault = link_faults(self.inst, ifname, up)
            if fault != (key in self._faults):
                why = f"interface {ifname} {'up (reverse)' if up else 'down'}"
                self.set_fault(key, fault, why)
        if moved:
            self.post(fsm.PriorityChanged(self._effective_priority()))

    async def _open_transport(self, *, startup: bool = False) -> bool:
        """Open the transport on the instance's interface. While the interface is missing
        or has no address of the family, the instance is FAULT ("iface:<name>"): logged
        once per reason, retried by the link loop. Returns whether it is open."""
        ifname = self.inst.interface
        key = f"iface:{ifname}"
        self._last_try = self.clock.now()
        idx: int | None = None
        try:
            if self.links is not None:
                idx = await self.links.index(ifname)
                if idx is None:
                    raise InterfaceUnavailable(f"interface {ifname!r} not found")
            await self.transport.open()
        except InterfaceUnavailable as exc:
            self._tried_index = idx
            if exc.message != self._unavailable:
                self._unavailable = exc.message
                self._log("warning", f"{self.name}: {exc.message}: FAULT until it is usable")
            if startup:
                self._faults[key] = exc.message
            else:
                self.set_fault(key, True, exc.message)
            return False
        self._opened, self._ifindex, self._unavailable = True, idx, ""
        # the source (tie-break address) is the interface's, known only now
        self._params = fsm_params(self.inst, self.transport.source)
        if key in self._faults:
            self._log(
                "info",
                f"{self.name}: interface {ifname} usable (source {self.transport.source})",
            )
            if startup:
                del self._faults[key]
            else:
                self.set_fault(key, False, f"interface {ifname} usable")
        return True

    async def _check_interface(self) -> None:
        """The instance's own interface: closed when it is gone (its socket is bound to
        the old ifindex, a new link of the same name needs a new one), opened when usable."""
        ifname = self.inst.interface
        idx: int | None = None
        if self.links is not None:
            idx = await self.links.index(ifname)
        if self._opened:
            if self.links is None or idx == self._ifindex:
                return
            self.transport.close()
            self._opened = False
            what = "gone" if idx is None else "created again"
            self._unavailable = f"interface {ifname!r} {what}"
            self._log("warning", f"{self.name}: {self._unavailable}: FAULT until it is usable")
            self.set_fault(f"iface:{ifname}", True, self._unavailable)
            if idx is None:
                return
        elif self.links is not None and idx is None:
            self._tried_index = None
            return
        if idx != self._tried_index or self.clock.now() - self._last_try >= OPEN_RETRY:
            await self._open_transport()

    async def _link_loop(self) -> None:
        while True:
            await self.clock.sleep(LINK_POLL)
            await self._check_interface()
            await self._check_links()

    async def _recv_loop(self) -> None:
        while True:
            dg = await self.transport.recv()
            self._inbox.put_nowait(Dgram(dg))

    async def _main(self) -> None:
        while True:
            item = await next_item(self._inbox, self.clock, fsm.next_deadline(self.state))
            if isinstance(item, Reconfig):
                try:
                    item.done.set_result(await self._apply_reconfig(item.inst, item.scripts))
                except Exception as exc:  # a bad value must not kill the running instance
                    item.done.set_exception(exc)
                continue
            if isinstance(item, Stop):
                await self._handle(fsm.Shutdown(item.graceful))
                await self.vips.remove(self.inst)
                return
            if isinstance(item, Dgram):
                ev = self._decode(item.dg)
                if ev is None:
                    continue
                # timers count from when the advert arrived, not from when we got to it
                # (only for a real transport on the system clock: rx_time is monotonic)
                now = self.clock.now()
                rx = item.dg.rx_time if self._rx_clock else None
                await self._handle(ev, rx if rx is not None and now - 0.5 < rx <= now else now)
            elif isinstance(item, fsm.Timer):
                # woken within the slack before the deadline: the deadline has come
                now = self.clock.now()
                dl = fsm.next_deadline(self.state)
                fire = dl if dl is not None and now < dl <= now + TIMER_SLACK else now
                await self._handle(item, fire)
            else:
                await self._handle(item)

    def _decode(self, dg: Datagram) -> fsm.AdvertIn | None:
        try:
            adv, src, ttl = decode_datagram(dg)
        except PacketError as exc:
            self._count_drop(exc.reason, f"{exc.message} from {dg.src}", True)
            return None
        self.adverts_in += 1
        self.priority_zero_in += adv.priority == 0
        return fsm.AdvertIn(adv, src, ttl)

    def _count_drop(self, reason: str, detail: str, loud: bool) -> None:
        self.drops[reason] += 1
        if loud and (self.drops[reason] <= 10 or self.drops[reason] % 1000 == 0):
            # keepalived logs every drop; we log the first ten per reason, then every 1000th
            self._log("warning", f"{self.name}: advert dropped ({reason}): {detail}")

    async def _handle(self, ev: fsm.Event, at: float | None = None) -> None:
        p = self.params()
        now = self.clock.now() if at is None else at
        self.state, actions = fsm.step(p, self.state, ev, now)
        for act in actions:
            try:
                await self._do(act)
            except VrrpError as exc:
                self._log("error", f"{self.name}: {exc.message}")
            except Exception as exc:  # an edge misbehaving must not kill the instance
                log.exception("%s: %s failed", self.name, type(act).__name__)
                self._log("error", f"{self.name}: {type(act).__name__} failed: {exc!r}")

    async def _do(self, act: fsm.Action) -> None:
        inst = self.inst
        if isinstance(act, fsm.SendAdvert):
            await self._send(act.priority)
        elif isinstance(act, fsm.AddVips):
            await self.vips.add(inst)
        elif isinstance(act, fsm.RemoveVips):
            await self.vips.remove(inst, force=True)
        elif isinstance(act, fsm.SyncVips):
            self._synced += await self.vips.sync(inst, self._prev_vips)
        elif isinstance(act, fsm.SendGarp):
            await self.vips.announce(inst, act.refresh)
        elif isinstance(act, fsm.Notify):
            self._transition(act)
        elif isinstance(act, fsm.Drop):
            self._count_drop(act.reason, act.detail, act.log)
        elif isinstance(act, fsm.Log):
            self._log(act.level, f"{self.name}: {act.message}")
        elif isinstance(act, fsm.SplitBrain):
            self.split_brains += 1

    async def _send(self, priority: int) -> None:
        p = self.params()
        adv = Advert(
            version=p.version,
            vrid=p.vrid,
            priority=priority,
            advert_int=p.advert_int,
            addrs=p.vips,
            family=self.transport.family,
            auth_type=p.auth_type,
            auth_data=p.auth_pass,
        )
        for dst in self.transport.destinations():
            await self.transport.send(encode(adv, src=self.transport.source, dst=dst), dst)
            self.adverts_out += 1
            self.priority_zero_out += priority == 0

    def _transition(self, act: fsm.Notify) -> None:
        self.last_transition = self.clock.wall()
        self.become_master += act.new is VrrpRunState.MASTER
        self.release_master += act.old is VrrpRunState.MASTER and act.new is not act.old
        log.info("%s: %s -> %s (%s)", self.name, act.old.value, act.new.value, act.reason)
        self._emit(VrrpChanged(self.clock.wall(), self.name, act.old, act.new, act.reason))
        if self.runner is not None and not act.quiet:
            inst = self.inst
            if self.runner.fifos is not None:
                line = vrrp_line("INSTANCE", self.name, act.new.value, self.state.priority)
                self.runner.fifos.vrrp(line)
            specific, user = notify_command(inst, act.new)
            if specific:
                what = f"notify_{act.new.value.lower()} {self.name}"
                self.runner.submit(what, specific, user=user)
            if inst.notify:
                self.runner.submit(
                    f"notify {self.name}",
                    inst.notify,
                    ("INSTANCE", self.name, act.new.value, str(self.state.priority)),
                    user=inst.notify_user,
                )
        for cb in list(self.listeners):
            cb(self, act.old, act.new)

    def _log(self, level: str, message: str) -> None:
        # level is a LogEvent level name ("info", "warning", "error"); unknown ones log as info
        log.log(logging.getLevelNamesMapping().get(level.upper(), logging.INFO), message)
        self._emit(LogEvent(self.clock.wall(), level, message))
