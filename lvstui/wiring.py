"""Assembling a director: the engine with its real edges, the control socket, the metrics.

The daemon (`lvstui --daemon`), the console with an embedded engine and `lvstui demo` all
run the same director; this module is the one place that knows how its parts fit together,
so none of them imports another's entry point:

    parts = build_engine(config, state_dir=state)          # dataplane, health, VRRP, mail
    server = await serve_control(parts.engine, config, socket, state)
    await parts.start()                                    # the engine, then the metrics
    ...
    await parts.stop(graceful=True)

The engine itself knows nothing of sockets it does not need: the metrics endpoint reads
its published snapshots from here (a reload cannot move it: `metrics_listen` is a
restart setting).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lvstui.config.lint import bgp_vips
from lvstui.config.schema import DEFAULT_CONFIG_PATH, Config, DataplaneKind
from lvstui.errors import ConfigError, ControlError, LvstuiError
from lvstui.selfstats import ProcessStats

if TYPE_CHECKING:
    from lvstui.announce.director import DirectorDrainer
    from lvstui.announce.kernel_table import TableSpec
    from lvstui.announce.lifecycle import Driver, OnDemand
    from lvstui.announce.peers import PeerReader
    from lvstui.announce.state import AnnounceState
    from lvstui.config.announce import AnnounceHandoff
    from lvstui.control.connection import DirectorRelay
    from lvstui.control.local import DirectorDrain
    from lvstui.control.server import ControlServer
    from lvstui.dataplane.base import Dataplane
    from lvstui.engine.edges import Pair
    from lvstui.engine.engine import Engine
    from lvstui.engine.snat import SourceNat
    from lvstui.group.runtime import GroupRuntime
    from lvstui.metrics import MetricsServer
    from lvstui.model import AnnounceView

    AnnounceTarget = tuple[TableSpec, AnnounceHandoff]

__all__ = [
    "EngineParts",
    "build_engine",
    "load",
    "make_dataplane",
    "prepare_state_dir",
    "probe_socket",
    "serve_control",
    "start_metrics",
]


@dataclass(slots=True)
class EngineParts:
    """An engine and what was chosen for it; `start`/`stop` run it with its metrics."""

    engine: Engine
    dataplane: Dataplane
    reason: str  # why this dataplane (selection), for the logs
    metrics: MetricsServer | None = None
    # the process's tasks, descriptors and memory, sampled while the engine runs
    stats: ProcessStats = field(default_factory=ProcessStats)
    sampler: asyncio.Task[None] | None = None
    group: GroupRuntime | None = None  # [lvstui.group]
    # [lvstui.announce]: the VIPs in bgp mode, announced through a kernel table (docs/bgp.md);
    # its device is open while some VIP is in bgp mode (a reload may add the first one)
    announcer: OnDemand | None = None
    announce_state: AnnounceState | None = None  # the loop's decisions, for the snapshot
    announcing: asyncio.Task[None] | None = None
    # the kernel driver's own thread: pyroute2's IPRoute cannot run inside our event loop
    announce_thread: ThreadPoolExecutor | None = None
    # `ctl drain-director`: kept here, so a reload (which swaps the engine's config) keeps it
    director: DirectorDrainer | None = None
    # the table, protocol, device and handoff the announcer uses now (a reload may change)
    announce_target: AnnounceTarget | None = None

    async def start(self) -> None:
        if self.announcer is not None:
            # first: a previous run's routes go before anything else happens
            self.announce_thread = ThreadPoolExecutor(1, thread_name_prefix="announce")
            await asyncio.get_running_loop().run_in_executor(
                self.announce_thread, self.announcer.want, bool(bgp_vips(self.engine.config))
            )
        if self.group is not None:
            # no stale master: learn the group's overrides before VRRP and the dataplane
            # start (bounded by startup_wait; the runtime logs what it learned)
            await self.group.start()
            await self.group.wait()
        await self.engine.start()
        if self.group is not None:
            self.group.attach(self.engine)
        self.stats.sample()
        self.sampler = asyncio.create_task(self.stats.run(), name="process stats")
        self.metrics = start_metrics(self.engine, self.stats)
        if self.announcer is not None:
            from lvstui.announce.follow import follow

            engine = self.engine
            self.announcing = asyncio.create_task(
                follow(
                    engine.snapshot,
                    self.announcer,
                    lambda: bgp_vips(engine.config),
                    executor=self.announce_thread,
                    state=self.announce_state,
                    peers=peer_readers(lambda: engine.config),
                    switch=self._switch,
                    director=self.director,
                ),
                name="announce",
            )

    def _switch(self, on: bool) -> None:
        """The announcement loop's switch, on its thread, each tick: the device open while
        some VIP is in bgp mode, and the table, protocol and device as the configuration
        says now — a reload that changes them moves every announcement there."""
        assert self.announcer is not None
        target = announce_target(self.engine.config)
        if target != self.announce_target:
            spec, handoff = target
            # the logger, not engine.log: this runs on the announcement thread, and the
            # engine's event bus belongs to the event loop
            logging.getLogger("lvstui.announce").info(
                "announcing by %s through table %d, protocol %d, device %s now: every bgp "
                "VIP moves there",
                handoff.value,
                spec.table,
                spec.protocol,
                spec.device,
            )
            self.announce_target = target
            self.announcer.retarget(announce_driver(target))
        self.announcer.want(on)

    async def stop(self, graceful: bool = True, *, release: bool = True) -> None:
        # withdraw before the services go: the routers stop sending first
        if self.announcing is not None:
            self.announcing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.announcing
            self.announcing = None
        if self.announcer is not None and self.announce_thread is not None:
            try:
                await asyncio.get_running_loop().run_in_executor(
                    self.announce_thread, self.announcer.close
                )
            except LvstuiError as e:
                logging.getLogger("lvstui.announce").error("closing the announcer failed: %s", e)
            self.announce_thread.shutdown()
            self.announce_thread = None
        if self.sampler is not None:
            self.sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.sampler
            self.sampler = None
        try:
            await self.engine.stop(graceful, release=release)
        finally:
            if self.group is not None:
                await self.group.stop()
            if self.metrics is not None:
                self.metrics.close()
                self.metrics = None


def load(path: str | None) -> Config:
    """Load the config file; a missing default file says how to get started."""
    from lvstui.config.load import load_config

    target = path or DEFAULT_CONFIG_PATH
    if not Path(target).exists():
        raise ConfigError(
            "no such configuration file",
            file=target,
            hint="pass -f FILE, or try `lvstui demo` for a ready-made demo on loopback",
        )
    cfg: Config = load_config(target)
    return cfg


def probe_socket(path: str | Path, timeout: float = 1.0) -> bool:
    """True when something accepts connections on this Unix socket (a running daemon)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(path))
    except OSError:
        return False
    finally:
        s.close()
    return True


