"""Who is at the other end of the control socket, and what they may do.

Decided by the kernel, not by anything the peer says: SO_PEERCRED gives the connecting
process's uid, gid and pid.

- *operator* (may run commands): root, the daemon's own user, and members of
  `[lvstui] control_group`;
- *reader* (snapshot and events only): everyone else who can open the socket, unless
  `control_read_only_others = false`, in which case they are refused.
"""

from __future__ import annotations

import enum
import grp
import logging
import os
import pwd
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Peer", "Role", "decide_role", "peer_credentials"]

log = logging.getLogger("lvstui.control")


class Role(enum.Enum):
    OPERATOR = "operator"
    READER = "reader"


@dataclass(frozen=True, slots=True)
class Peer:
    """The process at the other end, as the kernel reports it."""

    pid: int
    uid: int
    gid: int
    user: str
    groups: frozenset[int] = frozenset()

    @property
    def who(self) -> str:
        return f"{self.user} (uid {self.uid}, pid {self.pid})"


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _proc_groups(pid: int) -> frozenset[int]:
    """Supplementary groups of a live process (the kernel's view, not /etc/group's)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("Groups:"):
            return frozenset(int(g) for g in line.split()[1:])
    return frozenset()


def peer_credentials(sock: socket.socket) -> Peer:
    fmt = "3i"  # struct ucred: pid, uid, gid
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize(fmt))
    pid, uid, gid = struct.unpack(fmt, raw)
    return Peer(pid, uid, gid, _user_name(uid), _proc_groups(pid) | {gid})


def decide_role(peer: Peer, group: str, read_only_others: bool) -> Role | None:
    """The role of a peer, or None when it must be refused."""
    if peer.uid in (0, os.geteuid()):
        return Role.OPERATOR
    if group:
        try:
            g = grp.getgrnam(group)
        except KeyError:
            log.warning("control_group %r does not exist: only root may operate", group)
        else:
            if g.gr_gid in peer.groups or peer.user in g.gr_mem:
                return Role.OPERATOR
    return Role.READER if read_only_others else None
