"""The kernel IPVS dataplane, through pyroute2's generic-netlink IPVS classes (0.9.7).

This is the only module that imports pyroute2's IPVS. It speaks to the kernel through
`pyroute2.AsyncIPVS` (the socket, its generic-netlink family binding, its receive queue)
and describes every message with pyroute2's `ipvsmsg` classes (`_op_message`), not with
the convenience classes `IPVSService`/`IPVSDest`, because those have traps in 0.9.7
(testing.md §4):

- `"update"` is mapped to a *delete*: we send `IPVS_CMD_SET_*` for edits;
- `IPVSDest` defaults to `fwd_method=3` (DR), and a set without the forwarding method turns
  a Masq real server into Route: every dest message carries the method explicitly;
- `from_message` drops the statistics and reports stale defaults: we read the raw
  attributes (flags, timeout, netmask, forwarding method, thresholds, STATS64);
- the IPv6 persistence netmask is a prefix length in a 32-bit attribute that pyroute2
  declares as an IPv4 address: we encode/decode it as such (`_v6_mask_*`);
- there is no helper for the connection-sync daemon: `_ipvsmsg` declares the nested
  `IPVS_CMD_ATTR_DAEMON` attributes and we send NEW_DAEMON / DEL_DAEMON / GET_DAEMON.

Start adopts what the kernel holds (never flushes) and close leaves the table: a restart of
the director drops no connection.

The hot paths (service and real-server requests, table dumps) send the very bytes that
`ipvsmsg` would encode, but packed by `lvstui.dataplane.ipvs_wire` (pyroute2's encoder
costs ~600 µs a message; tests pin both to the same bytes). Writes are batched: up to
`batch` requests in one datagram and one acknowledgement per batch (the kernel reports any
failed request by itself), so 11,000 operations cost a few dozen system calls.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import ipaddress
import os
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pyroute2 import AsyncIPVS
from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, nla
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.generic import AsyncGenericNetlinkSocket
from pyroute2.netlink.generic import ipvs as genl_ipvs
from pyroute2.netlink.nlsocket import NetlinkRequest

from lvstui.config.schema import LbKind, Protocol
from lvstui.dataplane import ipvs_wire as wire
from lvstui.dataplane.base import (
    AddDest,
    AddService,
    Capabilities,
    DelDest,
    DelService,
    DesiredDest,
    DesiredService,
    EditDest,
    EditService,
    ObservedDest,
    ObservedService,
    Op,
    SyncRole,
)
from lvstui.dataplane.memory import describe_op
from lvstui.errors import DataplaneError
from lvstui.model import RealKey, ServiceKey, Stats

__all__ = [
    "IPVS_SCHEDULERS",
    "IpvsDataplane",
    "SyncDaemon",
]

# Every scheduler Linux has, each a module ip_vs_NAME (`twos` is newer than 6.1: the guest
# kernel of the tests lacks it, and asking for it gives a clear error).
IPVS_SCHEDULERS = frozenset(
    {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf", "twos"}
)

# include/uapi/linux/ip_vs.h
_F_PERSISTENT = 0x0001
_F_ONEPACKET = 0x0004
_F_SCHED1 = 0x0008  # sh-fallback / mh-fallback
_F_SCHED2 = 0x0010  # sh-port / mh-port
_F_SCHED3 = 0x0020
_FWD = {LbKind.NAT: 0, LbKind.TUN: 2, LbKind.DR: 3}  # IP_VS_CONN_F_MASQ/TUNNEL/DROUTE
_FWD_BACK = {0: LbKind.NAT, 1: LbKind.NAT, 2: LbKind.TUN, 3: LbKind.DR}  # 1 = LOCALNODE
_PROTO = {Protocol.TCP: socket.IPPROTO_TCP, Protocol.UDP: socket.IPPROTO_UDP, Protocol.SCTP: 132}
_PROTO_BACK = {v: k for k, v in _PROTO.items()}
_AF = {4: socket.AF_INET, 6: socket.AF_INET6}
_STATE_MASTER = 1  # IP_VS_STATE_MASTER
_STATE_BACKUP = 2  # IP_VS_STATE_BACKUP
_ROLE_STATE = {SyncRole.MASTER: _STATE_MASTER, SyncRole.BACKUP: _STATE_BACKUP}

_SEQ_BASE = 1 << 24  # pyroute2's AddrPool hands out 0xF..0xFFFFFF
_SEQ_END = 1 << 32
_DUMP_GROUP = 8  # dest dumps per datagram (see _dump_many)
_REQ = NLM_F_REQUEST | NLM_F_ACK
_CREATE = _REQ | NLM_F_CREATE | NLM_F_EXCL
_DUMP = NLM_F_REQUEST | NLM_F_DUMP


class _ipvsmsg(genl_ipvs.ipvsmsg):  # type: ignore[misc]
    """pyroute2's ipvsmsg with the sync-daemon attributes declared (0.9.7 has them as hex)."""

    nla_map = (
        ("IPVS_CMD_ATTR_UNSPEC", "none"),
        ("IPVS_CMD_ATTR_SERVICE", "service"),
        ("IPVS_CMD_ATTR_DEST", "dest"),
        ("IPVS_CMD_ATTR_DAEMON", "daemon"),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP", "uint32"),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", "uint32"),
        ("IPVS_CMD_ATTR_TIMEOUT_UDP", "uint32"),
    )

    class daemon(nla):  # type: ignore[misc]
        prefix = "IPVS_DAEMON_ATTR_"
        nla_map = (
            ("IPVS_DAEMON_ATTR_UNSPEC", "none"),
            ("IPVS_DAEMON_ATTR_STATE", "uint32"),
            ("IPVS_DAEMON_ATTR_MCAST_IFN", "asciiz"),
            ("IPVS_DAEMON_ATTR_SYNC_ID", "uint32"),
            ("IPVS_DAEMON_ATTR_SYNC_MAXLEN", "uint16"),
            ("IPVS_DAEMON_ATTR_MCAST_GROUP", "ip4addr"),
            ("IPVS_DAEMON_ATTR_MCAST_GROUP6", "ip6addr"),
            ("IPVS_DAEMON_ATTR_MCAST_PORT", "uint16"),  # host order (unlike service ports)
            ("IPVS_DAEMON_ATTR_MCAST_TTL", "uint8"),
        )


