"""`lvstui ctl drain-director` / `undrain-director`: take this director out of the routers'
ECMP set and back (bgp VIPs, docs/bgp.md "Director drain").

    lvstui ctl drain-director [--settle S] [--wait [--wait-timeout S]]
    lvstui ctl undrain-director

With --wait the command follows `lvstui status`'s view of the drain until it says safe
(every bgp VIP withdrawn after S seconds without a new connection)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from lvstui.commands._client import EXIT_FAILED, EXIT_OK, add_socket_argument
from lvstui.control.client import SocketClient
from lvstui.model import Snapshot

__all__ = ["VERBS", "add_parsers", "director_phase", "wait_safe"]

VERBS = ("drain-director", "undrain-director")
POLL_S = 0.5


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "drain-director",
        help="announce the bgp VIPs less preferred, withdraw them once no new connection "
        "arrives (docs/bgp.md)",
    )
    p.add_argument(
        "--settle",
        type=float,
        metavar="S",
        help="seconds without a new connection before it is safe (default: [lvstui.announce] "
        "drain_settle, 10)",
    )
    p.add_argument("--wait", action="store_true", help="follow the drain until it is safe")
    p.add_argument("--wait-timeout", type=float, metavar="S", help="give up waiting after S s")
    add_socket_argument(p)
    p.set_defaults(director=None)
    p = sub.add_parser("undrain-director", help="announce the bgp VIPs normally again")
    add_socket_argument(p)
    p.set_defaults(director=None, wait=False)


def director_phase(snap: Snapshot) -> tuple[str, str] | None:
    """(phase, detail) of the director drain; None without bgp VIPs."""
    a = snap.announce
    return None if a is None else (a.director, a.director_detail)


async def wait_safe(client: SocketClient, limit: float | None, since: float = 0.0) -> int:
    """Poll the snapshot until the drain says safe (the drain itself was sent already).
    `since`: when the drain's answer came (wall clock); the daemon publishes its snapshot
    once a second, so one made before then may still show an earlier drain or none."""
    deadline = None if limit is None else time.monotonic() + limit
    last: tuple[str, str] | None = None
    while True:
        snap = await client.snapshot()
        if snap.time < since and (deadline is None or time.monotonic() < deadline):
            await asyncio.sleep(POLL_S)
            continue
        now = director_phase(snap)
        if now is None:
            print("lvstui: this director announces no VIP over BGP", file=sys.stderr)
            return EXIT_FAILED
        if now[0] != (last[0] if last else None):
            print(f"director: {now[1] or now[0]}")
        last = now
        if now[0] == "safe":
            return EXIT_OK
        if now[0] == "normal":
            print("lvstui: the director was undrained meanwhile", file=sys.stderr)
            return EXIT_FAILED
        if deadline is not None and time.monotonic() >= deadline:
            print(f"lvstui: director still draining after {limit:g}s", file=sys.stderr)
            return EXIT_FAILED
        await asyncio.sleep(POLL_S)
