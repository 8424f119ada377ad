"""FakeClient: a scriptable, in-memory EngineClient for the console's tests, demos and bench.

It invents `services` virtual services of `reals` real servers each, with deterministic
connection counts that move with every `tick()`, drains that progress to "safe", commands that
really change its state, and scripted failures (`fail`), disconnections (`disconnect()`) and
a read-only role. Nothing here touches the network: the addresses are only labels.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

from lvstui.describe import describe_command
from lvstui.errors import CommandError, ControlError, PermissionDenied
from lvstui.model import (
    AddReal,
    AnnounceView,
    CheckView,
    Command,
    CommandResult,
    ConfigReloaded,
    Drain,
    DrainDirector,
    DrainProgress,
    DrainState,
    Event,
    Health,
    HealthChanged,
    LbKind,
    OperatorAction,
    Protocol,
    QuorumChanged,
    RealKey,
    RealServerView,
    Reload,
    RemoveReal,
    ServiceKey,
    ServiceView,
    SetWeight,
    Snapshot,
    Stats,
    Undrain,
    UndrainDirector,
    VrrpChanged,
    VrrpRunState,
    VrrpView,
)
from lvstui.series import Ring
from lvstui.ui.fakegroup import FakeGroup

__all__ = ["FakeClient"]

HISTORY = 60
_DISCONNECTED = object()


@dataclass
class _Real:
    key: RealKey
    weight_config: int
    fwd: LbKind
    seed: int
    health: Health = Health.UP
    active: int = 0
    inact: int = 0
    drain: DrainState = DrainState.NONE
    override: int | None = None
    runtime_added: bool = False
    reason: str = ""
    history: Ring[int] = field(default_factory=lambda: Ring(HISTORY))
    runs: int = 0
    failures: int = 0
    name: str = ""  # its display name (config.toml's real_server name)

    def weight(self) -> int:
        if self.health is Health.DOWN or self.drain is not DrainState.NONE:
            return 0
        return self.weight_config if self.override is None else self.override


@dataclass
class _Service:
    key: ServiceKey
    name: str
    scheduler: str
    lb_kind: LbKind
    persistence: int | None
    quorum: int
    hysteresis: int
    reals: list[_Real]
    sorry: RealKey | None
    history: Ring[int] = field(default_factory=lambda: Ring(HISTORY))
    quorum_up: bool = True


def _service_key(i: int) -> ServiceKey:
    # Display-only labels from the documentation ranges; nothing is ever sent to them.
    return ServiceKey(Protocol.TCP, f"192.0.2.{1 + i % 250}", 80 + i // 250)


def _hash_table(reals: tuple[RealServerView, ...]) -> str:
    """A stand-in for the kernel table's digest: it changes with the servers and weights."""
    rows = sorted(f"{r.key} {r.weight}" for r in reals if r.weight > 0)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def _real_key(i: int, j: int) -> RealKey:
    n = i * 16 + j
    return RealKey(f"198.51.100.{1 + n % 250}", 8000 + n // 250)


class FakeClient:
    """An EngineClient whose engine is a deterministic toy (see the module docstring)."""

    def __init__(
        self,
        services: int = 2,
        reals: int = 3,
        *,
        start: float = 1_700_000_000.0,
        read_only: bool = False,
        auto_tick: bool = False,
        description: str = "fake engine",
    ) -> None:
        self.time = start
        self.seq = 0
        self.auto_tick = auto_tick
        self.connected = True
        self.closed = False
        self.calls: list[Command] = []
        self.fail: dict[str, CommandResult | Exception] = {}
        self.reload_diff = (
            "+ real server TCP 192.0.2.1:80 -> 198.51.100.9:8000 weight 1\n"
            "~ TCP 192.0.2.2:80 scheduler wlc -> rr"
        )
        self.drain_step = 3  # active connections that finish per tick while draining
        self.group: FakeGroup | None = None  # a director group (FakeGroup); None: alone
        self.announce: AnnounceView | None = None  # bgp VIPs and peers; None: none in bgp mode
        self._read_only = read_only
        self._description = description
        self._subs: list[asyncio.Queue[object]] = []
        self.recent: list[Event] = []  # the engine's ring: what events(replay=True) starts with
        self.services = [self._make_service(i, reals) for i in range(services)]
        self.vrrp = [
            VrrpView(
                "VI_WEB",
                "eth0",
                51,
                VrrpRunState.MASTER,
                150,
                150,
                3,
                1.0,
                ("192.0.2.1", "192.0.2.2"),
                "G_LB",
                None,
                start - 3600,
                "priority 150 > 100",
            ),
            VrrpView(
                "VI_DNS",
                "eth1",
                52,
                VrrpRunState.BACKUP,
                100,
                100,
                3,
                1.0,
                ("192.0.2.53",),
                "G_LB",
                "198.51.100.200",
                start - 86400 * 2,
                "higher peer",
            ),
        ]
        for _ in range(HISTORY // 4):
            self._advance(record_only=True)

    # --- construction ------------------------------------------------------------------

    def _make_service(self, i: int, reals: int) -> _Service:
        rs = [
            _Real(
                _real_key(i, j), weight_config=1 + (i + j) % 5 * 2, fwd=LbKind.NAT, seed=i * 31 + j
            )
            for j in range(reals)
        ]
        total = sum(r.weight_config for r in rs)
        return _Service(
            key=_service_key(i),
            name=("web", "api", "dns", "mail")[i % 4] if i < 4 else "",
            scheduler=("wlc", "rr", "sh", "lc")[i % 4],
            lb_kind=LbKind.NAT,
            persistence=300 if i % 3 == 1 else None,
            quorum=max(1, total // 2),
            hysteresis=1 if i % 2 else 0,
            reals=rs,
            sorry=RealKey("127.0.0.1", 8099) if i % 2 == 0 else None,
        )

    # --- scripting ---------------------------------------------------------------------

    def emit(self, ev: Event) -> None:
        self.recent = [*self.recent[-99:], ev]
        for q in self._subs:
            q.put_nowait(ev)

    def disconnect(self) -> None:
        """The engine goes away: snapshot() and events() raise ControlError until reconnect()."""
        self.connected = False
        for q in self._subs:
            q.put_nowait(_DISCONNECTED)

    def reconnect(self) -> None:
        self.connected = True

    def find(self, service: ServiceKey, real: RealKey) -> tuple[_Service, _Real]:
        for s in self.services:
            if s.key == service:
                for r in s.reals:
                    if r.key == real:
                        return s, r
                raise CommandError(f"no real server {real} in {service}")
        raise CommandError(f"no virtual service {service}")

    def set_health(self, i: int, j: int, health: Health, reason: str = "") -> None:
        s = self.services[i]
        r = s.reals[j]
        r.health, r.reason = health, reason
        self.emit(HealthChanged(self.time, s.key, r.key, health, reason, r.weight()))
        self._quorum(s)

    def tick(self, seconds: int = 1) -> None:
        """Advance the toy engine by whole seconds (connections move, drains progress)."""
        for _ in range(seconds):
            self._advance()

    def _advance(self, record_only: bool = False) -> None:
        self.time += 1.0
        self.seq += 1
        for s in self.services:
            cps = 0
            for r in s.reals:
                if r.drain is DrainState.DRAINING:
                    r.active = max(0, r.active - self.drain_step)
                    r.inact = max(0, r.inact - self.drain_step)
                    if r.active == 0 and r.inact == 0:
                        r.drain = DrainState.SAFE
                    if not record_only:
                        self.emit(
                            DrainProgress(self.time, s.key, r.key, r.drain, r.active, r.inact)
                        )
                elif r.drain is DrainState.NONE and r.health is not Health.DOWN:
                    wave = (self.seq * (r.seed % 7 + 1) + r.seed) % 9
                    r.active = r.weight() * 2 + wave
                    r.inact = (r.seed + self.seq) % 4
                    cps += wave
                else:
                    r.active = r.inact = 0
                r.runs += 1
                if r.health is Health.DOWN:
                    r.failures += 1
                r.history.push(r.active)
            s.history.push(cps)

    def _quorum(self, s: _Service) -> None:
        live = sum(r.weight() for r in s.reals)
        up = live >= s.quorum + (0 if s.quorum_up else s.hysteresis)
        if s.quorum_up and live < s.quorum - s.hysteresis:
            up = False
        if up != s.quorum_up:
            s.quorum_up = up
            self.emit(QuorumChanged(self.time, s.key, up, live, s.quorum, not up and bool(s.sorry)))

    def flip_vrrp(self, index: int, new: VrrpRunState, reason: str = "") -> None:
        v = self.vrrp[index]
        self.vrrp[index] = VrrpView(
            v.name,
            v.interface,
            v.vrid,
            new,
            v.priority,
            v.base_priority,
            v.version,
            v.advert_int,
            v.vips,
            v.sync_group,
            v.master_addr,
            self.time,
            reason,
        )
        self.emit(VrrpChanged(self.time, v.name, v.state, new, reason))

    # --- views -------------------------------------------------------------------------

    def _real_view(self, s: _Service, r: _Real) -> RealServerView:
        ok = r.health is not Health.DOWN
        check = CheckView(
            kind="http_get",
            target=f"{r.key}/health",
            health=r.health,
            last_run=self.time - (r.seed % 3),
            last_ok=ok,
            last_reason="" if ok else (r.reason or "connection refused"),
            last_latency=0.001 + (r.seed % 5) * 0.0007 if ok else None,
            period=5.0,
            runs=r.runs,
            failures=r.failures,
        )
        return RealServerView(
            key=r.key,
            fwd=r.fwd,
            weight_config=r.weight_config,
            weight=r.weight(),
            health=r.health,
            active_conns=r.active,
            inact_conns=r.inact,
            stats=Stats(conns=r.runs * 3, cps=r.active // 3, inbps=r.active * 1200),
            drain=r.drain,
            weight_override=r.override,
            runtime_added=r.runtime_added,
            checks=(check,),
            history=r.history.values(),
            name=r.name,
        )

    def _service_view(self, s: _Service) -> ServiceView:
        live = sum(r.weight() for r in s.reals)
        reals = tuple(self._real_view(s, r) for r in s.reals)
        sorry_active = s.sorry is not None and live == 0
        if sorry_active and s.sorry is not None:
            reals += (RealServerView(s.sorry, LbKind.NAT, 1, 1, Health.UP, is_sorry=True),)
        return ServiceView(
            key=s.key,
            scheduler=s.scheduler,
            lb_kind=s.lb_kind,
            name=s.name,
            flags=("sh-port",) if s.scheduler == "sh" else (),
            hash_table=_hash_table(reals) if s.scheduler == "sh" else "",
            persistence_timeout=s.persistence,
            quorum=s.quorum,
            hysteresis=s.hysteresis,
            live_weight=live,
            quorum_up=s.quorum_up,
            sorry_active=sorry_active,
            sorry_server=s.sorry,
            real_servers=reals,
            stats=Stats(cps=s.history.values()[-1] if len(s.history) else 0),
            history=s.history.values(),
        )

    # --- EngineClient ------------------------------------------------------------------

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def description(self) -> str:
        return self._description

    async def snapshot(self) -> Snapshot:
        if not self.connected:
            raise ControlError("engine not reachable (fake disconnect)")
        if self.auto_tick:
            self._advance()
        return Snapshot(
            seq=self.seq,
            time=self.time,
            router_id="lb1",
            config_path="/etc/lvstui/config.toml",
            dataplane="fake",
            services=tuple(self._service_view(s) for s in self.services),
            vrrp=tuple(self.vrrp),
            read_only=self._read_only,
            group=self.group.view() if self.group is not None else None,
            announce=self.announce,
        )

    async def events(self, replay: bool = False) -> AsyncIterator[Event]:
        if not self.connected:
            raise ControlError("engine not reachable (fake disconnect)")
        q: asyncio.Queue[object] = asyncio.Queue()
        for ev in self.recent if replay else ():
            q.put_nowait(ev)
        self._subs.append(q)
        try:
            while True:
                item = await q.get()
                if item is _DISCONNECTED:
                    raise ControlError("engine connection lost (fake disconnect)")
                yield item  # type: ignore[misc]
        finally:
            self._subs.remove(q)

    async def call(self, command: Command) -> CommandResult:
        if not self.connected:
            raise ControlError("engine not reachable (fake disconnect)")
        if self._read_only:
            raise PermissionDenied(f"{command.kind}: this client is read-only")
        self.calls.append(command)
        scripted = self.fail.get(command.kind)
        if isinstance(scripted, Exception):
            raise scripted
        if scripted is not None:
            return scripted
        try:
            result = self._apply(command)
        except CommandError as exc:
            result = CommandResult(False, exc.message)
        own = isinstance(command, Reload | DrainDirector | UndrainDirector)  # not replicated
        if self.group is not None and result.ok and not own:
            self.group.changed(describe_command(command))
        if not (isinstance(command, Reload) and command.dry_run):
            self.emit(
                OperatorAction(
                    self.time, "operator", describe_command(command), result.ok, result.message
                )
            )
        return result

    def _apply(self, c: Command) -> CommandResult:
        if isinstance(c, Reload):
            if c.dry_run:
                n = len(self.reload_diff.splitlines())
                return CommandResult(True, f"{n} change(s)", self.reload_diff)
            self.emit(ConfigReloaded(self.time, True, "2 changes applied"))
            return CommandResult(True, "reloaded")
        if isinstance(c, AddReal):
            for s in self.services:
                if s.key == c.service:
                    if any(r.key == c.real for r in s.reals):
                        raise CommandError(f"{c.real} is already in {c.service}")
                    s.reals.append(
                        _Real(
                            c.real,
                            c.weight,
                            c.lb_kind or s.lb_kind,
                            seed=len(s.reals),
                            runtime_added=True,
                        )
                    )
                    return CommandResult(True, f"added {c.real}")
            raise CommandError(f"no virtual service {c.service}")
        if isinstance(c, DrainDirector | UndrainDirector):
            return self._drain_director(c)
        s, r = self.find(c.service, c.real)
        if isinstance(c, Drain):
            r.drain = DrainState.DRAINING if (r.active or r.inact) else DrainState.SAFE
            self.emit(DrainProgress(self.time, s.key, r.key, r.drain, r.active, r.inact))
            return CommandResult(True, f"draining {r.key}")
        if isinstance(c, Undrain):
            r.drain = DrainState.NONE
            self.emit(DrainProgress(self.time, s.key, r.key, r.drain, r.active, r.inact))
            return CommandResult(True, f"undrained {r.key}")
        if isinstance(c, SetWeight):
            r.override = c.weight
            return CommandResult(True, f"weight of {r.key} is {r.weight()}")
        assert isinstance(c, RemoveReal)
        s.reals.remove(r)
        return CommandResult(True, f"removed {r.key}")

    def _drain_director(self, c: DrainDirector | UndrainDirector) -> CommandResult:
        """As lvstui/announce/director.py answers, without the connection counting: a drain
        stays DRAINING until a test sets `announce` to safe."""
        if self.announce is None:
            raise CommandError(f"{c.kind}: this director announces no VIP over BGP")
        if isinstance(c, UndrainDirector):
            self.announce = replace(self.announce, director="normal", director_detail="")
            return CommandResult(True, "director undrained: announcing every bgp VIP again")
        settle = 10.0 if c.settle is None else c.settle
        detail = f"draining: no new connection for 0.0 s of {settle:g} s"
        self.announce = replace(self.announce, director="draining", director_detail=detail)
        return CommandResult(True, "director draining: bgp VIPs announced less preferred")

    async def close(self) -> None:
        self.closed = True