class _Socket(AsyncIPVS):  # type: ignore[misc]
    """AsyncIPVS bound with our message class (so daemon replies decode)."""

    async def setup_endpoint(self) -> None:
        if getattr(self.local, "transport", None) is not None:
            return
        await AsyncGenericNetlinkSocket.setup_endpoint(self)
        await self.bind(genl_ipvs.GENL_NAME, _ipvsmsg)


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


# --- encoding --------------------------------------------------------------------------------


def _v6_mask_encode(prefix: int) -> str:
    # The kernel reads IPVS_SVC_ATTR_NETMASK as a raw 32-bit word; for IPv6 it holds the
    # prefix length in host order (ipvsadm does the same). pyroute2 types it ip4addr.
    return socket.inet_ntoa(struct.pack("=I", prefix))


def _v6_mask_decode(text: str) -> int:
    return int(struct.unpack("=I", socket.inet_aton(text))[0])


def _prefix(netmask: str | None, family: int) -> int:
    full = 32 if family == 4 else 128
    if not netmask:
        return full
    text = netmask.strip().lstrip("/")
    if text.isdigit():
        return int(text)
    net = ipaddress.ip_network(f"0.0.0.0/{text}" if family == 4 else f"::/{text}")
    return net.prefixlen


def _key_attrs(key: ServiceKey) -> list[tuple[str, Any]]:
    af = _AF[key.family]
    if key.fwmark:
        return [("IPVS_SVC_ATTR_AF", af), ("IPVS_SVC_ATTR_FWMARK", key.fwmark)]
    return [
        ("IPVS_SVC_ATTR_AF", af),
        ("IPVS_SVC_ATTR_PROTOCOL", _PROTO[key.protocol]),
        ("IPVS_SVC_ATTR_ADDR", key.addr),
        ("IPVS_SVC_ATTR_PORT", key.port),
    ]


def _flag_bits(svc: DesiredService) -> int:
    bits = 0
    for f in svc.flags:
        name = f.lower()
        if name in ("sh-fallback", "mh-fallback", "flag-1"):
            bits |= _F_SCHED1
        elif name in ("sh-port", "mh-port", "flag-2"):
            bits |= _F_SCHED2
        elif name == "flag-3":
            bits |= _F_SCHED3
        elif name == "ops":
            bits |= _F_ONEPACKET
        elif name in ("persistent", "hashed"):
            continue  # state, not configuration
        else:
            raise DataplaneError(
                f"service {svc.key}: unknown scheduler flag {f!r}",
                hint="flags: sh-fallback, sh-port, mh-fallback, mh-port, ops",
            )
    if svc.persistence_timeout:
        bits |= _F_PERSISTENT
    return bits


def _service_attrs(svc: DesiredService) -> dict[str, Any]:
    family = svc.key.family
    prefix = _prefix(svc.netmask, family)
    if family == 4:
        mask = str(ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask)
    else:
        mask = _v6_mask_encode(prefix)
    attrs = [
        *_key_attrs(svc.key),
        ("IPVS_SVC_ATTR_SCHED_NAME", svc.scheduler.lower()),
        ("IPVS_SVC_ATTR_FLAGS", {"flags": _flag_bits(svc), "mask": 0xFFFFFFFF}),
        ("IPVS_SVC_ATTR_TIMEOUT", svc.persistence_timeout or 0),
        ("IPVS_SVC_ATTR_NETMASK", mask),
    ]
    return {"attrs": attrs}


