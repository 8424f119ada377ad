"""The kernel's connection-sync daemons (ipvsadm --start-daemon), as reported and as asked for."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from lvstui.dataplane.base import (
    SYNC_DEFAULT_GROUP,
    SYNC_DEFAULT_PORT,
    SYNC_DEFAULT_TTL,
    SyncOptions,
    SyncRole,
)
from lvstui.dataplane.ipvs.uapi import ROLE_STATE, STATE_MASTER


@dataclass(frozen=True, slots=True)
class SyncDaemon:
    """One running connection-sync daemon, as the kernel reports it (ipvsadm -L --daemon)."""

    role: SyncRole
    interface: str
    syncid: int
    # as the kernel reports them (its defaults: 1472 (MTU-based), 224.0.0.81, 8848, 1)
    maxlen: int = 0
    group: str = ""
    port: int = 0
    ttl: int = 0

    def matches(self, role: SyncRole, interface: str, syncid: int, options: SyncOptions) -> bool:
        """Does this running daemon already do what was asked? An unset option is the
        kernel's default (maxlen, which follows the MTU: any value); one the kernel does
        not report (before Linux 4.3: 0 or "") cannot be compared and passes."""
        if (self.role, self.interface, self.syncid) != (role, interface, syncid):
            return False
        want: tuple[tuple[int | str, int | str | None, int | str], ...] = (
            (self.maxlen, options.maxlen, self.maxlen),
            (self.group, options.group, SYNC_DEFAULT_GROUP),
            (self.port, options.port, SYNC_DEFAULT_PORT),
            (self.ttl, options.ttl, SYNC_DEFAULT_TTL),
        )
        return all(
            have in (default if asked is None else asked, 0, "") for have, asked, default in want
        )


def daemon_from(d: Any) -> SyncDaemon:
    """One IPVS_CMD_ATTR_DAEMON of a GET_DAEMON answer (pyroute2-decoded)."""
    state = d.get("IPVS_DAEMON_ATTR_STATE")
    role = SyncRole.MASTER if state == STATE_MASTER else SyncRole.BACKUP
    group = d.get("IPVS_DAEMON_ATTR_MCAST_GROUP6") or d.get("IPVS_DAEMON_ATTR_MCAST_GROUP")
    return SyncDaemon(
        role,
        d.get("IPVS_DAEMON_ATTR_MCAST_IFN") or "",
        int(d.get("IPVS_DAEMON_ATTR_SYNC_ID") or 0),
        maxlen=int(d.get("IPVS_DAEMON_ATTR_SYNC_MAXLEN") or 0),
        group=str(group or ""),
        port=int(d.get("IPVS_DAEMON_ATTR_MCAST_PORT") or 0),
        ttl=int(d.get("IPVS_DAEMON_ATTR_MCAST_TTL") or 0),
    )


def daemon_attrs(
    role: SyncRole, interface: str, syncid: int, options: SyncOptions
) -> list[tuple[str, Any]]:
    """The IPVS_DAEMON_ATTR_* of a NEW_DAEMON request; an unset option is left to the kernel."""
    attrs: list[tuple[str, Any]] = [
        ("IPVS_DAEMON_ATTR_STATE", ROLE_STATE[role]),
        ("IPVS_DAEMON_ATTR_MCAST_IFN", interface),
        ("IPVS_DAEMON_ATTR_SYNC_ID", syncid),
    ]
    if options.maxlen is not None:
        attrs.append(("IPVS_DAEMON_ATTR_SYNC_MAXLEN", options.maxlen))
    if options.group is not None:
        v6 = ipaddress.ip_address(options.group).version == 6
        attrs.append((f"IPVS_DAEMON_ATTR_MCAST_GROUP{'6' if v6 else ''}", options.group))
    if options.port is not None:
        attrs.append(("IPVS_DAEMON_ATTR_MCAST_PORT", options.port))
    if options.ttl is not None:
        attrs.append(("IPVS_DAEMON_ATTR_MCAST_TTL", options.ttl))
    return attrs
