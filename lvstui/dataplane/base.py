"""The dataplane contract: what the engine wants (desired) and what is there (observed).

The engine hands a dataplane the complete *desired* table; `lvstui.dataplane.reconcile`
(pure) turns desired vs observed into the minimal list of operations, and the dataplane
applies them. Every implementation (kernel IPVS, the userspace forwarder, the in-memory
recorder) passes the same contract test suite.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol as TypingProtocol

from lvstui.model import LbKind, RealKey, ServiceKey, Stats

__all__ = [
    "AddDest",
    "AddService",
    "Capabilities",
    "Dataplane",
    "DelDest",
    "DelService",
    "DesiredDest",
    "DesiredService",
    "EditDest",
    "EditService",
    "ObservedDest",
    "ObservedService",
    "Op",
    "SyncRole",
    "describe_op",
]


@dataclass(frozen=True, slots=True)
class DesiredDest:
    key: RealKey
    weight: int
    fwd: LbKind = LbKind.NAT
    u_threshold: int = 0
    l_threshold: int = 0


@dataclass(frozen=True, slots=True)
class DesiredService:
    key: ServiceKey
    scheduler: str
    flags: frozenset[str] = frozenset()  # "sh-port", "sh-fallback", "mh-port", "mh-fallback", "ops"
    persistence_timeout: int | None = None  # None: not persistent
    netmask: str | None = None  # persistence granularity ("255.255.255.255" by default)
    dests: tuple[DesiredDest, ...] = ()
    # userspace-only options; the kernel ignores them
    proxy_protocol: int = 0
    app_hash: bool = False
    udp_idle_timeout: float = 300.0


@dataclass(frozen=True, slots=True)
class ObservedDest:
    key: RealKey
    weight: int
    fwd: LbKind
    active_conns: int = 0
    inact_conns: int = 0
    persist_conns: int = 0
    u_threshold: int = 0
    l_threshold: int = 0
    stats: Stats = field(default_factory=Stats)


@dataclass(frozen=True, slots=True)
class ObservedService:
    key: ServiceKey
    scheduler: str
    flags: frozenset[str] = frozenset()
    persistence_timeout: int | None = None
    netmask: str | None = None
    dests: tuple[ObservedDest, ...] = ()
    stats: Stats = field(default_factory=Stats)
    # userspace-only options as the forwarder holds them; None where not applicable (the
    # kernel has no such thing), and reconcile then never compares them
    proxy_protocol: int | None = None
    app_hash: bool | None = None
    udp_idle_timeout: float | None = None


# --- operations (what reconcile emits) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddService:
    service: DesiredService  # without dests: they follow as AddDest


@dataclass(frozen=True, slots=True)
class EditService:
    service: DesiredService  # scheduler / flags / persistence changed; dests untouched


@dataclass(frozen=True, slots=True)
class DelService:
    key: ServiceKey


@dataclass(frozen=True, slots=True)
class AddDest:
    service: ServiceKey
    dest: DesiredDest


@dataclass(frozen=True, slots=True)
class EditDest:
    """Weight / thresholds / forwarding changed in place: never delete + add."""

    service: ServiceKey
    dest: DesiredDest


@dataclass(frozen=True, slots=True)
class DelDest:
    service: ServiceKey
    key: RealKey


Op = AddService | EditService | DelService | AddDest | EditDest | DelDest


def describe_op(op: Op) -> str:
    """One line for logs and `--dry-run`, ipvsadm-like."""
    match op:
        case AddService(s) | EditService(s):
            verb = "add service" if isinstance(op, AddService) else "edit service"
            extra = f" persistent {s.persistence_timeout}" if s.persistence_timeout else ""
            flags = f" flags {','.join(sorted(s.flags))}" if s.flags else ""
            return f"{verb} {s.key} scheduler {s.scheduler}{flags}{extra}"
        case DelService(k):
            return f"delete service {k}"
        case AddDest(k, d) | EditDest(k, d):
            verb = "add real" if isinstance(op, AddDest) else "edit real"
            return f"{verb} {k} -> {d.key} {d.fwd.value} weight {d.weight}"
        case DelDest(k, r):
            return f"delete real {k} -> {r}"
    raise AssertionError(op)  # pragma: no cover


# the kernel's connection-sync defaults, as ipvsadm -L --daemon shows them (maxlen follows the
# interface's MTU: this is a 1500-byte link's)
SYNC_DEFAULT_MAXLEN = 1472
SYNC_DEFAULT_GROUP = "224.0.0.81"
SYNC_DEFAULT_PORT = 8848
SYNC_DEFAULT_TTL = 1


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """keepalived's lvs_sync_daemon options for the kernel's daemon; None: the kernel's
    default (maxlen: from the interface's MTU)."""

    maxlen: int | None = None
    group: str | None = None  # IPv4 or IPv6 multicast address
    port: int | None = None
    ttl: int | None = None


NO_SYNC_OPTIONS = SyncOptions()


class SyncRole(enum.Enum):
    """IPVS connection-sync daemon role (ipvsadm --start-daemon master|backup)."""

    NONE = "none"
    MASTER = "master"
    BACKUP = "backup"


@dataclass(frozen=True, slots=True)
class Capabilities:
    name: str  # "ipvs", "userspace", "memory"
    lb_kinds: frozenset[LbKind]
    schedulers: frozenset[str]
    protocols: frozenset[str]  # "TCP", "UDP", "SCTP"
    fwmark: bool
    sync_daemon: bool
    reason: str = ""  # why this dataplane was chosen (selection)
    # `expire_connections` ends a real server's connections and keeps it in the table (the
    # userspace forwarder); without it, a drain's timeout deletes the destination instead
    # (the kernel's way: its connections become unusable at once)
    expire_connections: bool = False
    # connection timeouts the config sets (lvs_timeouts, ipvsadm --set): `set_timeouts`
    timeouts: bool = False
    # NAT forwarding the kernel's conntrack sees (net.ipv4.vs.conntrack), so nftables can
    # rewrite the source too (a service's source_nat)
    source_nat: bool = False


class Dataplane(TypingProtocol):
    """A place where virtual services live. Implementations: ipvs, userspace, memory.

    What an implementation can do beyond the common operations is in its `capabilities`;
    callers ask those, never the object (no probing for methods)."""

    @property
    def capabilities(self) -> Capabilities: ...

    async def start(self) -> None:
        """Open sockets / netlink. Must not change existing state (adopt, never flush)."""
        ...

    async def close(self) -> None:
        """Release resources. Does not remove services (a restart must drop no connection)."""
        ...

    async def observe(self) -> Sequence[ObservedService]:
        """Every service this dataplane holds, with real servers and statistics."""
        ...

    async def apply(self, ops: Sequence[Op]) -> None:
        """Apply operations in order; raise DataplaneError naming the failed op."""
        ...

    async def set_sync_role(
        self,
        role: SyncRole,
        interface: str = "",
        syncid: int = 0,
        options: SyncOptions = NO_SYNC_OPTIONS,
    ) -> None:
        """Run exactly the connection-sync daemon asked for (no-op where unsupported): one
        already running with other settings is stopped and started again with these.
        `options` are keepalived's lvs_sync_daemon options."""
        ...

    async def set_timeouts(self, tcp: int | None, tcpfin: int | None, udp: int | None) -> None:
        """Set the connection timeouts (keepalived's lvs_timeouts, ipvsadm --set; seconds,
        None leaves one as it is) where `capabilities.timeouts` says there are such;
        DataplaneError elsewhere (the userspace forwarder has its per-service
        `udp_idle_timeout` instead)."""
        ...

    async def expire_connections(self, service: ServiceKey, real: RealKey) -> None:
        """End every connection `service` relays to `real` now (a drain's timeout) and keep
        the real server in the table; DataplaneError when either is unknown, or when
        `capabilities.expire_connections` is False (the dataplane cannot)."""
        ...
