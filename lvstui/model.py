"""Immutable values that cross boundaries: engine → control socket → console / CLI.

Everything here is a frozen, slotted dataclass or an enum, and serialises to JSON through
`lvstui.control.protocol` without custom code per type. The console only ever sees these
types (through `EngineClient`), never the engine's internals.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field
from typing import ClassVar

from lvstui.netutil import bracket_host, ip_family

__all__ = [
    "AddReal",
    "CheckView",
    "Command",
    "CommandResult",
    "ConfigReloaded",
    "Drain",
    "DrainDirector",
    "DrainProgress",
    "DrainState",
    "Event",
    "GroupPeerView",
    "GroupView",
    "Health",
    "HealthChanged",
    "LbKind",
    "LogEvent",
    "NotifyResult",
    "OperatorAction",
    "ProcessView",
    "Protocol",
    "QuorumChanged",
    "RealKey",
    "RealServerView",
    "Reload",
    "RemoveReal",
    "ServiceKey",
    "ServiceView",
    "SetWeight",
    "Snapshot",
    "Stats",
    "Undrain",
    "UndrainDirector",
    "VrrpChanged",
    "VrrpRunState",
    "VrrpView",
]


class Protocol(enum.Enum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


class LbKind(enum.Enum):
    """Forwarding method. NAT is ipvsadm's "Masq", DR its "Route", TUN its "Tunnel"."""

    NAT = "NAT"
    DR = "DR"
    TUN = "TUN"


def _check_addr_port(addr: str, port: int) -> None:
    """Raise ValueError unless `addr` is an IP address literal and `port` fits 0-65535."""
    if type(port) is not int or not 0 <= port <= 65535:
        raise ValueError(f"port {port!r} out of range 0-65535")
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        raise ValueError(f"{addr!r} is not an IP address") from None


def _check_weight(weight: int | None) -> None:
    if weight is not None and (type(weight) is not int or not 0 <= weight <= 65535):
        raise ValueError(f"weight {weight!r} out of range 0-65535")


def _split_hostport(text: str) -> tuple[str, int]:
    """`1.2.3.4:80`, `[2001:db8::1]:80` → (address, port). Raises ValueError."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if not rest.startswith(":"):
            raise ValueError(f"expected [ADDRESS]:PORT, got {text!r}")
        port_s = rest[1:]
    else:
        host, sep, port_s = text.rpartition(":")
        if not sep:
            raise ValueError(f"expected ADDRESS:PORT, got {text!r}")
    addr = str(ipaddress.ip_address(host))
    port = int(port_s)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} out of range 0-65535")
    return addr, port


# --- keys ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class ServiceKey:
    """Identity of a virtual service: protocol + address + port, or a firewall mark."""

    protocol: Protocol
    addr: str  # "" for fwmark services
    port: int
    fwmark: int = 0  # 0 = not a fwmark service
    family: int = 4

    def __post_init__(self) -> None:
        # Keys arrive from the control socket too: an invalid one must never reach the engine
        # (it would be persisted as an override and refused by the kernel forever).
        if not 0 <= self.fwmark <= 0xFFFFFFFF:
            raise ValueError(f"fwmark {self.fwmark} out of range 0-4294967295")
        if self.family not in (4, 6):
            raise ValueError(f"address family must be 4 or 6, not {self.family}")
        if not self.fwmark:
            _check_addr_port(self.addr, self.port)

    def __str__(self) -> str:
        if self.fwmark:
            return f"FWM {self.fwmark}"
        return f"{self.protocol.value} {bracket_host(self.addr)}:{self.port}"

    @property
    def hostport(self) -> str:
        return f"FWM {self.fwmark}" if self.fwmark else f"{bracket_host(self.addr)}:{self.port}"

    @classmethod
    def parse(cls, text: str, protocol: Protocol | None = None) -> ServiceKey:
        """`TCP 1.2.3.4:80`, `1.2.3.4:80` (TCP unless `protocol`), `udp:[::1]:53`, `FWM 3`."""
        t = text.strip()
        upper = t.upper()
        if upper.startswith("FWM"):
            mark = int(t[3:].strip(" :"), 0)
            return cls(protocol or Protocol.TCP, "", 0, fwmark=mark)
        proto = protocol or Protocol.TCP
        for p in Protocol:
            for sep in (" ", ":"):
                if upper.startswith(p.value + sep):
                    proto = p
                    t = t[len(p.value) + 1 :].strip()
                    break
        addr, port = _split_hostport(t)
        return cls(proto, addr, port, family=ip_family(addr))


@dataclass(frozen=True, slots=True, order=True)
class RealKey:
    addr: str
    port: int

    def __post_init__(self) -> None:
        _check_addr_port(self.addr, self.port)

    def __str__(self) -> str:
        return f"{bracket_host(self.addr)}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> RealKey:
        return cls(*_split_hostport(text))


# --- states ----------------------------------------------------------------------------------


class Health(enum.Enum):
    UNKNOWN = "unknown"  # not checked yet (alpha unset: treated as up)
    UP = "up"
    DOWN = "down"


class DrainState(enum.Enum):
    NONE = "none"
    DRAINING = "draining"  # weight 0, connections still open
    SAFE = "safe"  # weight 0 and no connection left: maintenance can start
    EXPIRED = "expired"  # drain timeout passed, remaining connections were expired


# Engine counters "vrrp_drop:<reason>": adverts the VRRP instances dropped, by reason
VRRP_DROP_PREFIX = "vrrp_drop:"


class VrrpRunState(enum.Enum):
    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"
    STOP = "STOP"


@dataclass(frozen=True, slots=True)
class Stats:
    """IPVS counters (totals since creation) and rates (per second), like ipvsadm's."""

    conns: int = 0
    inpkts: int = 0
    outpkts: int = 0
    inbytes: int = 0
    outbytes: int = 0
    cps: int = 0
    inpps: int = 0
    outpps: int = 0
    inbps: int = 0
    outbps: int = 0


