"""The VRRP driver: runs each instance's pure state machine against real (or fake) edges.

API for the engine::

    group = VrrpGroup(config, clock, transport_factory, addresses,
                      announcer=RawAnnouncer(), links=PyrouteLinks(), runner=ScriptRunner())
    await group.start()            # opens sockets, starts one task per instance
    group.views()                  # tuple[VrrpView, ...] for the Snapshot
    async for ev in group.events():  # VrrpChanged, LogEvent (split brain, drops), NotifyResult
        ...
    group.drops()                  # {reason: count} summed over instances, for metrics
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

from lvstui.clock import Clock, SystemClock
from lvstui.config.schema import (
    MAX_VIPS_PER_ADVERT,
    Config,
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
from lvstui.vrrp.transport import Datagram, RawSocketTransport, Transport, decode_datagram

__all__ = ["VrrpGroup", "VrrpNode", "raw_transport_factory"]

log = logging.getLogger("lvstui.vrrp")

S = VrrpRunState
LINK_POLL = 0.1  # seconds between link-state looks (a dictionary lookup, see track.py)
TIMER_SLACK = 0.001  # a timer may fire this early: the event loop's resolution (epoll: 1 ms)


def raw_transport_factory(inst: VrrpInstance) -> Transport:
    fam = inst.virtual_ipaddress[0].family if inst.virtual_ipaddress else 4
    return RawSocketTransport(
        inst.interface,
        family=fam,
        unicast_src_ip=inst.unicast_src_ip,
        unicast_peers=inst.unicast_peer,
    )


@dataclass(frozen=True, slots=True)
class _Dgram:
    dg: Datagram


@dataclass(frozen=True, slots=True)
class _Stop:
    graceful: bool


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
        self._inbox: asyncio.Queue[fsm.Event | _Dgram | _Stop] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._faults: dict[str, str] = {}  # source → reason
        self._script_ok: dict[str, bool] = {}
        self._params: fsm.FsmParams | None = None
        self.state = fsm.FsmState(priority=inst.priority, master_adver_int=inst.advert_int)
        self._stopped = asyncio.Event()
        # receive timestamps are time.monotonic(): usable only when the clock is that one
        self._rx_clock = isinstance(clock, SystemClock)
        self._vips_on = False

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
        await self.transport.open()
        auth = AuthType.PASS if inst.auth_type == CfgAuth.PASS else AuthType.NONE
        if inst.auth_type == CfgAuth.AH:
            raise VrrpError(
                f"vrrp_instance {inst.name}: auth_type AH is not supported",
                hint="use PASS (sent in clear) or no authentication",
            )
        self._params = fsm.FsmParams(
            vrid=inst.virtual_router_id,
            version=inst.version,
            advert_int=inst.advert_int,
            vips=tuple(v.address for v in inst.virtual_ipaddress[:MAX_VIPS_PER_ADVERT]),
            primary_addr=self.transport.source,
            want_master=inst.state == VrrpState.MASTER,
            preempt=not inst.nopreempt,
            preempt_delay=inst.preempt_delay,
            auth_type=auth,
            auth_pass=inst.auth_pass.encode()[:8].ljust(8, b"\0") if auth else b"",
            garp_delay=inst.garp_master_delay,
            garp_refresh=inst.garp_master_refresh,
        )
        self.state = fsm.initial(self._params, inst.priority)
        # Like keepalived: VIPs left behind by a crashed run are removed before we start
        # (we start as BACKUP; a VIP on two directors would split the traffic).
        await self._drain_vips(force=True)
        with contextlib.suppress(VrrpError):
            # opens the announcer's sockets now rather than during the first takeover
            await self.announcer.announce(inst.interface, (), 0)
        # a weight-0 script starts failed: FAULT until it passes `rise` times
        for name in inst.track_script:
            sc = self.scripts.get(name)
            if sc is None:
                self._log("warning", f"track_script {name!r} is not a defined vrrp_script")
                continue
            self._script_ok[name] = False
            if sc.weight == 0:
                self._faults[f"script:{name}"] = f"track_script {name} failed"
        if self.links is not None:
            for ifname in self._tracked_links():
                if not await self.links.is_up(ifname):
                    self._faults[f"link:{ifname}"] = f"interface {ifname} down"
        self.state = fsm.FsmState(
            priority=self._effective_priority(),
            master_adver_int=inst.advert_int,
            faulted=bool(self._faults),
        )
        self._tasks.append(asyncio.create_task(self._recv_loop(), name=f"vrrp-recv-{self.name}"))
        self._tasks.append(asyncio.create_task(self._main(), name=f"vrrp-{self.name}"))
        for name in inst.track_script:
            sc = self.scripts.get(name)
            if sc is not None:
                tr = ScriptTracker(sc, self.clock, self._script_cb(name))
                self._tasks.append(asyncio.create_task(tr.run(), name=f"vrrp-script-{name}"))
        if self.links is not None and self._tracked_links():
            self._tasks.append(
                asyncio.create_task(self._link_loop(), name=f"vrrp-link-{self.name}")
            )
        self._inbox.put_nowait(fsm.Startup())

    async def stop(self, graceful: bool = True) -> None:
        if not self._tasks:
            return
        main = self._tasks[1]
        if not main.done():
            self._inbox.put_nowait(_Stop(graceful))
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(main), 5.0)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        self.transport.close()

    def post(self, ev: fsm.Event) -> None:
        """Queue an event for the machine (sync groups, tests)."""
        self._inbox.put_nowait(ev)

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

    async def _link_loop(self) -> None:
        assert self.links is not None
        while True:
            await self.clock.sleep(LINK_POLL)
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
            item: fsm.Event | _Dgram | _Stop
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
        self.addresses = addresses
        self.announcer = announcer
        self.links = links
        self._own_runner = runner is None
        self.runner = runner or ScriptRunner(
            timeout=config.lvstui.notify_timeout, on_result=self._on_notify, wall=clock.wall
        )
        self._events: asyncio.Queue[Event] = asyncio.Queue(10_000)
        self._runner_task: asyncio.Task[None] | None = None
        scripts = {s.name: s for s in config.vrrp_scripts}
        member_of = {m: g.name for g in config.vrrp_sync_groups for m in g.group}
        self.nodes: dict[str, VrrpNode] = {}
        for inst in config.vrrp_instances:
            self.nodes[inst.name] = VrrpNode(
                inst,
                clock=clock,
                transport=transport_factory(inst),
                addresses=addresses,
                announcer=announcer,
                links=links,
                runner=self.runner,
                scripts=scripts,
                sync_group=member_of.get(inst.name),
                emit=self._emit,
            )
        self.sync_groups = [
            SyncGroup(g, [self.nodes[m] for m in g.group if m in self.nodes], self.runner)
            for g in config.vrrp_sync_groups
        ]

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