def _dest_attrs(dest: DesiredDest) -> dict[str, Any]:
    family = 6 if ":" in dest.key.addr else 4
    return {
        "attrs": [
            ("IPVS_DEST_ATTR_ADDR_FAMILY", _AF[family]),
            ("IPVS_DEST_ATTR_ADDR", dest.key.addr),
            ("IPVS_DEST_ATTR_PORT", dest.key.port),
            # always explicit: leaving it out of a SET turns Masq into Route (pyroute2 trap)
            ("IPVS_DEST_ATTR_FWD_METHOD", _FWD[dest.fwd]),
            ("IPVS_DEST_ATTR_WEIGHT", dest.weight),
            ("IPVS_DEST_ATTR_U_THRESH", dest.u_threshold),
            ("IPVS_DEST_ATTR_L_THRESH", dest.l_threshold),
        ]
    }


def _dest_key_attrs(key: RealKey) -> dict[str, Any]:
    family = 6 if ":" in key.addr else 4
    return {
        "attrs": [
            ("IPVS_DEST_ATTR_ADDR_FAMILY", _AF[family]),
            ("IPVS_DEST_ATTR_ADDR", key.addr),
            ("IPVS_DEST_ATTR_PORT", key.port),
        ]
    }


def _message(cmd: int, attrs: list[tuple[str, Any]]) -> _ipvsmsg:
    msg = _ipvsmsg()
    msg["cmd"] = cmd
    msg["version"] = genl_ipvs.GENL_VERSION
    msg["attrs"] = attrs
    return msg


def _op_message(op: Op) -> tuple[_ipvsmsg, int]:
    match op:
        case AddService(svc):
            return _message(
                genl_ipvs.IPVS_CMD_NEW_SERVICE, [("IPVS_CMD_ATTR_SERVICE", _service_attrs(svc))]
            ), _CREATE
        case EditService(svc):
            return _message(
                genl_ipvs.IPVS_CMD_SET_SERVICE, [("IPVS_CMD_ATTR_SERVICE", _service_attrs(svc))]
            ), _REQ
        case DelService(key):
            return _message(
                genl_ipvs.IPVS_CMD_DEL_SERVICE,
                [("IPVS_CMD_ATTR_SERVICE", {"attrs": _key_attrs(key)})],
            ), _REQ
        case AddDest(key, dest) | EditDest(key, dest):
            cmd = (
                genl_ipvs.IPVS_CMD_NEW_DEST
                if isinstance(op, AddDest)
                else genl_ipvs.IPVS_CMD_SET_DEST
            )
            return _message(
                cmd,
                [
                    ("IPVS_CMD_ATTR_SERVICE", {"attrs": _key_attrs(key)}),
                    ("IPVS_CMD_ATTR_DEST", _dest_attrs(dest)),
                ],
            ), (_CREATE if isinstance(op, AddDest) else _REQ)
        case DelDest(key, real):
            return _message(
                genl_ipvs.IPVS_CMD_DEL_DEST,
                [
                    ("IPVS_CMD_ATTR_SERVICE", {"attrs": _key_attrs(key)}),
                    ("IPVS_CMD_ATTR_DEST", _dest_key_attrs(real)),
                ],
            ), _REQ
    raise AssertionError(op)  # pragma: no cover


# --- decoding --------------------------------------------------------------------------------


def _stats_of(st: Any) -> Stats:
    if st is None:
        return Stats()

    def g(name: str) -> int:
        v = st.get("IPVS_STATS_ATTR_" + name)
        return int(v) if v is not None else 0

    return Stats(
        conns=g("CONNS"),
        inpkts=g("INPKTS"),
        outpkts=g("OUTPKTS"),
        inbytes=g("INBYTES"),
        outbytes=g("OUTBYTES"),
        cps=g("CPS"),
        inpps=g("INPPS"),
        outpps=g("OUTPPS"),
        inbps=g("INBPS"),
        outbps=g("OUTBPS"),
    )


def _flag_names(bits: int, sched: str) -> frozenset[str]:
    names: set[str] = set()
    prefix = sched if sched in ("sh", "mh") else ""
    if bits & _F_SCHED1:
        names.add(f"{prefix}-fallback" if prefix else "flag-1")
    if bits & _F_SCHED2:
        names.add(f"{prefix}-port" if prefix else "flag-2")
    if bits & _F_SCHED3:
        names.add("flag-3")
    if bits & _F_ONEPACKET:
        names.add("ops")
    return frozenset(names)