# --- views (what the console and `lvstui list/status` show) -----------------------------------


@dataclass(frozen=True, slots=True)
class CheckView:
    kind: str  # "tcp_check", "http_get", ...
    target: str  # what it probes, e.g. "192.168.10.98:80/health"
    health: Health = Health.UNKNOWN
    last_run: float | None = None  # wall time of the last completed run
    last_ok: bool | None = None
    last_reason: str = ""
    last_latency: float | None = None  # seconds
    period: float = 0.0
    runs: int = 0
    failures: int = 0
    unknown: int = 0  # runs that could not be made for a local reason (EMFILE, fork...)
    shared: int = 1  # real servers (of all services) fed by this one probe
    stale: bool = False  # the watchdog: no completed run within 2 x (period + run budget)


@dataclass(frozen=True, slots=True)
class RealServerView:
    key: RealKey
    fwd: LbKind
    weight_config: int  # from config.toml (or `ctl add`)
    weight: int  # what the dataplane should have now (health, overrides, misc_dynamic)
    health: Health = Health.UNKNOWN
    active_conns: int = 0
    inact_conns: int = 0
    persist_conns: int = 0
    stats: Stats = field(default_factory=Stats)
    drain: DrainState = DrainState.NONE
    weight_override: int | None = None  # operator's `ctl weight`
    runtime_added: bool = False  # added with `ctl add`, not in config
    is_sorry: bool = False
    checks: tuple[CheckView, ...] = ()
    history: tuple[int, ...] = ()  # active connections, one sample a second, oldest first
    in_table: bool = True  # present in the dataplane now (`lvstui list` shows only these)
    ramp_until: float | None = None  # slow start: wall time its weight reaches weight_config
    name: str = ""  # its display name from config.toml ("" when none)


@dataclass(frozen=True, slots=True)
class ServiceView:
    key: ServiceKey
    scheduler: str
    lb_kind: LbKind
    name: str = ""
    flags: tuple[str, ...] = ()
    persistence_timeout: int | None = None
    persistence_netmask: str | None = None
    quorum: int = 1
    hysteresis: int = 0
    live_weight: int = 0
    quorum_up: bool = True
    sorry_active: bool = False
    sorry_server: RealKey | None = None
    real_servers: tuple[RealServerView, ...] = ()
    stats: Stats = field(default_factory=Stats)
    history: tuple[int, ...] = ()  # connections/s, one sample a second
    # mh/sh/dh: digest of the hashing table the dataplane holds (dataplane/hashorder.py),
    # equal on every director that sends a client to the same real server; "" otherwise
    hash_table: str = ""


