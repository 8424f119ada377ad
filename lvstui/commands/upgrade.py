"""`lvstui ctl upgrade`: restart the daemon without refusing a connection (lvstui.handover).

Sends SIGUSR2 to the daemon that answers on the control socket (its pid from the kernel:
SO_PEERCRED), follows its `upgrade` log events, and returns once the new daemon answers on
the socket (exit 0) or the old one said the upgrade failed and goes on serving (exit 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import struct
import sys
from pathlib import Path

from lvstui.commands._client import EXIT_FAILED, EXIT_OK, EXIT_PERMISSION
from lvstui.control.client import SocketClient
from lvstui.model import LogEvent

__all__ = ["daemon_pid", "upgrade"]

TIMEOUT = 90.0  # the daemon gives the new program 60 s, then kills it: a margin on top


def daemon_pid(path: str | Path) -> int:
    """The pid of the process listening on the control socket (OSError if none)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(path))
        raw = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, _uid, _gid = struct.unpack("3i", raw)
    return int(pid)


async def upgrade(client: SocketClient) -> int:
    old = daemon_pid(client.path)
    events = client.events()
    await client.subscribe()  # before the signal: no event of the upgrade is missed
    try:
        os.kill(old, signal.SIGUSR2)
    except PermissionError:
        print(
            f"lvstui: may not signal the daemon (pid {old}): run as its user or root",
            file=sys.stderr,
        )
        return EXIT_PERMISSION
    print(f"upgrading the daemon (pid {old})")
    outcome = EXIT_FAILED
    try:
        async with asyncio.timeout(TIMEOUT):
            async for ev in events:
                if isinstance(ev, LogEvent) and ev.message.startswith("upgrade"):
                    print(ev.message)
                    if ev.message.startswith("upgrade failed"):
                        return EXIT_FAILED
                    if "handed over" in ev.message:
                        outcome = EXIT_OK
                        break
    except TimeoutError:
        print(f"lvstui: no word of the upgrade within {TIMEOUT:g}s", file=sys.stderr)
    except Exception as exc:  # the old daemon hung up: the new pid says how it went
        print(f"(the old daemon closed the connection: {exc})")
    finally:
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]
    try:
        new = daemon_pid(client.path)
    except OSError as exc:
        print(f"lvstui: nothing answers on {client.path} now: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if new == old:
        if outcome == EXIT_OK:  # handed over, the old one still finishing: it is the new pid
            print("the new daemon serves; the old one is finishing its connections")
            return EXIT_OK
        print(f"lvstui: pid {old} still serves: the upgrade did not happen", file=sys.stderr)
        return EXIT_FAILED
    print(f"pid {new} serves")
    return EXIT_OK