def _service_from(svc: Any) -> ObservedService:
    """pyroute2's decoding (the reference the fast `service_from_wire` is tested against)."""
    af = svc.get("IPVS_SVC_ATTR_AF")
    family = 6 if af == socket.AF_INET6 else 4
    fwmark = svc.get("IPVS_SVC_ATTR_FWMARK") or 0
    if fwmark:
        key = ServiceKey(Protocol.TCP, "", 0, fwmark=fwmark, family=family)
    else:
        proto = _PROTO_BACK.get(svc.get("IPVS_SVC_ATTR_PROTOCOL"), Protocol.TCP)
        addr = str(ipaddress.ip_address(svc.get("IPVS_SVC_ATTR_ADDR")))
        key = ServiceKey(proto, addr, svc.get("IPVS_SVC_ATTR_PORT"), family=family)
    sched = svc.get("IPVS_SVC_ATTR_SCHED_NAME") or ""
    fl = svc.get("IPVS_SVC_ATTR_FLAGS")
    bits = int(fl["flags"]) if fl is not None else 0
    persistent = bool(bits & _F_PERSISTENT)
    raw_mask = svc.get("IPVS_SVC_ATTR_NETMASK")
    if family == 4:
        netmask = str(raw_mask) if raw_mask else "255.255.255.255"
    else:
        netmask = str(_v6_mask_decode(raw_mask)) if raw_mask else "128"
    return ObservedService(
        key=key,
        scheduler=sched,
        flags=_flag_names(bits, sched),
        persistence_timeout=int(svc.get("IPVS_SVC_ATTR_TIMEOUT") or 0) if persistent else None,
        netmask=netmask,
        stats=_stats_of(svc.get("IPVS_SVC_ATTR_STATS64")),
    )


def _dest_from(d: Any) -> ObservedDest:
    addr = str(ipaddress.ip_address(d.get("IPVS_DEST_ATTR_ADDR")))
    return ObservedDest(
        key=RealKey(addr, d.get("IPVS_DEST_ATTR_PORT")),
        weight=int(d.get("IPVS_DEST_ATTR_WEIGHT") or 0),
        fwd=_FWD_BACK.get(int(d.get("IPVS_DEST_ATTR_FWD_METHOD") or 0) & 0x7, LbKind.NAT),
        active_conns=int(d.get("IPVS_DEST_ATTR_ACTIVE_CONNS") or 0),
        inact_conns=int(d.get("IPVS_DEST_ATTR_INACT_CONNS") or 0),
        persist_conns=int(d.get("IPVS_DEST_ATTR_PERSIST_CONNS") or 0),
        u_threshold=int(d.get("IPVS_DEST_ATTR_U_THRESH") or 0),
        l_threshold=int(d.get("IPVS_DEST_ATTR_L_THRESH") or 0),
        stats=_stats_of(d.get("IPVS_DEST_ATTR_STATS64")),
    )


# --- the fast path: the same messages through ipvs_wire (pinned to the above by tests) -------


def _netmask_bytes(svc: DesiredService) -> bytes:
    prefix = _prefix(svc.netmask, svc.key.family)
    if svc.key.family == 4:
        return ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask.packed
    return struct.pack("=I", prefix)


@functools.lru_cache(maxsize=4096)  # the same service key heads each of its dests' requests
def _wire_key(key: ServiceKey) -> bytes:
    proto = 0 if key.fwmark else _PROTO[key.protocol]
    return wire.service_key_attrs(key.family, proto, key.addr, key.port, key.fwmark)


def _wire_dest(dest: DesiredDest) -> bytes:
    return wire.dest_attrs(
        dest.key.addr,
        dest.key.port,
        _FWD[dest.fwd],
        dest.weight,
        dest.u_threshold,
        dest.l_threshold,
    )


def op_wire(op: Op, family_id: int, flags: int, seq: int) -> bytes:
    """The netlink request for one operation (what `_op_message` encodes, 100x faster)."""
    svc_attr = wire.CMD_ATTR_SERVICE
    dest_attr = wire.CMD_ATTR_DEST
    match op:
        case AddService(svc) | EditService(svc):
            cmd = (
                genl_ipvs.IPVS_CMD_NEW_SERVICE
                if isinstance(op, AddService)
                else genl_ipvs.IPVS_CMD_SET_SERVICE
            )
            body = wire.service_attrs(
                _wire_key(svc.key),
                svc.scheduler.lower(),
                _flag_bits(svc),
                svc.persistence_timeout or 0,
                _netmask_bytes(svc),
            )
            return wire.message(family_id, flags, seq, cmd, (svc_attr, body))
        case DelService(key):
            return wire.message(
                family_id, flags, seq, genl_ipvs.IPVS_CMD_DEL_SERVICE, (svc_attr, _wire_key(key))
            )
        case AddDest(key, dest) | EditDest(key, dest):
            cmd = (
                genl_ipvs.IPVS_CMD_NEW_DEST
                if isinstance(op, AddDest)
                else genl_ipvs.IPVS_CMD_SET_DEST
            )
            return wire.message(
                family_id,
                flags,
                seq,
                cmd,
                (svc_attr, _wire_key(key)),
                (dest_attr, _wire_dest(dest)),
            )
        case DelDest(key, real):
            return wire.message(
                family_id,
                flags,
                seq,
                genl_ipvs.IPVS_CMD_DEL_DEST,
                (svc_attr, _wire_key(key)),
                (dest_attr, wire.dest_key_attrs(real.addr, real.port)),
            )
    raise AssertionError(op)  # pragma: no cover


