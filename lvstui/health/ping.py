"""PING_CHECK: one ICMP echo request, alive if the matching reply comes within the timeout.

Socket choice: an unprivileged ICMP datagram socket (SOCK_DGRAM + IPPROTO_ICMP/ICMPV6)
where `net.ipv4.ping_group_range` lets our group use it (the kernel then owns the
identifier and only hands us our own replies); otherwise a raw socket, which needs root
(CAP_NET_RAW) and sees every ICMP packet, so replies are matched on identifier, sequence
and payload. IPv4 and IPv6; non-blocking through the event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import struct
import time
from typing import Literal

from lvstui.health.base import CheckResult, CheckSpec, CheckTarget, is_local_failure
from lvstui.netutil import checksum

__all__ = ["PingChecker", "checksum", "echo_request", "parse_reply", "ping_check"]

Mode = Literal["auto", "dgram", "raw"]

_ECHO_REQUEST = {4: 8, 6: 128}
_ECHO_REPLY = {4: 0, 6: 129}
_seq = itertools.count(1)


def echo_request(family: int, ident: int, seq: int, payload: bytes) -> bytes:
    """An echo request; the checksum is ours for IPv4 (the kernel fills it for ICMPv6)."""
    header = struct.pack("!BBHHH", _ECHO_REQUEST[family], 0, 0, ident, seq)
    if family == 4:
        csum = checksum(header + payload)
        header = struct.pack("!BBHHH", _ECHO_REQUEST[family], 0, csum, ident, seq)
    return header + payload


def parse_reply(family: int, packet: bytes, raw: bool) -> tuple[int, int, bytes] | None:
    """(identifier, sequence, payload) of an echo reply, else None. A raw IPv4 socket
    delivers the IP header too."""
    if raw and family == 4:
        if len(packet) < 20:
            return None
        packet = packet[(packet[0] & 0x0F) * 4 :]
    if len(packet) < 8:
        return None
    typ, code, _csum, ident, seq = struct.unpack("!BBHHH", packet[:8])
    if typ != _ECHO_REPLY[family] or code != 0:
        return None
    return ident, seq, packet[8:]


def _open(family: int, mode: Mode) -> tuple[socket.socket, bool]:
    """(socket, is_raw). auto: datagram if allowed, else raw."""
    af = socket.AF_INET6 if family == 6 else socket.AF_INET
    proto = socket.IPPROTO_ICMPV6 if family == 6 else socket.IPPROTO_ICMP
    if mode in ("auto", "dgram"):
        try:
            return socket.socket(af, socket.SOCK_DGRAM, proto), False
        except PermissionError:
            if mode == "dgram":
                raise
    return socket.socket(af, socket.SOCK_RAW, proto), True


async def ping_check(target: CheckTarget, timeout: float, mode: Mode = "auto") -> CheckResult:
    started = time.monotonic()
    family = target.family
    try:
        sock, raw = _open(family, mode)
    except OSError as exc:
        if is_local_failure(exc):
            raise  # this host, not the server: the scheduler counts the run as unknown
        return _result(
            False,
            f"cannot open an ICMP socket: {exc.strerror or exc} (needs root, or "
            "net.ipv4.ping_group_range to include our group)",
            started,
        )
    loop = asyncio.get_running_loop()
    seq = next(_seq) & 0xFFFF
    ident = (os.getpid() ^ id(sock)) & 0xFFFF
    payload = b"lvstui" + struct.pack("!d", started)
    try:
        sock.setblocking(False)
        if target.bindto:
            sock.bind((target.bindto, 0))
        elif not raw:
            sock.bind(("", 0))
        if not raw:
            ident = sock.getsockname()[1]  # the kernel's identifier for this socket
        async with asyncio.timeout(timeout):
            await loop.sock_sendto(sock, echo_request(family, ident, seq, payload), (target.ip, 0))
            while True:
                data, addr = await loop.sock_recvfrom(sock, 2048)
                got = parse_reply(family, data, raw)
                if got is None:
                    continue
                r_ident, r_seq, r_payload = got
                if r_seq != seq or r_payload != payload:
                    continue
                if raw and r_ident != ident:
                    continue
                return _result(True, f"echo reply from {addr[0]}", started)
    except TimeoutError:
        return _result(False, f"no echo reply within {timeout:g}s", started)
    except OSError as exc:
        if is_local_failure(exc):
            raise
        return _result(False, f"ping failed: {exc.strerror or exc}", started)
    finally:
        sock.close()


def _result(ok: bool, reason: str, started: float) -> CheckResult:
    now = time.monotonic()
    return CheckResult(ok, reason, now - started, None, started, now)


class PingChecker:
    __slots__ = ("_spec", "mode")

    def __init__(self, spec: CheckSpec, mode: Mode = "auto") -> None:
        self._spec = spec
        self.mode: Mode = mode

    @property
    def spec(self) -> CheckSpec:
        return self._spec

    async def run(self) -> CheckResult:
        return await ping_check(self._spec.target, self._spec.timeout, self.mode)
