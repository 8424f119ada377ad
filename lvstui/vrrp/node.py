"""The VRRP driver: runs each instance's pure state machine against real (or fake) edges.

API for the engine::

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
`MemoryHub.transport` in tests). Each `VrrpNode` owns one instance: a receive task feeds
an inbox, the main task turns inbox items and timer deadlines into `fsm.step` calls and
executes the returned actions in order. Nothing here decides a transition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from lvstui.clock import Clock, SystemClock
from lvstui.config.schema import (
    MAX_VIPS_PER_ADVERT,
    Config,
    VipAddress,
    VrrpInstance,
    VrrpScript,
    VrrpState,
)
from lvstui.config.schema import AuthType as CfgAuth
from lvstui.errors import PacketError, VrrpError
from lvstui.model import Event, LogEvent, NotifyResult, VrrpChanged, VrrpRunState, VrrpView
from lvstui.notify.scripts import ScriptRunner
from lvstui.vrrp import fsm
from lvstui.vrrp.addresses import AddressManager
from lvstui.vrrp.garp import Announcer, MemoryAnnouncer
from lvstui.vrrp.packet import Advert, AuthType, encode
from lvstui.vrrp.track import LinkMonitor, ScriptTracker, script_weight
from lvstui.vrrp.transport import (
    Datagram,
    InterfaceUnavailable,
    RawSocketTransport,
    Transport,
    decode_datagram,
)

__all__ = ["VrrpGroup", "VrrpNode", "fsm_params", "raw_transport_factory"]

log = logging.getLogger("lvstui.vrrp")

S = VrrpRunState
LINK_POLL = 0.1  # seconds between link-state looks (a dictionary lookup, see track.py)
OPEN_RETRY = 1.0  # seconds between two tries to open on an interface without an address
TIMER_SLACK = 0.001  # a timer may fire this early: the event loop's resolution (epoll: 1 ms)


def raw_transport_factory(inst: VrrpInstance) -> Transport:
    fam = inst.virtual_ipaddress[0].family if inst.virtual_ipaddress else 4
    return RawSocketTransport(
        inst.interface,
        family=fam,
        unicast_src_ip=inst.unicast_src_ip,
        unicast_peers=inst.unicast_peer,
    )


def fsm_params(inst: VrrpInstance, primary_addr: str) -> fsm.FsmParams:
    """The state machine's view of a vrrp_instance (raises for what we cannot run)."""
    auth = AuthType.PASS if inst.auth_type == CfgAuth.PASS else AuthType.NONE
    if inst.auth_type == CfgAuth.AH:
        raise VrrpError(
            f"vrrp_instance {inst.name}: auth_type AH is not supported",
            hint="use PASS (sent in clear) or no authentication",
        )
    return fsm.FsmParams(
        vrid=inst.virtual_router_id,
        version=inst.version,
        advert_int=inst.advert_int,
        vips=tuple(v.address for v in inst.virtual_ipaddress[:MAX_VIPS_PER_ADVERT]),
        primary_addr=primary_addr,
        want_master=inst.state == VrrpState.MASTER,
        preempt=not inst.nopreempt,
        preempt_delay=inst.preempt_delay,
        auth_type=auth,
        auth_pass=inst.auth_pass.encode()[:8].ljust(8, b"\0") if auth else b"",
        garp_delay=inst.garp_master_delay,
        garp_refresh=inst.garp_master_refresh,
    )


def _all_vips(inst: VrrpInstance) -> tuple[VipAddress, ...]:
    return inst.virtual_ipaddress + inst.virtual_ipaddress_excluded


@dataclass(frozen=True, slots=True)
class _Dgram:
    dg: Datagram


@dataclass(frozen=True, slots=True)
class _Stop:
    graceful: bool