def _stats_tuple(v: tuple[int, ...]) -> Stats:
    return Stats(*v)


def service_from_wire(a: dict[int, bytes]) -> ObservedService:
    """An ObservedService (without dests) from IPVS_SVC_ATTR_* attributes."""
    af = wire.u16(a.get(wire.SVC_AF))
    family = 6 if af == socket.AF_INET6 else 4
    fwmark = wire.u32(a.get(wire.SVC_FWMARK))
    if fwmark:
        key = ServiceKey(Protocol.TCP, "", 0, fwmark=fwmark, family=family)
    else:
        proto = _PROTO_BACK.get(wire.u16(a.get(wire.SVC_PROTOCOL)), Protocol.TCP)
        addr = wire.ip(a.get(wire.SVC_ADDR), af)
        key = ServiceKey(proto, addr, wire.be16(a.get(wire.SVC_PORT)), family=family)
    sched = wire.asciiz(a.get(wire.SVC_SCHED_NAME))
    bits = wire.flags(a.get(wire.SVC_FLAGS))
    raw_mask = a.get(wire.SVC_NETMASK) or b""
    if family == 4:
        netmask = str(ipaddress.IPv4Address(raw_mask[:4])) if raw_mask else "255.255.255.255"
    else:
        netmask = str(wire.u32(raw_mask)) if raw_mask else "128"
    return ObservedService(
        key=key,
        scheduler=sched,
        flags=_flag_names(bits, sched),
        persistence_timeout=wire.u32(a.get(wire.SVC_TIMEOUT)) if bits & _F_PERSISTENT else None,
        netmask=netmask,
        stats=_stats_tuple(wire.stats64(a.get(wire.SVC_STATS64))),
    )


def dest_from_wire(a: dict[int, bytes]) -> ObservedDest:
    af = wire.u16(a.get(wire.DEST_ADDR_FAMILY))
    if not af:  # kernels before 4.x do not send the family: guess from the length
        af = socket.AF_INET6 if len(a.get(wire.DEST_ADDR) or b"") >= 16 else socket.AF_INET
    return ObservedDest(
        key=RealKey(wire.ip(a.get(wire.DEST_ADDR), af), wire.be16(a.get(wire.DEST_PORT))),
        weight=wire.u32(a.get(wire.DEST_WEIGHT)),
        fwd=_FWD_BACK.get(wire.u32(a.get(wire.DEST_FWD_METHOD)) & 0x7, LbKind.NAT),
        active_conns=wire.u32(a.get(wire.DEST_ACTIVE_CONNS)),
        inact_conns=wire.u32(a.get(wire.DEST_INACT_CONNS)),
        persist_conns=wire.u32(a.get(wire.DEST_PERSIST_CONNS)),
        u_threshold=wire.u32(a.get(wire.DEST_U_THRESH)),
        l_threshold=wire.u32(a.get(wire.DEST_L_THRESH)),
        stats=_stats_tuple(wire.stats64(a.get(wire.DEST_STATS64))),
    )


# --- errors ----------------------------------------------------------------------------------


def _explain(op: Op, code: int) -> tuple[str, str]:
    """A sentence and a hint for a kernel error code on an operation."""
    match op:
        case AddService(svc) if code == errno.ENOENT:
            return (
                f"scheduler {svc.scheduler!r} is not available in this kernel",
                f"modprobe ip_vs_{svc.scheduler}; known: {', '.join(sorted(IPVS_SCHEDULERS))}",
            )
        case EditService(svc) if code == errno.ENOENT:
            return (
                f"scheduler {svc.scheduler!r} is not available in this kernel",
                f"modprobe ip_vs_{svc.scheduler}",
            )
        case AddService() if code == errno.EEXIST:
            return "the service already exists", "observe() and reconcile instead of adding"
        case AddDest() if code == errno.EEXIST:
            return "the real server already exists", "use an edit (set) to change it"
        case EditService() | DelService() | AddDest() if code == errno.ESRCH:
            return "no such service in the kernel", "the table changed behind us: re-observe"
        case EditDest() | DelDest() if code == errno.ENOENT:
            return "no such real server in the kernel", "the table changed behind us: re-observe"
        case EditDest() | DelDest() if code == errno.ESRCH:
            return "no such service in the kernel", "the table changed behind us: re-observe"
    if code == errno.EPERM:
        return "permission denied", "the IPVS dataplane needs CAP_NET_ADMIN (run as root)"
    return os.strerror(code), "see the kernel log (dmesg) for IPVS messages"


def _request_flags(op: Op) -> int:
    return int(NLM_F_REQUEST) | (
        NLM_F_CREATE | NLM_F_EXCL if isinstance(op, AddService | AddDest) else 0
    )


def _first_error(data: bytes) -> int:
    for kind, _, payload in wire.messages(data):
        if kind == wire.NLMSG_ERROR:
            return wire.error_code(payload)
    return 0