def prepare_state_dir(path: str | Path) -> Path:
    p = Path(path)
    try:
        p.mkdir(mode=0o750, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the state directory: {exc.strerror}",
            file=str(p),
            hint="pass --state-dir DIR (a directory this user may write)",
        ) from None
    return p


def make_dataplane(
    config: Config, kind: str | None, *, memory: bool = False
) -> tuple[Dataplane, str]:
    """The dataplane to run on, and why: `memory` for --dry-run, else selection."""
    from lvstui.dataplane.select import select_dataplane

    want = DataplaneKind(kind) if kind else config.lvstui.dataplane
    return select_dataplane(want, dry_run=memory)


def _source_nat(memory: bool) -> SourceNat:
    """source_nat's edges: nftables and /proc/sys, or their twins for --dry-run."""
    from lvstui.engine.snat import CONNTRACK, SourceNat
    from lvstui.netfilter.nft import MemoryNft, NftCommand
    from lvstui.netfilter.sysctl import MemorySysctls, ProcSysctls

    if memory:
        return SourceNat(MemoryNft(), MemorySysctls({CONNTRACK: "0"}))
    return SourceNat(NftCommand(), ProcSysctls())


def build_engine(
    config: Config,
    *,
    dataplane: str | None = None,
    state_dir: str | Path | None = None,
    memory: bool = False,
    health: bool = True,
    vrrp: bool = True,
    tune_gc: bool = False,
) -> EngineParts:
    """Wire an Engine with its real edges: dataplane, health monitor, VRRP, scripts, mail.

    `tune_gc` lets the health monitor freeze the long-lived objects and collect less often
    (process-wide: only the headless daemon asks for it; see health/scheduler.py)."""
    from lvstui.clock import SystemClock
    from lvstui.config.scripts import script_credentials
    from lvstui.engine.edges import Pair
    from lvstui.engine.engine import Engine
    from lvstui.notify.scripts import ScriptRunner

    clock = SystemClock()
    dp, reason = make_dataplane(config, dataplane, memory=memory)
    runner = ScriptRunner(
        timeout=config.lvstui.notify_timeout,
        wall=clock.wall,
        credentials=script_credentials(config),
    )
    monitor = None
    if health:
        from lvstui.health.scheduler import HealthMonitor

        monitor = HealthMonitor[Pair](
            clock, concurrency=config.lvstui.check_concurrency, tune_gc=tune_gc
        )
    group = None
    # the group is there even without instances: a reload that adds the first vrrp_instance
    # starts it (its edges open nothing until an instance needs them)
    if vrrp:
        from lvstui.netfilter.nft import NftCommand
        from lvstui.vrrp.accept import VipDrops
        from lvstui.vrrp.addresses import PyrouteAddresses
        from lvstui.vrrp.garp import RawAnnouncer
        from lvstui.vrrp.group import VrrpGroup, raw_transport_factory
        from lvstui.vrrp.routes import PyrouteRoutes
        from lvstui.vrrp.track import PyrouteLinks
        from lvstui.vrrp.vmac import PyrouteVmacs

        group = VrrpGroup(
            config,
            clock,
            raw_transport_factory,
            PyrouteAddresses(),
            announcer=RawAnnouncer(),
            links=PyrouteLinks(),
            runner=runner,
            routes=PyrouteRoutes(),
            drops=VipDrops(NftCommand()),
            vmacs=PyrouteVmacs(),
        )
    runtime = None
    if config.lvstui.group is not None:
        from lvstui.group.runtime import GroupRuntime

        if state_dir is None:
            raise ConfigError(
                "the director group needs a state directory",
                key="lvstui.group",
                hint="run with a state directory ([lvstui] state_dir or --state-dir)",
            )
        runtime = GroupRuntime.create(config.lvstui.group, state_dir)
    announce_state = None
    if not memory:
        from lvstui.announce.state import AnnounceState
        from lvstui.config.announce import RoutingDaemon

        announce_state = AnnounceState(
            ""
            if config.lvstui.announce.daemon is RoutingDaemon.NONE
            else config.lvstui.announce.daemon.value
        )
    mailer = None
    if config.global_defs.smtp_server and config.global_defs.notification_email:
        from lvstui.notify.mail import Mailer

        mailer = Mailer.from_config(config.global_defs, clock=clock)
    engine = Engine(
        config,
        dataplane=dp,
        clock=clock,
        health=monitor,
        vrrp=group,
        state_dir=state_dir,
        notifier=runner,
        mailer=mailer,
        dataplane_reason=reason,
        group=runtime,
        source_nat=_source_nat(memory),
        announce=_announce_view(announce_state, lambda: engine.config),
    )
    if monitor is not None:
        monitor.on_local_failure = _local_failure_events(engine)
    announcer = director = None
    target: AnnounceTarget | None = None
    if not memory:
        from lvstui.announce.lifecycle import OnDemand

        target = announce_target(config)
        announcer = OnDemand(announce_driver(target))
        director = _director_drain(engine, state_dir, announce_state)
    return EngineParts(
        engine,
        dp,
        reason,
        group=runtime,
        announcer=announcer,
        announce_state=announce_state,
        director=director,
        announce_target=target,
    )


