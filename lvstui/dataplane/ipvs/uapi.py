"""The kernel's IPVS numbers (include/uapi/linux/ip_vs.h) and the netlink request flags we use,
with the schedulers Linux has."""

from __future__ import annotations

import socket

from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST

from lvstui.dataplane.base import SyncRole
from lvstui.model import LbKind, Protocol

# Every scheduler Linux has, each a module ip_vs_NAME (`twos` is newer than 6.1: the guest
# kernel of the tests lacks it, and asking for it gives a clear error).
IPVS_SCHEDULERS = frozenset(
    {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf", "twos"}
)

# include/uapi/linux/ip_vs.h
F_PERSISTENT = 0x0001
F_ONEPACKET = 0x0004
F_SCHED1 = 0x0008  # sh-fallback / mh-fallback
F_SCHED2 = 0x0010  # sh-port / mh-port
F_SCHED3 = 0x0020
FWD = {LbKind.NAT: 0, LbKind.TUN: 2, LbKind.DR: 3}  # IP_VS_CONN_F_MASQ/TUNNEL/DROUTE
FWD_BACK = {0: LbKind.NAT, 1: LbKind.NAT, 2: LbKind.TUN, 3: LbKind.DR}  # 1 = LOCALNODE
PROTO = {Protocol.TCP: socket.IPPROTO_TCP, Protocol.UDP: socket.IPPROTO_UDP, Protocol.SCTP: 132}
PROTO_BACK = {v: k for k, v in PROTO.items()}
AF = {4: socket.AF_INET, 6: socket.AF_INET6}
STATE_MASTER = 1  # IP_VS_STATE_MASTER
STATE_BACKUP = 2  # IP_VS_STATE_BACKUP
ROLE_STATE = {SyncRole.MASTER: STATE_MASTER, SyncRole.BACKUP: STATE_BACKUP}

SEQ_BASE = 1 << 24  # pyroute2's AddrPool hands out 0xF..0xFFFFFF
SEQ_END = 1 << 32
DUMP_GROUP = 8  # dest dumps per datagram (see _dump_many)
REQ = NLM_F_REQUEST | NLM_F_ACK
CREATE = REQ | NLM_F_CREATE | NLM_F_EXCL
DUMP = NLM_F_REQUEST | NLM_F_DUMP
