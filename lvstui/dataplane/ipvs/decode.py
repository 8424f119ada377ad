"""pyroute2-decoded IPVS replies → observed services and real servers (the reference the fast
path's decoding is tested against)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from lvstui.dataplane.base import ObservedDest, ObservedService
from lvstui.dataplane.ipvs.encode import v6_mask_decode
from lvstui.dataplane.ipvs.uapi import (
    F_ONEPACKET,
    F_PERSISTENT,
    F_SCHED1,
    F_SCHED2,
    F_SCHED3,
    FWD_BACK,
    PROTO_BACK,
)
from lvstui.model import LbKind, Protocol, RealKey, ServiceKey, Stats


def stats_of(st: Any) -> Stats:
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


def flag_names(bits: int, sched: str) -> frozenset[str]:
    names: set[str] = set()
    prefix = sched if sched in ("sh", "mh") else ""
    if bits & F_SCHED1:
        names.add(f"{prefix}-fallback" if prefix else "flag-1")
    if bits & F_SCHED2:
        names.add(f"{prefix}-port" if prefix else "flag-2")
    if bits & F_SCHED3:
        names.add("flag-3")
    if bits & F_ONEPACKET:
        names.add("ops")
    return frozenset(names)


def service_from(svc: Any) -> ObservedService:
    """pyroute2's decoding (the reference the fast `service_from_wire` is tested against)."""
    af = svc.get("IPVS_SVC_ATTR_AF")
    family = 6 if af == socket.AF_INET6 else 4
    fwmark = svc.get("IPVS_SVC_ATTR_FWMARK") or 0
    if fwmark:
        key = ServiceKey(Protocol.TCP, "", 0, fwmark=fwmark, family=family)
    else:
        proto = PROTO_BACK.get(svc.get("IPVS_SVC_ATTR_PROTOCOL"), Protocol.TCP)
        addr = str(ipaddress.ip_address(svc.get("IPVS_SVC_ATTR_ADDR")))
        key = ServiceKey(proto, addr, svc.get("IPVS_SVC_ATTR_PORT"), family=family)
    sched = svc.get("IPVS_SVC_ATTR_SCHED_NAME") or ""
    fl = svc.get("IPVS_SVC_ATTR_FLAGS")
    bits = int(fl["flags"]) if fl is not None else 0
    persistent = bool(bits & F_PERSISTENT)
    raw_mask = svc.get("IPVS_SVC_ATTR_NETMASK")
    if family == 4:
        netmask = str(raw_mask) if raw_mask else "255.255.255.255"
    else:
        netmask = str(v6_mask_decode(raw_mask)) if raw_mask else "128"
    return ObservedService(
        key=key,
        scheduler=sched,
        flags=flag_names(bits, sched),
        persistence_timeout=int(svc.get("IPVS_SVC_ATTR_TIMEOUT") or 0) if persistent else None,
        netmask=netmask,
        stats=stats_of(svc.get("IPVS_SVC_ATTR_STATS64")),
    )


def dest_from(d: Any) -> ObservedDest:
    addr = str(ipaddress.ip_address(d.get("IPVS_DEST_ATTR_ADDR")))
    return ObservedDest(
        key=RealKey(addr, d.get("IPVS_DEST_ATTR_PORT")),
        weight=int(d.get("IPVS_DEST_ATTR_WEIGHT") or 0),
        fwd=FWD_BACK.get(int(d.get("IPVS_DEST_ATTR_FWD_METHOD") or 0) & 0x7, LbKind.NAT),
        active_conns=int(d.get("IPVS_DEST_ATTR_ACTIVE_CONNS") or 0),
        inact_conns=int(d.get("IPVS_DEST_ATTR_INACT_CONNS") or 0),
        persist_conns=int(d.get("IPVS_DEST_ATTR_PERSIST_CONNS") or 0),
        u_threshold=int(d.get("IPVS_DEST_ATTR_U_THRESH") or 0),
        l_threshold=int(d.get("IPVS_DEST_ATTR_L_THRESH") or 0),
        stats=stats_of(d.get("IPVS_DEST_ATTR_STATS64")),
    )
