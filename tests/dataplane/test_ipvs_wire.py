"""The fast IPVS wire format (ipvs_wire) is pinned to pyroute2's: same bytes, same decoding.

Runs on any host (no kernel IPVS needed): it compares encoders and decoders, not the kernel.
The kernel itself is exercised in tests/test_ipvs_vm.py.
"""

from __future__ import annotations

import socket
import struct

import pytest

from lvstui.config.schema import LbKind, Protocol
from lvstui.dataplane import ipvs_wire as wire
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
from lvstui.dataplane.ipvs.decode import dest_from, service_from
from lvstui.dataplane.ipvs.encode import op_message
from lvstui.dataplane.ipvs.fast import dest_from_wire, op_wire, service_from_wire
from lvstui.dataplane.ipvs.pyroute import IpvsMsg
from lvstui.errors import DataplaneError
from lvstui.model import RealKey, ServiceKey

V4 = ServiceKey(Protocol.TCP, "192.0.2.1", 80)
V6 = ServiceKey(Protocol.UDP, "2001:db8::1", 53, family=6)
FWM = ServiceKey(Protocol.TCP, "", 0, fwmark=7)
FWM6 = ServiceKey(Protocol.TCP, "", 0, fwmark=9, family=6)
SCTP = ServiceKey(Protocol.SCTP, "192.0.2.9", 9)

OPS: list[Op] = [
    AddService(DesiredService(V4, "wlc")),
    AddService(DesiredService(V4, "sh", frozenset({"sh-port", "sh-fallback"}), 300, "/24")),
    EditService(DesiredService(V6, "mh", frozenset({"mh-port", "ops"}), 60, "64")),
    AddService(DesiredService(FWM, "rr", persistence_timeout=120, netmask="255.255.0.0")),
    AddService(DesiredService(FWM6, "lblcr")),
    AddService(DesiredService(SCTP, "fo")),
    DelService(V4),
    DelService(FWM6),
    AddDest(V4, DesiredDest(RealKey("203.0.113.1", 8080), 5, LbKind.NAT)),
    AddDest(V4, DesiredDest(RealKey("203.0.113.2", 80), 0, LbKind.DR, 100, 10)),
    EditDest(V6, DesiredDest(RealKey("2001:db8::2", 53), 65535, LbKind.TUN)),
    EditDest(FWM, DesiredDest(RealKey("203.0.113.3", 0), 1, LbKind.NAT)),
    DelDest(V4, RealKey("203.0.113.1", 8080)),
    DelDest(V6, RealKey("2001:db8::2", 53)),
]


def _pyroute2_bytes(op: Op, family_id: int, flags: int, seq: int) -> bytes:
    msg, _ = op_message(op)
    msg["header"]["type"] = family_id
    msg["header"]["flags"] = flags
    msg["header"]["sequence_number"] = seq
    msg["header"]["pid"] = 0
    msg.encode()
    return bytes(msg.data)


@pytest.mark.parametrize("op", OPS, ids=[f"{type(o).__name__}-{i}" for i, o in enumerate(OPS)])
def test_every_request_is_byte_identical_to_pyroute2(op: Op) -> None:
    assert op_wire(op, 0x1D, 5, 4242) == _pyroute2_bytes(op, 0x1D, 5, 4242)


def test_unknown_flag_is_refused_with_the_service_named() -> None:
    with pytest.raises(DataplaneError, match=r"192\.0\.2\.1:80.*'bogus'"):
        op_wire(AddService(DesiredService(V4, "rr", frozenset({"bogus"}))), 1, 1, 1)


def _stats_attr(base: int) -> dict[str, object]:
    names = ["CONNS", "INPKTS", "OUTPKTS", "INBYTES", "OUTBYTES"]
    names += ["CPS", "INPPS", "OUTPPS", "INBPS", "OUTBPS"]
    return {"attrs": [(f"IPVS_STATS_ATTR_{n}", base + i * (1 << 33)) for i, n in enumerate(names)]}


def _reply(*attrs: tuple[str, object]) -> bytes:
    msg = IpvsMsg()
    msg["cmd"] = 1
    msg["version"] = 1
    msg["attrs"] = list(attrs)
    msg["header"]["type"] = 0x1D
    msg["header"]["flags"] = 2
    msg["header"]["sequence_number"] = 1
    msg["header"]["pid"] = 0
    msg.encode()
    return bytes(msg.data)


def _both(data: bytes, top: str, top_num: int) -> tuple[object, dict[int, bytes]]:
    parsed = IpvsMsg(data)
    parsed.decode()
    ((kind, _, payload),) = list(wire.messages(data))
    assert kind == 0x1D
    return parsed.get(top), wire.attrs(wire.attrs(payload, 4)[top_num])