@dataclass(frozen=True, slots=True)
class VrrpView:
    name: str
    interface: str
    vrid: int
    state: VrrpRunState
    priority: int  # effective (after track scripts)
    base_priority: int
    version: int
    advert_int: float
    vips: tuple[str, ...] = ()
    sync_group: str | None = None
    master_addr: str | None = None  # who we hear as master (None when we are)
    last_transition: float | None = None  # wall time
    reason: str = ""  # why the last transition happened
    # counters since the instance started (keepalived's names: advert_rcvd, advert_sent,
    # pri_zero_rcvd, pri_zero_sent, become_master), and split brains this instance saw
    adverts_received: int = 0
    adverts_sent: int = 0
    priority_zero_received: int = 0
    priority_zero_sent: int = 0
    become_master: int = 0
    split_brains: int = 0
    release_master: int = 0  # transitions out of MASTER (keepalived's release_master)
    # the interface of each address in `vips` (its `dev`; "" when it is the instance's)
    vip_devs: tuple[str, ...] = ()
    drops: tuple[tuple[str, int], ...] = ()  # adverts dropped by this instance, by reason
    scripts: tuple[tuple[str, bool], ...] = ()  # its track_scripts: last verdict (True: good)


@dataclass(frozen=True, slots=True)
class ProcessView:
    """The daemon process's own resources, sampled once a second (0: not known)."""

    tasks: int = 0  # asyncio tasks
    descriptors: int = 0  # open file descriptors
    descriptor_limit: int = 0  # RLIMIT_NOFILE (soft)
    rss: int = 0  # resident memory, bytes


@dataclass(frozen=True, slots=True)
class GroupPeerView:
    """One peer of the director group, as this director sees it."""

    address: str  # as configured ("ADDR:PORT")
    name: str = ""  # its name in the group ("" until it greeted us once)
    reachable: bool = False
    since: float | None = None  # wall time reachability last changed
    synced: bool = False  # digests exchanged since the link came up
    pending: int = 0  # our changes it has not received yet (delivered when it is back)
    config_same: bool | None = None  # None: no status heard from it yet
    differing: tuple[str, ...] = ()  # config sections that differ (`lvstui group diff`)
    table_same: bool | None = None
    vrrp: tuple[str, ...] = ()  # "VI_1 57 MASTER 150": instance, VRID, state, priority
    # the pending changes in `lvstui ctl` words ("drain TCP 192.0.2.1:80 203.0.113.11:80"),
    # sorted, at most PENDING_SHOWN of them (`pending` counts them all)
    pending_changes: tuple[str, ...] = ()
    # the mh/sh services whose hashing table differs from ours (ECMP would move flows)
    hash_differ: tuple[str, ...] = ()


PENDING_SHOWN = 50


@dataclass(frozen=True, slots=True)
class GroupView:
    name: str  # this director's name in the group
    group_id: str = ""  # the credential's fingerprint, short
    overrides: int = 0  # entries in the replicated store (tombstones included)
    peers: tuple[GroupPeerView, ...] = ()
    split_brain: tuple[str, ...] = ()  # "split brain: VRID 57 is MASTER on lb1, lb2"


@dataclass(frozen=True, slots=True)
class VipAnnounceView:
    """A VIP in bgp mode (docs/bgp.md): announced to the routing daemon or withdrawn, and why."""

    vip: str
    announced: bool
    reason: str  # "announced", "a service has no quorum: TCP 198.51.100.10:80", ...


@dataclass(frozen=True, slots=True)
class BgpPeerView:
    """A BGP session of the routing daemon, as it says (lvstui/announce/peers.py)."""

    name: str  # BIRD: the protocol's name; FRR: the neighbor's address
    state: str  # Established, Active, Idle, ...
    since: str = ""
    info: str = ""
    prefixes_sent: int | None = None


@dataclass(frozen=True, slots=True)
class AnnounceView:
    """The announcements of this director ([lvstui.announce]); None in Snapshot: no bgp VIP."""

    vips: tuple[VipAnnounceView, ...] = ()
    daemon: str = ""  # the routing daemon asked for the peers ("bird", "frr"); "": none
    peers: tuple[BgpPeerView, ...] = ()
    peers_error: str = ""  # why the daemon could not be asked, the last time
    director: str = "normal"  # director drain: "normal", "draining" or "safe"
    director_detail: str = ""  # how far the drain is, for status


@dataclass(frozen=True, slots=True)
class Snapshot:
    seq: int
    time: float  # wall
    router_id: str = ""
    config_path: str = ""
    dataplane: str = ""  # "ipvs", "userspace", "memory"
    dataplane_reason: str = ""  # why auto chose it
    directors: int = 2
    services: tuple[ServiceView, ...] = ()
    vrrp: tuple[VrrpView, ...] = ()
    read_only: bool = False  # the client's role may not change anything
    check_lag: float = 0.0  # the health-check scheduler's worst lateness lately, seconds
    process: ProcessView | None = None  # the daemon's tasks, descriptors, memory
    group: GroupView | None = None  # the director group ([lvstui.group]); None: alone
    announce: AnnounceView | None = None  # the bgp VIPs' announcements; None: none in bgp mode


