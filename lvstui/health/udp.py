"""UDP_CHECK: send a datagram on a connected UDP socket; an ICMP error back means down.

keepalived's semantics:
- the payload is `payload` (hex in keepalived.conf), else a few random bytes;
- an ICMP error (port, host or network unreachable) reported on the socket within
  connect_timeout: down. The kernel turns ICMP port unreachable into ECONNREFUSED on a
  connected socket, so no raw socket is needed;
- without require_reply, silence for connect_timeout is up (UDP has nothing else to say),
  and so is any reply;
- with require_reply, a reply must arrive within connect_timeout, its length within
  [min_reply_length, max_reply_length], and, if a pattern is given, its first bytes must
  match it (up to the shorter of the two; an X nibble matches anything).

The configured hex strings are read by `lvstui.config.hexstr.parse_hex`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time

from lvstui.config.schema import UdpCheck
from lvstui.health.base import CheckResult, SpecChecker, fail, passed

__all__ = ["UdpChecker", "reply_matches"]

_RANDOM_PAYLOAD = 8  # bytes sent when no payload is configured
_RECV = 65536


def reply_matches(data: bytes, pattern: str) -> bool:
    """Whether `data` matches the normalised `pattern` over the shorter of the two."""
    n = min(len(data), len(pattern) // 2)
    got = data[:n].hex().upper()
    return all(p in ("X", g) for p, g in zip(pattern[: 2 * n], got, strict=True))


class UdpChecker(SpecChecker[UdpCheck]):
    __slots__ = ()

    async def run(self) -> CheckResult:
        spec, check, t = self._spec, self._check, self._spec.target
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        family = socket.AF_INET6 if t.family == 6 else socket.AF_INET
        payload = check.payload if check.payload is not None else os.urandom(_RANDOM_PAYLOAD)
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            try:
                if t.bindto or t.bind_port:
                    sock.bind(
                        (t.bindto or ("::" if t.family == 6 else "0.0.0.0"), t.bind_port or 0)
                    )
                sock.connect((t.ip, t.port))
                sock.send(payload)
                async with asyncio.timeout(spec.timeout):
                    data = await loop.sock_recv(sock, _RECV)
            except TimeoutError:
                if check.require_reply:
                    return fail(started, f"no reply within {spec.timeout:g}s")
                return passed(started, f"no ICMP error within {spec.timeout:g}s")
            except ConnectionRefusedError:
                return fail(started, "port unreachable (ICMP)")
            except OSError as exc:
                return fail(started, f"{exc.strerror or exc}")
        if not check.require_reply:
            return passed(started, f"reply of {len(data)} bytes")
        if not check.min_reply_length <= len(data) <= check.max_reply_length:
            return fail(
                started,
                f"reply of {len(data)} bytes, outside "
                f"[{check.min_reply_length}, {check.max_reply_length}]",
            )
        if check.reply is not None and not reply_matches(data, check.reply):
            return fail(started, f"reply {data[:16].hex()} does not match {check.reply[:32]}")
        return passed(started, f"reply of {len(data)} bytes")