@pytest.mark.parametrize(
    "svc",
    [
        [
            ("IPVS_SVC_ATTR_AF", socket.AF_INET),
            ("IPVS_SVC_ATTR_PROTOCOL", socket.IPPROTO_TCP),
            ("IPVS_SVC_ATTR_ADDR", "192.0.2.1"),
            ("IPVS_SVC_ATTR_PORT", 80),
            ("IPVS_SVC_ATTR_SCHED_NAME", "sh"),
            ("IPVS_SVC_ATTR_FLAGS", {"flags": 0x1 | 0x2 | 0x8 | 0x10, "mask": 0xFFFFFFFF}),
            ("IPVS_SVC_ATTR_TIMEOUT", 300),
            ("IPVS_SVC_ATTR_NETMASK", "255.255.255.0"),
            ("IPVS_SVC_ATTR_STATS64", _stats_attr(7)),
        ],
        [
            ("IPVS_SVC_ATTR_AF", socket.AF_INET6),
            ("IPVS_SVC_ATTR_FWMARK", 12),
            ("IPVS_SVC_ATTR_SCHED_NAME", "mh"),
            ("IPVS_SVC_ATTR_FLAGS", {"flags": 0x4 | 0x8, "mask": 0xFFFFFFFF}),
            ("IPVS_SVC_ATTR_TIMEOUT", 0),
            ("IPVS_SVC_ATTR_NETMASK", socket.inet_ntoa(struct.pack("=I", 128))),
            ("IPVS_SVC_ATTR_STATS64", _stats_attr(1)),
        ],
        [
            ("IPVS_SVC_ATTR_AF", socket.AF_INET6),
            ("IPVS_SVC_ATTR_PROTOCOL", 132),
            ("IPVS_SVC_ATTR_ADDR", "2001:db8::5"),
            ("IPVS_SVC_ATTR_PORT", 9),
            ("IPVS_SVC_ATTR_SCHED_NAME", "wrr"),
            ("IPVS_SVC_ATTR_FLAGS", {"flags": 0x1 | 0x20, "mask": 0xFFFFFFFF}),
            ("IPVS_SVC_ATTR_TIMEOUT", 60),
            ("IPVS_SVC_ATTR_NETMASK", socket.inet_ntoa(struct.pack("=I", 48))),
        ],
    ],
    ids=["v4-sh-persistent", "fwmark6-mh-ops", "sctp6-wrr-flag3"],
)
def test_service_decoding_agrees_with_pyroute2(svc: list[tuple[str, object]]) -> None:
    ref, fast = _both(_reply(("IPVS_CMD_ATTR_SERVICE", {"attrs": svc})), "IPVS_CMD_ATTR_SERVICE", 1)
    want = service_from(ref)
    got = service_from_wire(fast)
    assert got == want
    assert got.stats.outbps == (dict(svc).get("IPVS_SVC_ATTR_STATS64") is not None) * (
        got.stats.conns + 9 * (1 << 33)
    )


@pytest.mark.parametrize(
    "family,addr,fwd", [(socket.AF_INET, "203.0.113.7", 0), (socket.AF_INET6, "2001:db8::7", 2)]
)
def test_dest_decoding_agrees_with_pyroute2(family: int, addr: str, fwd: int) -> None:
    dest = [
        ("IPVS_DEST_ATTR_ADDR_FAMILY", family),
        ("IPVS_DEST_ATTR_ADDR", addr),
        ("IPVS_DEST_ATTR_PORT", 8080),
        ("IPVS_DEST_ATTR_FWD_METHOD", fwd),
        ("IPVS_DEST_ATTR_WEIGHT", 42),
        ("IPVS_DEST_ATTR_U_THRESH", 100),
        ("IPVS_DEST_ATTR_L_THRESH", 10),
        ("IPVS_DEST_ATTR_ACTIVE_CONNS", 3),
        ("IPVS_DEST_ATTR_INACT_CONNS", 4),
        ("IPVS_DEST_ATTR_PERSIST_CONNS", 5),
        ("IPVS_DEST_ATTR_STATS64", _stats_attr(11)),
    ]
    ref, fast = _both(_reply(("IPVS_CMD_ATTR_DEST", {"attrs": dest})), "IPVS_CMD_ATTR_DEST", 2)
    want = dest_from(ref)
    got = dest_from_wire(fast)
    assert got == want
    assert (got.weight, got.active_conns, got.inact_conns, got.persist_conns) == (42, 3, 4, 5)
    assert got.fwd is (LbKind.NAT if fwd == 0 else LbKind.TUN)
    assert got.stats.inbytes == 11 + 3 * (1 << 33)


def test_error_and_done_messages() -> None:
    ack = struct.pack("=IHHII", 36, wire.NLMSG_ERROR, 0, 9, 0) + struct.pack("=i", -17) + b"\0" * 16
    done = struct.pack("=IHHII", 20, wire.NLMSG_DONE, 0, 9, 0) + b"\0" * 4
    msgs = list(wire.messages(ack + done))
    assert [(k, s) for k, s, _ in msgs] == [(wire.NLMSG_ERROR, 9), (wire.NLMSG_DONE, 9)]
    assert wire.error_code(msgs[0][2]) == 17  # EEXIST
