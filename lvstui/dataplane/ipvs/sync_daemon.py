"""The kernel's connection-sync daemons (ipvsadm --start-daemon), as reported and as asked for."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from lvstui.dataplane.base import SyncRole
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

    def matches(self, role: SyncRole, interface: str, syncid: int, opts: dict[str, Any]) -> bool:
        """Does this running daemon already do what was asked (unset options: any value)?"""
        if (self.role, self.interface, self.syncid) != (role, interface, syncid):
            return False
        return all(getattr(self, k) == v for k, v in opts.items() if v is not None)


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
    role: SyncRole,
    interface: str,
    syncid: int,
    maxlen: int | None,
    group: str | None,
    port: int | None,
    ttl: int | None,
) -> list[tuple[str, Any]]:
    """The IPVS_DAEMON_ATTR_* of a NEW_DAEMON request; None leaves the kernel's default."""
    attrs: list[tuple[str, Any]] = [
        ("IPVS_DAEMON_ATTR_STATE", ROLE_STATE[role]),
        ("IPVS_DAEMON_ATTR_MCAST_IFN", interface),
        ("IPVS_DAEMON_ATTR_SYNC_ID", syncid),
    ]
    if maxlen is not None:
        attrs.append(("IPVS_DAEMON_ATTR_SYNC_MAXLEN", maxlen))
    if group is not None:
        v6 = ipaddress.ip_address(group).version == 6
        attrs.append((f"IPVS_DAEMON_ATTR_MCAST_GROUP{'6' if v6 else ''}", group))
    if port is not None:
        attrs.append(("IPVS_DAEMON_ATTR_MCAST_PORT", port))
    if ttl is not None:
        attrs.append(("IPVS_DAEMON_ATTR_MCAST_TTL", ttl))
    return attrs