def announce_target(config: Config) -> AnnounceTarget:
    """[lvstui.announce]'s table, protocol, device and handoff: what a driver is made for."""
    from lvstui.announce.kernel_table import TableSpec

    a = config.lvstui.announce
    return TableSpec(a.table, a.protocol, a.device), a.handoff


def announce_driver(target: AnnounceTarget) -> Driver:
    """The driver of that target: addresses on the device (FRR) or routes in the table."""
    from lvstui.announce.kernel_table import KernelTableAnnouncer
    from lvstui.announce.tun_address import TunAddressAnnouncer
    from lvstui.config.announce import AnnounceHandoff

    spec, handoff = target
    if handoff is AnnounceHandoff.ADDRESS:
        return TunAddressAnnouncer(spec)
    return KernelTableAnnouncer(spec)


def _announce_view(
    state: AnnounceState | None, config: Callable[[], Config]
) -> Callable[[], AnnounceView | None] | None:
    """The snapshot's announcements: None while no VIP is in bgp mode (as the config is now,
    after any reload)."""
    if state is None:
        return None
    return lambda: state.view() if bgp_vips(config()) else None


def _director_drain(
    engine: Engine, state_dir: str | Path | None, state: AnnounceState | None
) -> DirectorDrainer:
    """`ctl drain-director`'s holder, with the drain a previous run left in the state
    directory taken up now: before the announcement loop's first tick, so a drained
    director is never announced normally (docs/bgp.md "Director drain")."""
    from lvstui.announce.director import DirectorDrainer
    from lvstui.announce.drainfile import DrainFile

    director = DirectorDrainer(
        lambda: bool(bgp_vips(engine.config)),
        settle=lambda: engine.config.lvstui.announce.drain_settle,
        store=DrainFile(state_dir) if state_dir is not None else None,
        # status shows a drain at once, not after the loop's next tick (`--wait` relies on it)
        on_change=None
        if state is None
        else lambda s, now: state.set_director(s.phase.value, s.text(now)),
    )
    said = director.restore(time.monotonic())
    if said:
        engine.log("warning", said)
    return director