# --- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HealthChanged:
    kind: ClassVar[str] = "health"
    time: float
    service: ServiceKey
    real: RealKey
    health: Health
    reason: str = ""
    weight: int = 0


@dataclass(frozen=True, slots=True)
class VrrpChanged:
    kind: ClassVar[str] = "vrrp"
    time: float
    instance: str
    old: VrrpRunState
    new: VrrpRunState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class QuorumChanged:
    kind: ClassVar[str] = "quorum"
    time: float
    service: ServiceKey
    up: bool
    live_weight: int
    quorum: int
    sorry_active: bool = False


@dataclass(frozen=True, slots=True)
class OperatorAction:
    kind: ClassVar[str] = "operator"
    time: float
    who: str
    action: str  # the command, rendered for humans
    ok: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class DrainProgress:
    kind: ClassVar[str] = "drain"
    time: float
    service: ServiceKey
    real: RealKey
    state: DrainState
    active_conns: int
    inact_conns: int


@dataclass(frozen=True, slots=True)
class NotifyResult:
    kind: ClassVar[str] = "notify"
    time: float
    what: str  # "quorum_down TCP 1.2.3.4:80", "notify_master linuxfr", "mail"
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ConfigReloaded:
    """A reload, applied or refused. It is the one event of a reload (no OperatorAction and
    no LogEvent besides: the console said each reload three times), so it names who asked."""

    kind: ClassVar[str] = "reload"
    time: float
    ok: bool
    summary: str = ""
    who: str = ""


@dataclass(frozen=True, slots=True)
class LogEvent:
    kind: ClassVar[str] = "log"
    time: float
    level: str  # "info", "warning", "error"
    message: str


Event = (
    HealthChanged
    | VrrpChanged
    | QuorumChanged
    | OperatorAction
    | DrainProgress
    | NotifyResult
    | ConfigReloaded
    | LogEvent
)

# --- commands (the only way a client changes anything) ------------------------------------------


@dataclass(frozen=True, slots=True)
class Drain:
    kind: ClassVar[str] = "drain"
    service: ServiceKey
    real: RealKey
    timeout: float | None = None  # expire remaining connections after this; None: config


@dataclass(frozen=True, slots=True)
class Undrain:
    kind: ClassVar[str] = "undrain"
    service: ServiceKey
    real: RealKey


@dataclass(frozen=True, slots=True)
class SetWeight:
    kind: ClassVar[str] = "weight"
    service: ServiceKey
    real: RealKey
    weight: int | None  # None: back to the configured weight

    def __post_init__(self) -> None:
        _check_weight(self.weight)


@dataclass(frozen=True, slots=True)
class AddReal:
    kind: ClassVar[str] = "add"
    service: ServiceKey
    real: RealKey
    weight: int = 1
    lb_kind: LbKind | None = None

    def __post_init__(self) -> None:
        _check_weight(self.weight)


@dataclass(frozen=True, slots=True)
class RemoveReal:
    kind: ClassVar[str] = "remove"
    service: ServiceKey
    real: RealKey


@dataclass(frozen=True, slots=True)
class Reload:
    kind: ClassVar[str] = "reload"
    dry_run: bool = False
    # apply even a configuration that removes every service, or more than
    # [lvstui] reload_max_removal of them (refused otherwise: an emptied file is a mistake
    # far more often than an intent)
    force: bool = False


@dataclass(frozen=True, slots=True)
class DrainDirector:
    """Take this director out of the routers' ECMP set (bgp VIPs, docs/bgp.md)."""

    kind: ClassVar[str] = "drain-director"
    settle: float | None = None  # seconds without a new connection before "safe"; None: 10


@dataclass(frozen=True, slots=True)
class UndrainDirector:
    kind: ClassVar[str] = "undrain-director"


Command = (
    Drain | Undrain | SetWeight | AddReal | RemoveReal | Reload | DrainDirector | UndrainDirector
)


@dataclass(frozen=True, slots=True)
class CommandResult:
    ok: bool
    message: str = ""
    detail: str = ""  # e.g. the reload difference, one change a line
