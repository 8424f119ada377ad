"""Operations → pyroute2 `ipvsmsg` messages (the reference encoding, which the fast path of
`fast` is pinned to by tests)."""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Any

from pyroute2.netlink.generic import ipvs as genl_ipvs

from lvstui.dataplane.base import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    DesiredDest,
    DesiredService,
    EditDest,
    EditService,
    Op,
)
from lvstui.dataplane.ipvs.pyroute import IpvsMsg
from lvstui.dataplane.ipvs.uapi import (
    AF,
    CREATE,
    F_ONEPACKET,
    F_PERSISTENT,
    F_SCHED1,
    F_SCHED2,
    F_SCHED3,
    FWD,
    PROTO,
    REQ,
)
from lvstui.errors import DataplaneError
from lvstui.model import RealKey, ServiceKey
from lvstui.netutil import ip_family


def v6_mask_encode(prefix: int) -> str:
    # The kernel reads IPVS_SVC_ATTR_NETMASK as a raw 32-bit word; for IPv6 it holds the
    # prefix length in host order (ipvsadm does the same). pyroute2 types it ip4addr.
    return socket.inet_ntoa(struct.pack("=I", prefix))


def v6_mask_decode(text: str) -> int:
    return int(struct.unpack("=I", socket.inet_aton(text))[0])


def prefix_len(netmask: str | None, family: int) -> int:
    full = 32 if family == 4 else 128
    if not netmask:
        return full
    text = netmask.strip().lstrip("/")
    if text.isdigit():
        return int(text)
    net = ipaddress.ip_network(f"0.0.0.0/{text}" if family == 4 else f"::/{text}")
    return net.prefixlen


def key_attrs(key: ServiceKey) -> list[tuple[str, Any]]:
    af = AF[key.family]
    if key.fwmark:
        return [("IPVS_SVC_ATTR_AF", af), ("IPVS_SVC_ATTR_FWMARK", key.fwmark)]
    return [
        ("IPVS_SVC_ATTR_AF", af),
        ("IPVS_SVC_ATTR_PROTOCOL", PROTO[key.protocol]),
        ("IPVS_SVC_ATTR_ADDR", key.addr),
        ("IPVS_SVC_ATTR_PORT", key.port),
    ]


def flag_bits(svc: DesiredService) -> int:
    bits = 0
    for f in svc.flags:
        name = f.lower()
        if name in ("sh-fallback", "mh-fallback", "flag-1"):
            bits |= F_SCHED1
        elif name in ("sh-port", "mh-port", "flag-2"):
            bits |= F_SCHED2
        elif name == "flag-3":
            bits |= F_SCHED3
        elif name == "ops":
            bits |= F_ONEPACKET
        elif name in ("persistent", "hashed"):
            continue  # state, not configuration
        else:
            raise DataplaneError(
                f"service {svc.key}: unknown scheduler flag {f!r}",
                hint="flags: sh-fallback, sh-port, mh-fallback, mh-port, ops",
            )
    if svc.persistence_timeout:
        bits |= F_PERSISTENT
    return bits


def service_attrs(svc: DesiredService) -> dict[str, Any]:
    family = svc.key.family
    prefix = prefix_len(svc.netmask, family)
    if family == 4:
        mask = str(ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask)
    else:
        mask = v6_mask_encode(prefix)
    attrs = [
        *key_attrs(svc.key),
        ("IPVS_SVC_ATTR_SCHED_NAME", svc.scheduler.lower()),
        ("IPVS_SVC_ATTR_FLAGS", {"flags": flag_bits(svc), "mask": 0xFFFFFFFF}),
        ("IPVS_SVC_ATTR_TIMEOUT", svc.persistence_timeout or 0),
        ("IPVS_SVC_ATTR_NETMASK", mask),
    ]
    return {"attrs": attrs}


def dest_attrs(dest: DesiredDest) -> dict[str, Any]:
    family = ip_family(dest.key.addr)
    return {
        "attrs": [
            ("IPVS_DEST_ATTR_ADDR_FAMILY", AF[family]),
            ("IPVS_DEST_ATTR_ADDR", dest.key.addr),
            ("IPVS_DEST_ATTR_PORT", dest.key.port),
            # always explicit: leaving it out of a SET turns Masq into Route (pyroute2 trap)
            ("IPVS_DEST_ATTR_FWD_METHOD", FWD[dest.fwd]),
            ("IPVS_DEST_ATTR_WEIGHT", dest.weight),
            ("IPVS_DEST_ATTR_U_THRESH", dest.u_threshold),
            ("IPVS_DEST_ATTR_L_THRESH", dest.l_threshold),
        ]
    }


def dest_key_attrs(key: RealKey) -> dict[str, Any]:
    family = ip_family(key.addr)
    return {
        "attrs": [
            ("IPVS_DEST_ATTR_ADDR_FAMILY", AF[family]),
            ("IPVS_DEST_ATTR_ADDR", key.addr),
            ("IPVS_DEST_ATTR_PORT", key.port),
        ]
    }


def message(cmd: int, attrs: list[tuple[str, Any]]) -> IpvsMsg:
    msg = IpvsMsg()
    msg["cmd"] = cmd
    msg["version"] = genl_ipvs.GENL_VERSION
    msg["attrs"] = attrs
    return msg


def op_message(op: Op) -> tuple[IpvsMsg, int]:
    match op:
        case AddService(svc):
            return message(
                genl_ipvs.IPVS_CMD_NEW_SERVICE, [("IPVS_CMD_ATTR_SERVICE", service_attrs(svc))]
            ), CREATE
        case EditService(svc):
            return message(
                genl_ipvs.IPVS_CMD_SET_SERVICE, [("IPVS_CMD_ATTR_SERVICE", service_attrs(svc))]
            ), REQ
        case DelService(key):
            return message(
                genl_ipvs.IPVS_CMD_DEL_SERVICE,
                [("IPVS_CMD_ATTR_SERVICE", {"attrs": key_attrs(key)})],
            ), REQ
        case AddDest(key, dest) | EditDest(key, dest):
            cmd = (
                genl_ipvs.IPVS_CMD_NEW_DEST
                if isinstance(op, AddDest)
                else genl_ipvs.IPVS_CMD_SET_DEST
            )
            return message(
                cmd,
                [
                    ("IPVS_CMD_ATTR_SERVICE", {"attrs": key_attrs(key)}),
                    ("IPVS_CMD_ATTR_DEST", dest_attrs(dest)),
                ],
            ), (CREATE if isinstance(op, AddDest) else REQ)
        case DelDest(key, real):
            return message(
                genl_ipvs.IPVS_CMD_DEL_DEST,
                [
                    ("IPVS_CMD_ATTR_SERVICE", {"attrs": key_attrs(key)}),
                    ("IPVS_CMD_ATTR_DEST", dest_key_attrs(real)),
                ],
            ), REQ
    raise AssertionError(op)  # pragma: no cover