def peer_readers(config: Callable[[], Config]) -> Callable[[], PeerReader | None]:
    """Whom to ask for the BGP sessions' state as the configuration says now: the same
    reader while [lvstui.announce] daemon and daemon_socket stay, a new one after a reload
    that changes them."""
    cache: dict[tuple[object, str], PeerReader | None] = {}

    def current() -> PeerReader | None:
        a = config().lvstui.announce
        key = (a.daemon, a.daemon_socket)
        if key not in cache:
            cache.clear()
            cache[key] = peer_reader(config())
        return cache[key]

    return current


def peer_reader(config: Config) -> PeerReader | None:
    """Whom to ask for the BGP sessions' state ([lvstui.announce] daemon)."""
    from lvstui.announce.peers import BirdPeers, FrrPeers
    from lvstui.config.announce import RoutingDaemon

    a = config.lvstui.announce
    if a.daemon is RoutingDaemon.BIRD:
        return BirdPeers(a.daemon_socket)
    if a.daemon is RoutingDaemon.FRR:
        return FrrPeers(a.daemon_socket)
    return None


LOCAL_FAILURE_EVERY = 10.0  # seconds between two events about checks that could not run


def _local_failure_events(engine: Engine) -> Callable[[Pair, str], None]:
    """Health runs that could not be made (EMFILE, fork...) as engine events (the log and
    every client's event stream), at most one every LOCAL_FAILURE_EVERY seconds."""
    last = [-LOCAL_FAILURE_EVERY]
    count = [0]

    def report(key: Pair, why: str) -> None:
        count[0] += 1
        now = time.monotonic()
        if now - last[0] < LOCAL_FAILURE_EVERY:
            return
        last[0] = now
        service, real = key
        engine.log(
            "warning",
            f"health check of {real} in {service} could not run ({why}); {count[0]} run(s) "
            "unknown so far: servers keep their health",
        )

    return report


def start_metrics(engine: Engine, stats: ProcessStats | None = None) -> MetricsServer | None:
    """Serve Prometheus metrics on `[lvstui] metrics_listen` (None when it is unset or the
    address cannot be bound: metrics are not worth refusing to serve for, the engine's log
    says why)."""
    listen = engine.config.lvstui.metrics_listen
    if not listen:
        return None
    from lvstui.metrics import EngineCollector
    from lvstui.metrics import start_metrics as serve_metrics

    try:
        counters = engine.counters
        if stats is not None:
            process = stats

            def counters() -> dict[str, int]:
                return {**engine.counters(), **process.counters()}

        server = serve_metrics(
            listen,
            EngineCollector(
                engine.published_snapshot, counters, engine.config.lvstui.metrics_compat
            ),
        )
    except LvstuiError as e:
        engine.log("error", f"metrics disabled: {e}")
        return None
    host, port = server.address
    engine.log("info", f"metrics on http://{host}:{port}/metrics")
    return server


async def serve_control(
    engine: Engine,
    config: Config,
    path: str | Path,
    state_dir: str | Path | None,
    *,
    stats: ProcessStats | None = None,
    sock: socket.socket | None = None,
    relay: DirectorRelay | None = None,
    director: DirectorDrain | None = None,
) -> ControlServer:
    """Bind the control socket for this engine (refusing if a daemon already answers).
    With `stats`, snapshots carry the process's resources and the metrics the server's
    counters (refused clients, audit failures). `sock`: the listening socket a previous
    daemon handed over (no probe then: that daemon still answers until we are ready).
    `director`: answers `ctl drain-director` (EngineParts.director; None: no bgp VIP)."""
    from lvstui.control.local import LocalClient
    from lvstui.control.server import ControlServer, Peer

    if sock is None and probe_socket(path):
        raise ControlError(
            f"another lvstui already answers on {path}",
            hint="two engines would fight over the VIPs: stop it, attach to it "
            "(`lvstui attach`), or give this one its own --socket and --state-dir",
        )

    def factory(peer: Peer, read_only: bool) -> LocalClient:
        return LocalClient(
            engine, read_only=read_only, who=peer.who, published=True, director=director
        )

    server = ControlServer(
        path,
        factory,
        group=config.lvstui.control_group,
        read_only_others=config.lvstui.control_read_only_others,
        audit_path=Path(state_dir) / "audit.log" if state_dir is not None else None,
        process=stats.view if stats is not None else None,
        relay=relay,
    )
    if stats is not None:
        stats.sources.append(server.counters)
    await server.start(sock)
    return server