@dataclass(frozen=True, slots=True, eq=False)
class _Reconfig:
    inst: VrrpInstance
    scripts: dict[str, VrrpScript]
    done: asyncio.Future[list[str]]


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
    ) -> None:
        self.inst = inst
        self.clock = clock
        self.transport = transport
        self.addresses = addresses
        self.announcer = announcer or MemoryAnnouncer()
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
        self.last_transition: float | None = None
        self._inbox: asyncio.Queue[fsm.Event | _Dgram | _Stop | _Reconfig] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._trackers: dict[str, asyncio.Task[None]] = {}  # track_script name → its task
        self._prev_vips: tuple[VipAddress, ...] = ()  # before a reload (for SyncVips)
        self._synced: list[str] = []  # what SyncVips did (returned by reconfigure)
        self._faults: dict[str, str] = {}  # source → reason
        self._script_ok: dict[str, bool] = {}
        self._params: fsm.FsmParams | None = None
        self.state = fsm.FsmState(priority=inst.priority, master_adver_int=inst.advert_int)
        self._stopped = asyncio.Event()
        # receive timestamps are time.monotonic(): usable only when the clock is that one
        self._rx_clock = isinstance(clock, SystemClock)
        self._vips_on = False
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
        await self._drain_vips(force=True)
        if self._opened:
            with contextlib.suppress(VrrpError, OSError):
                # opens the announcer's sockets now rather than during the first takeover
                await self.announcer.announce(inst.interface, (), 0)
        # a weight-0 script starts failed: FAULT until it passes `rise` times
        self._init_scripts(inst.track_script)
        if self.links is not None:
            for ifname in self._tracked_links():
                if ifname == inst.interface and not self._opened:
                    continue  # already FAULT for it, with a better reason
                if not await self.links.is_up(ifname):
                    self._faults[f"link:{ifname}"] = f"interface {ifname} down"
        self.state = fsm.FsmState(
            priority=self._effective_priority(),
            master_adver_int=inst.advert_int,
            faulted=bool(self._faults),
        )
        self._tasks.append(asyncio.create_task(self._recv_loop(), name=f"vrrp-recv-{self.name}"))
        self._tasks.append(asyncio.create_task(self._main(), name=f"vrrp-{self.name}"))
        self._start_trackers(inst.track_script)
        if self.links is not None or not self._opened:
            self._tasks.append(
                asyncio.create_task(self._link_loop(), name=f"vrrp-link-{self.name}")
            )
        why = "; ".join(dict.fromkeys(self._faults.values()))
        self._inbox.put_nowait(fsm.Startup(why))

    async def stop(self, graceful: bool = True) -> None:
        if not self._tasks:
            return
        main = self._tasks[1]
        if not main.done():
            self._inbox.put_nowait(_Stop(graceful))
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(main), 5.0)
        everything = [*self._tasks, *self._trackers.values()]
        for t in everything:
            t.cancel()
        for t in everything:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        self._trackers.clear()
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
        self._inbox.put_nowait(_Reconfig(inst, scripts, done))
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
        )

    # --- internals -----------------------------------------------------------------------------

    def _init_scripts(self, names: tuple[str, ...]) -> None:
        # a weight-0 script starts failed: FAULT until it passes `rise` times
        for name in names:
            sc = self.scripts.get(name)
            if sc is None:
                self._log("warning", f"track_script {name!r} is not a defined vrrp_script")
                continue
            self._script_ok[name] = False
            if sc.weight == 0:
                self._faults[f"script:{name}"] = f"track_script {name} failed"

    def _start_trackers(self, names: tuple[str, ...]) -> None:
        for name in names:
            sc = self.scripts.get(name)
            if sc is not None and name not in self._trackers:
                tr = ScriptTracker(sc, self.clock, self._script_cb(name))
                self._trackers[name] = asyncio.create_task(tr.run(), name=f"vrrp-script-{name}")

    async def _apply_reconfig(self, new: VrrpInstance, scripts: dict[str, VrrpScript]) -> list[str]:
        old, old_scripts = self.inst, self.scripts
        params = fsm_params(new, self.transport.source)  # raises before anything changes
        was_faulted = bool(self._faults)
        # track_script: stop the trackers of scripts no longer tracked or redefined
        keep = {
            n
            for n in new.track_script
            if n in old.track_script and old_scripts.get(n) == scripts.get(n)
        }
        for name in [n for n in self._trackers if n not in keep]:
            task = self._trackers.pop(name)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for name in [n for n in self._script_ok if n not in keep]:
            del self._script_ok[name]
            self._faults.pop(f"script:{name}", None)
        self.inst, self.scripts = new, scripts
        self._init_scripts(tuple(n for n in new.track_script if n not in keep))
        self._start_trackers(new.track_script)
        # track_interface: forget links no longer tracked, look at the new ones now
        tracked = self._tracked_links()
        for key in [k for k in self._faults if k.startswith("link:")]:
            if key[5:] not in tracked:
                del self._faults[key]
        if self.links is not None:
            for ifname in tracked:
                if not await self.links.is_up(ifname):
                    self._faults[f"link:{ifname}"] = f"interface {ifname} down"
        if bool(self._faults) != was_faulted:
            why = "; ".join(self._faults.values()) if self._faults else "reload cleared the fault"
            self.post(fsm.FaultChanged(bool(self._faults), why))
        if old.unicast_peer != new.unicast_peer:
            set_peers = getattr(self.transport, "set_peers", None)
            if set_peers is not None:
                set_peers(new.unicast_peer)
            else:
                self._log("warning", f"{self.name}: unicast_peer change needs a restart")
        old_params, self._params = self.params(), params
        self._prev_vips = _all_vips(old)
        self._synced = []
        await self._handle(
            fsm.Reconfigure(
                old_params, self._effective_priority(), _all_vips(old) != _all_vips(new)
            )
        )
        return self._synced

    def _tracked_links(self) -> tuple[str, ...]:
        seen = dict.fromkeys((self.inst.interface, *self.inst.track_interface))
        return tuple(seen)

    def _effective_priority(self) -> int:
        base = self.inst.priority
        if base == fsm.PRIO_OWNER:
            return base  # the address owner keeps 255 (keepalived ignores weights there)
        total = base
        for name, ok in self._script_ok.items():
            sc = self.scripts.get(name)
            if sc is not None:
                total += script_weight(sc, ok)
        return max(1, min(254, total))

    def _script_cb(self, name: str) -> Callable[[bool], None]:
        def cb(ok: bool) -> None:
            self._script_ok[name] = ok
            sc = self.scripts[name]
            if sc.weight == 0:
                self.set_fault(f"script:{name}", not ok, f"track_script {name} failed")
            else:
                self.post(fsm.PriorityChanged(self._effective_priority()))

        return cb

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
            if self.links is None:
                continue
            for ifname in self._tracked_links():
                up = await self.links.is_up(ifname)
                key = f"link:{ifname}"
                if up == (key in self._faults):
                    self.set_fault(key, not up, f"interface {ifname} down")

    async def _recv_loop(self) -> None:
        while True:
            dg = await self.transport.recv()
            self._inbox.put_nowait(_Dgram(dg))

    async def _main(self) -> None:
        while True:
            deadline = fsm.next_deadline(self.state)
            item: fsm.Event | _Dgram | _Stop | _Reconfig
            due = deadline is not None and deadline - self.clock.now() <= TIMER_SLACK
            if self._inbox.empty() and due:
                item = fsm.Timer()
            elif not self._inbox.empty() or deadline is None:
                item = await self._inbox.get()
            else:
                assert deadline is not None
                get = asyncio.ensure_future(self._inbox.get())
                # epoll rounds timeouts up to the next millisecond: aim half a slack early
                wait = deadline - self.clock.now() - TIMER_SLACK / 2
                sleep = asyncio.ensure_future(self.clock.sleep(wait))
                done, _ = await asyncio.wait({get, sleep}, return_when=asyncio.FIRST_COMPLETED)
                sleep.cancel()
                if get in done:
                    item = get.result()
                else:
                    get.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await get
                    # a get may complete while being cancelled: keep the item
                    if get.done() and not get.cancelled():
                        self._inbox.put_nowait(get.result())
                    item = fsm.Timer()
            if isinstance(item, _Reconfig):
                try:
                    item.done.set_result(await self._apply_reconfig(item.inst, item.scripts))
                except Exception as exc:  # a bad value must not kill the running instance
                    item.done.set_exception(exc)
                continue
            if isinstance(item, _Stop):
                await self._handle(fsm.Shutdown(item.graceful))
                await self._drain_vips()
                return
            if isinstance(item, _Dgram):
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
            self._vips_on = True
            for vip in inst.virtual_ipaddress + inst.virtual_ipaddress_excluded:
                await self.addresses.add(vip, inst.interface)
        elif isinstance(act, fsm.RemoveVips):
            await self._drain_vips(force=True)
        elif isinstance(act, fsm.SyncVips):
            await self._sync_vips()
        elif isinstance(act, fsm.SendGarp):
            repeat = inst.garp_master_refresh_repeat if act.refresh else inst.garp_master_repeat
            by_dev: dict[str, list[str]] = {}
            for vip in inst.virtual_ipaddress + inst.virtual_ipaddress_excluded:
                by_dev.setdefault(vip.dev or inst.interface, []).append(vip.address)
            for dev, addrs in by_dev.items():
                await self.announcer.announce(dev, addrs, max(0, repeat))
        elif isinstance(act, fsm.Notify):
            self._transition(act)
        elif isinstance(act, fsm.Drop):
            self._count_drop(act.reason, act.detail, act.log)
        elif isinstance(act, fsm.Log):
            self._log(act.level, f"{self.name}: {act.message}")
        elif isinstance(act, fsm.SplitBrain):
            self.split_brains += 1

    async def _sync_vips(self) -> None:
        """MASTER after a reload: only the difference, so the kept VIPs never blink."""
        if not self._vips_on:
            return
        inst, now = self.inst, _all_vips(self.inst)
        synced = self._synced
        for vip in self._prev_vips:
            if vip not in now:
                try:
                    await self.addresses.remove(vip, inst.interface)
                    synced.append(f"vrrp_instance {self.name}: removed {vip.address} (MASTER)")
                except VrrpError as exc:
                    self._log("error", f"{self.name}: {exc.message}")
        added: dict[str, list[str]] = {}
        for vip in now:
            if vip not in self._prev_vips:
                await self.addresses.add(vip, inst.interface)
                added.setdefault(vip.dev or inst.interface, []).append(vip.address)
                synced.append(f"vrrp_instance {self.name}: added {vip.address} (MASTER)")
        for dev, addrs in added.items():
            await self.announcer.announce(dev, addrs, max(0, inst.garp_master_repeat))

    async def _drain_vips(self, force: bool = False) -> None:
        if not (self._vips_on or force):
            return
        inst = self.inst
        self._vips_on = False
        for vip in inst.virtual_ipaddress + inst.virtual_ipaddress_excluded:
            try:
                await self.addresses.remove(vip, inst.interface)
            except VrrpError as exc:
                self._log("error", f"{self.name}: {exc.message}")

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

    def _transition(self, act: fsm.Notify) -> None:
        self.last_transition = self.clock.wall()
        log.info("%s: %s -> %s (%s)", self.name, act.old.value, act.new.value, act.reason)
        self._emit(VrrpChanged(self.clock.wall(), self.name, act.old, act.new, act.reason))
        if self.runner is not None:
            inst = self.inst
            specific = {
                S.MASTER: inst.notify_master,
                S.BACKUP: inst.notify_backup,
                S.FAULT: inst.notify_fault,
                S.STOP: inst.notify_stop,
            }.get(act.new)
            if specific:
                self.runner.submit(f"notify_{act.new.value.lower()} {self.name}", specific)
            if inst.notify:
                self.runner.submit(
                    f"notify {self.name}",
                    inst.notify,
                    ("INSTANCE", self.name, act.new.value, str(self.state.priority)),
                )
        for cb in list(self.listeners):
            cb(self, act.old, act.new)

    def _log(self, level: str, message: str) -> None:
        getattr(log, level if level != "warning" else "warning", log.info)(message)
        self._emit(LogEvent(self.clock.wall(), level, message))


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
    ) -> None:
        from lvstui.vrrp.sync import SyncGroup

        self.config = config
        self.clock = clock
        self.transport_factory = transport_factory
        self.addresses = addresses
        self.announcer = announcer
        self.links = links
        self._own_runner = runner is None
        self.runner = runner or ScriptRunner(
            timeout=config.lvstui.notify_timeout, on_result=self._on_notify, wall=clock.wall
        )
        self._events: asyncio.Queue[Event] = asyncio.Queue(10_000)
        self._runner_task: asyncio.Task[None] | None = None
        self._started = False
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
        return VrrpNode(
            inst,
            clock=self.clock,
            transport=self.transport_factory(inst),
            addresses=self.addresses,
            announcer=self.announcer,
            links=self.links,
            runner=self.runner,
            scripts=scripts,
            sync_group=sync_group,
            emit=self._emit,
        )

    def _emit(self, ev: Event) -> None:
        if not self._events.full():
            self._events.put_nowait(ev)

    def _on_notify(self, res: NotifyResult) -> None:
        self._emit(res)

    async def start(self) -> None:
        if self._own_runner and self._runner_task is None:
            self._runner_task = asyncio.create_task(self.runner.run(), name="vrrp-notify")
        started: list[VrrpNode] = []
        try:
            for node in self.nodes.values():
                await node.start()
                started.append(node)
        except BaseException:
            for node in started:
                await node.stop(graceful=False)
            await self._stop_runner()
            raise
        self._started = True

    async def reload(self, config: Config) -> list[str]:
        """Apply a reloaded configuration without needless failovers (see vrrp/reload.py):
        unchanged instances are not touched, in-place changes go to the running nodes,
        the others stop gracefully and/or start. Returns what was done, one line each
        (nothing for an unchanged configuration)."""
        from lvstui.vrrp.reload import Change, describe, plan_reload
        from lvstui.vrrp.sync import SyncGroup

        plans = plan_reload(self.config, config)
        lines = describe(self.config, config)
        scripts = {s.name: s for s in config.vrrp_scripts}
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
        return lines

    def _log_error(self, message: str) -> None:
        log.error("%s", message)
        self._emit(LogEvent(self.clock.wall(), "error", message))

    async def stop(self, graceful: bool = True) -> None:
        for node in self.nodes.values():
            await node.stop(graceful)
        # the group owns the edges it was given: their sockets close with it
        if self.links is not None:
            await self.links.close()
        await self.addresses.close()
        if self.announcer is not None:
            self.announcer.close()
        await self._stop_runner()

    async def _stop_runner(self) -> None:
        if self._runner_task is not None:
            # let the stop notifications run (bounded by their own timeout)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.runner.join(), self.runner.timeout + 1)
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