def _dump_error(code: int) -> DataplaneError:
    return DataplaneError(
        f"reading the IPVS table failed: {os.strerror(code)}",
        hint="the IPVS dataplane needs CAP_NET_ADMIN",
    )


def _module_loaded(name: str) -> bool:
    return os.path.isdir(f"/sys/module/{name}")


class IpvsDataplane:
    """The Linux kernel's IP Virtual Server, programmed over generic netlink."""

    def __init__(
        self, *, batch: int = 512, modprobe: bool = True, timeout: float = 30.0, reason: str = ""
    ) -> None:
        # 512 requests of ~120 bytes stay well under the socket's send buffer
        self._batch = max(1, batch)
        self._timeout = timeout
        self._seq = _SEQ_BASE
        self.dump_retries = 0  # dumps asked again one at a time (EBUSY behind a long one)
        self._modprobe = modprobe
        self._sock: _Socket | None = None
        self._loaded: set[str] = set()
        self._caps = Capabilities(
            name="ipvs",
            lb_kinds=frozenset(LbKind),
            schedulers=IPVS_SCHEDULERS,
            protocols=frozenset({"TCP", "UDP", "SCTP"}),
            fwmark=True,
            sync_daemon=True,
            reason=reason,
        )

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the netlink socket (loading ip_vs if needed). Changes nothing in the table."""
        if self._sock is not None:
            return
        await self._ensure_module("ip_vs")
        sock = _Socket()
        try:
            await sock.setup_endpoint()
        except NetlinkError as e:
            sock.close()
            raise DataplaneError(
                f"IPVS is not available: {os.strerror(e.code)}",
                hint="load the ip_vs kernel module (modprobe ip_vs) and run with CAP_NET_ADMIN",
            ) from e
        except OSError as e:
            sock.close()
            raise DataplaneError(
                f"cannot open the IPVS netlink socket: {e}",
                hint="run with CAP_NET_ADMIN on a kernel with ip_vs",
            ) from e
        self._sock = sock

    async def close(self) -> None:
        """Close the socket. The kernel table stays as it is (a restart drops nothing)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _need(self) -> _Socket:
        if self._sock is None:
            raise DataplaneError("the IPVS dataplane is not started", hint="call start() first")
        return self._sock

    async def _ensure_module(self, name: str) -> None:
        """modprobe NAME unless loaded; the kernel's own autoload is not always wired up."""
        if name in self._loaded:
            return
        # a stat of sysfs never blocks for long; it runs once per module name
        if not self._modprobe or _module_loaded(name):
            self._loaded.add(name)
            return
        try:
            proc = await asyncio.create_subprocess_exec(
                "modprobe",
                "-q",
                name,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError:
            self._loaded.add(name)  # no modprobe: the kernel's answer will say what is missing
            return
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        self._loaded.add(name)

    # --- pyroute2's own request path (the sync daemon: rare, small) --------------------------

    async def _dump(self, cmd: int, attrs: list[tuple[str, Any]]) -> list[Any]:
        sock = self._need()
        msg = _message(cmd, attrs)
        return [m async for m in await sock.nlm_request(msg, msg_type=sock.prid, msg_flags=_DUMP)]

    async def _send_batch(self, msgs: Sequence[tuple[_ipvsmsg, int]]) -> list[int]:
        """Send requests in one datagram; the error code of each (0 = done), in order."""
        sock = self._need()
        requests = []
        data = b""
        for msg, flags in msgs:
            msg["header"]["type"] = sock.prid
            msg["header"]["flags"] = flags
            req = NetlinkRequest(sock, msg)
            await req.prepare()
            data += req.msg.data
            requests.append(req)
        sock.send(data)
        codes = []
        for req in requests:
            code = 0
            try:
                async for _ in req.response():
                    pass
            except NetlinkError as e:
                code = e.code
            codes.append(code)
        return codes

    # --- the fast path ---------------------------------------------------------------------

    def _seqs(self, n: int) -> list[int]:
        """Sequence numbers of our own, above pyroute2's pool (which stays below 2**24):
        its allocator scans a ban list on every call, quadratic over 11,000 requests."""
        if self._seq + n >= _SEQ_END:
            self._seq = _SEQ_BASE
        first = self._seq
        self._seq += n
        return list(range(first, first + n))

    async def _exchange(self, ops: Sequence[Op]) -> list[int]:
        """Send `ops` in one datagram; the errno of each (0 = done), in order.

        Only the last request asks for an acknowledgement: the kernel answers every failed
        request anyway, in order, so once the last answer is here every earlier error is
        already queued under its own sequence number (pyroute2's receive queue).
        """
        sock = self._need()
        queue = sock.msg_queue
        seqs = self._seqs(len(ops))
        for seq in seqs:
            queue.ensure_tag(seq)
        try:
            last = len(ops) - 1
            data = b"".join(
                op_wire(op, sock.prid, _request_flags(op) | (NLM_F_ACK if n == last else 0), seq)
                for n, (op, seq) in enumerate(zip(ops, seqs, strict=True))
            )
            sock.send(data)
            codes = [0] * len(ops)
            async with asyncio.timeout(self._timeout):
                reply = await queue.get(seqs[-1])
            codes[-1] = _first_error(reply)
            for n, seq in enumerate(seqs[:-1]):
                q = queue.queues.get(seq)
                if q is not None and not q.empty():
                    codes[n] = _first_error(q.get_nowait())
            return codes
        finally:
            for seq in seqs:
                queue.free_tag(seq)

    async def _collect(self, seq: int) -> tuple[list[dict[int, bytes]], int]:
        """The answers of one dump (top-level attributes of each), and its errno (0: ok)."""
        queue = self._need().msg_queue
        out: list[dict[int, bytes]] = []
        while True:
            # asyncio.timeout, not wait_for: no task per call on this hot path (observe
            # runs once a second and dumps every service's real servers)
            async with asyncio.timeout(self._timeout):
                data = await queue.get(seq)
            for kind, _, payload in wire.messages(data):
                if kind == wire.NLMSG_DONE:
                    return out, 0
                if kind == wire.NLMSG_ERROR:
                    return out, wire.error_code(payload)
                out.append(wire.attrs(payload, 4))  # after the genetlink header

    async def _dump_many(
        self, cmd: int, requests: Sequence[tuple[tuple[int, bytes], ...]]
    ) -> list[list[dict[int, bytes]]]:
        """Several dumps, `_DUMP_GROUP` per datagram.

        The kernel runs one dump at a time per socket, but a small dump (one service's real
        servers) finishes inside the send, so the next one in the datagram can start; a dump
        that did not fit answers EBUSY to the ones behind it, which are then asked again one
        at a time. The group stays small so that the first answers of every dump in it fit
        in the receive buffer together.
        """
        sock = self._need()
        queue = sock.msg_queue
        results: list[list[dict[int, bytes]] | None] = [None] * len(requests)
        try:
            for start in range(0, len(requests), _DUMP_GROUP):
                idx = range(start, min(len(requests), start + _DUMP_GROUP))
                seqs = self._seqs(len(idx))
                for seq in seqs:
                    queue.ensure_tag(seq)
                try:
                    sock.send(
                        b"".join(
                            wire.message(sock.prid, _DUMP, seq, cmd, *requests[i])
                            for i, seq in zip(idx, seqs, strict=True)
                        )
                    )
                    for i, seq in zip(idx, seqs, strict=True):
                        out, code = await self._collect(seq)
                        if code == 0:
                            results[i] = out
                        elif code not in (errno.EBUSY, errno.ENOBUFS):
                            raise _dump_error(code)
                finally:
                    for seq in seqs:
                        queue.free_tag(seq)
            for i, res in enumerate(results):
                if res is None:
                    self.dump_retries += 1
                    results[i] = await self._dump_wire(cmd, *requests[i])
        except TimeoutError as e:
            raise DataplaneError("the kernel did not answer an IPVS dump in time") from e
        return [r or [] for r in results]

    async def _dump_wire(self, cmd: int, *nested: tuple[int, bytes]) -> list[dict[int, bytes]]:
        """One dump request; the top-level attributes of each answer."""
        sock = self._need()
        queue = sock.msg_queue
        for attempt in range(5):
            (seq,) = self._seqs(1)
            queue.ensure_tag(seq)
            try:
                sock.send(wire.message(sock.prid, _DUMP, seq, cmd, *nested))
                out, code = await self._collect(seq)
            except TimeoutError as e:
                raise DataplaneError("the kernel did not answer an IPVS dump in time") from e
            finally:
                queue.free_tag(seq)
            if code == 0:
                return out
            if code != errno.EBUSY or attempt == 4:
                raise _dump_error(code)
            await asyncio.sleep(0.01 * (attempt + 1))  # a dump of ours still draining
        raise AssertionError("unreachable")  # pragma: no cover

    # --- Dataplane ---------------------------------------------------------------------------

    async def observe(self) -> Sequence[ObservedService]:
        services = [
            service_from_wire(wire.attrs(top.get(wire.CMD_ATTR_SERVICE, b"")))
            for top in await self._dump_wire(genl_ipvs.IPVS_CMD_GET_SERVICE)
        ]
        dumps = await self._dump_many(
            genl_ipvs.IPVS_CMD_GET_DEST,
            [((wire.CMD_ATTR_SERVICE, _wire_key(svc.key)),) for svc in services],
        )
        return [
            replace(
                svc,
                dests=tuple(
                    dest_from_wire(wire.attrs(d.get(wire.CMD_ATTR_DEST, b""))) for d in dests
                ),
            )
            for svc, dests in zip(services, dumps, strict=True)
        ]

    async def apply(self, ops: Sequence[Op]) -> None:
        """Apply in order, `batch` requests per datagram.

        On the first failing operation, raise `DataplaneError` naming it and its service;
        the operations before it are applied. The kernel goes on with the rest of the same
        datagram, so some operations after it (at most `batch - 1`) may be applied as well:
        the engine re-observes after an error and reconciles again.
        """
        if not ops:
            return
        self._need()
        for op in ops:
            if isinstance(op, AddService | EditService):
                await self._ensure_module(f"ip_vs_{op.service.scheduler.lower()}")
        for start in range(0, len(ops), self._batch):
            chunk = ops[start : start + self._batch]
            try:
                codes = await self._exchange(chunk)
            except (OSError, TimeoutError) as e:
                raise DataplaneError(
                    f"{describe_op(chunk[0])}: netlink request failed: {e!r}",
                    hint="the IPVS dataplane needs CAP_NET_ADMIN",
                ) from e
            failed = [(op, code) for op, code in zip(chunk, codes, strict=True) if code]
            if failed:
                op, code = failed[0]
                what, hint = _explain(op, code)
                more = f" (and {len(failed) - 1} more in the same batch)" if len(failed) > 1 else ""
                raise DataplaneError(f"{describe_op(op)}: {what}{more}", hint=hint)

    # --- connection-sync daemon -----------------------------------------------------------

    async def daemons(self) -> list[SyncDaemon]:
        """The running sync daemons (what `ipvsadm -L --daemon` prints)."""
        out = []
        try:
            msgs = await self._dump(genl_ipvs.IPVS_CMD_GET_DAEMON, [])
        except NetlinkError as e:
            raise DataplaneError(f"reading the sync daemons failed: {os.strerror(e.code)}") from e
        for m in msgs:
            d = m.get("IPVS_CMD_ATTR_DAEMON")
            if d is None:
                continue
            state = d.get("IPVS_DAEMON_ATTR_STATE")
            role = SyncRole.MASTER if state == _STATE_MASTER else SyncRole.BACKUP
            group = d.get("IPVS_DAEMON_ATTR_MCAST_GROUP6") or d.get("IPVS_DAEMON_ATTR_MCAST_GROUP")
            out.append(
                SyncDaemon(
                    role,
                    d.get("IPVS_DAEMON_ATTR_MCAST_IFN") or "",
                    int(d.get("IPVS_DAEMON_ATTR_SYNC_ID") or 0),
                    maxlen=int(d.get("IPVS_DAEMON_ATTR_SYNC_MAXLEN") or 0),
                    group=str(group or ""),
                    port=int(d.get("IPVS_DAEMON_ATTR_MCAST_PORT") or 0),
                    ttl=int(d.get("IPVS_DAEMON_ATTR_MCAST_TTL") or 0),
                )
            )
        return out

    async def _daemon_request(self, cmd: int, attrs: list[tuple[str, Any]], what: str) -> None:
        msg = _message(cmd, [("IPVS_CMD_ATTR_DAEMON", {"attrs": attrs})])
        (code,) = await self._send_batch([(msg, _REQ)])
        if code:
            hint = (
                "the sync interface must exist and be up"
                if code in (errno.ENODEV, errno.EINVAL)
                else "see the kernel log (dmesg)"
            )
            raise DataplaneError(f"{what}: {os.strerror(code)}", hint=hint)

    async def set_sync_role(
        self,
        role: SyncRole,
        interface: str = "",
        syncid: int = 0,
        *,
        maxlen: int | None = None,
        group: str | None = None,
        port: int | None = None,
        ttl: int | None = None,
    ) -> None:
        """Run exactly the daemon for `role` (ipvsadm --start-daemon / --stop-daemon).

        MASTER sends this director's connection table to backups, BACKUP receives it (so
        connections survive a failover); NONE stops both. Idempotent: a daemon already
        running as asked is left alone. `maxlen`, `group` (IPv4 or IPv6 multicast), `port`,
        `ttl` are keepalived's lvs_sync_daemon options; None keeps the kernel's default.
        """
        self._need()
        opts: dict[str, Any] = {"maxlen": maxlen, "group": group, "port": port, "ttl": ttl}
        if role is not SyncRole.NONE and not interface:
            raise DataplaneError(
                f"sync daemon {role.value}: no interface given",
                hint="set the interface that carries sync multicast (lvs_sync_daemon)",
            )
        running = await self.daemons()
        keep = [
            d
            for d in running
            if role is not SyncRole.NONE and d.matches(role, interface, syncid, opts)
        ]
        for d in running:
            if d not in keep:
                await self._daemon_request(
                    genl_ipvs.IPVS_CMD_DEL_DAEMON,
                    [("IPVS_DAEMON_ATTR_STATE", _ROLE_STATE[d.role])],
                    f"stopping the {d.role.value} sync daemon",
                )
        if role is SyncRole.NONE or keep:
            return
        attrs: list[tuple[str, Any]] = [
            ("IPVS_DAEMON_ATTR_STATE", _ROLE_STATE[role]),
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
        await self._daemon_request(
            genl_ipvs.IPVS_CMD_NEW_DAEMON,
            attrs,
            f"starting the {role.value} sync daemon on {interface} (syncid {syncid})",
        )
