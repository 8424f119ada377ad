"""`lvstui group`: the director group.

lvstui group keygen > /etc/lvstui/group.pem    the credential every member holds (mode 600)
lvstui group diff                              configuration sections that differ per peer
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from lvstui.commands._client import EXIT_FAILED, EXIT_OK, add_socket_argument, with_client
from lvstui.model import GroupView

if TYPE_CHECKING:
    from lvstui.control.client import SocketClient

__all__ = ["add_arguments", "group_json", "render_group", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="group_command", metavar="ACTION", required=True)
    sub.add_parser(
        "keygen",
        help="write a new group credential (certificate + key, PEM) to standard output",
        description="Write a new group credential to standard output: copy it to every "
        "director of the group and name it in [lvstui.group] key_file. Holding it is "
        "membership: keep it mode 600.",
    )
    diff = sub.add_parser(
        "diff",
        help="name the configuration sections that differ between this director and each peer",
        description="Ask the running daemon which configuration sections differ between "
        "this director and each peer (exit 1 when some do, or a peer was not heard).",
    )
    diff.add_argument("--json", action="store_true", help="JSON instead of text")
    add_socket_argument(diff)


def _ago(then: float | None, now: float) -> str:
    if then is None:
        return "never"
    s = max(0.0, now - then)
    return f"{s:.0f}s" if s < 120 else f"{s / 60:.0f}m"


def render_group(view: GroupView, now: float) -> list[str]:
    """`lvstui status` lines for the group: one per peer, then any split brain."""
    lines = [f"Group: {view.name} (key {view.group_id}, {view.overrides} overrides)"]
    for p in view.peers:
        state = "reachable" if p.reachable else "UNREACHABLE"
        parts = [f"{state} for {_ago(p.since, now)}"]
        if p.reachable and not p.synced:
            parts.append("syncing")
        if p.pending:
            parts.append(f"{p.pending} change(s) pending")
        if p.config_same is None:
            parts.append("config not heard")
        elif p.config_same:
            parts.append("config same")
        else:
            parts.append("config DIFFERENT: " + ", ".join(p.differing))
        if p.table_same is False:
            parts.append("table different")
        if p.hash_differ:
            parts.append("HASH TABLE DIFFERENT: " + ", ".join(p.hash_differ))
        if p.vrrp:
            parts.append("VRRP " + "; ".join(p.vrrp))
        lines.append(f"  {p.name or '?'} {p.address}: " + ", ".join(parts))
    if not view.peers:
        lines.append("  (no peer)")
    lines += [f"  {sb.upper()}" for sb in view.split_brain]
    return lines


def group_json(view: GroupView | None, now: float) -> dict[str, Any] | None:
    if view is None:
        return None
    return {
        "name": view.name,
        "group_id": view.group_id,
        "overrides": view.overrides,
        "split_brain": list(view.split_brain),
        "peers": [
            {
                "name": p.name,
                "address": p.address,
                "reachable": p.reachable,
                "since_seconds": None if p.since is None else round(max(0.0, now - p.since), 3),
                "synced": p.synced,
                "pending": p.pending,
                "pending_changes": list(p.pending_changes),
                "config_same": p.config_same,
                "differing": list(p.differing),
                "table_same": p.table_same,
                "hash_differ": list(p.hash_differ),
                "vrrp": list(p.vrrp),
            }
            for p in view.peers
        ],
    }


def _keygen() -> int:
    from lvstui.group.keys import generate

    pem = generate()
    if sys.stdout.isatty():
        print(
            "lvstui group keygen: writing a private key to the terminal; "
            "redirect it to a file: lvstui group keygen > group.pem",
            file=sys.stderr,
        )
    else:
        # the redirect created the file with the umask's mode: a key must be private
        with contextlib.suppress(OSError, ValueError):  # not a file (a pipe, a StringIO)
            os.fchmod(sys.stdout.fileno(), 0o600)
    sys.stdout.write(pem)
    sys.stdout.flush()
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    if args.group_command == "keygen":
        return _keygen()

    async def diff(client: SocketClient) -> int:
        snap = await client.snapshot()
        view = snap.group
        if view is None:
            print("this director is not in a group ([lvstui.group] is not set)", file=sys.stderr)
            return EXIT_FAILED
        if args.json:
            doc = {p.name or p.address: list(p.differing) for p in view.peers}
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        else:
            for p in view.peers:
                who = f"{p.name or '?'} ({p.address})"
                if p.config_same is None:
                    print(f"{who}: not heard from yet")
                elif p.config_same:
                    print(f"{who}: same configuration")
                else:
                    print(f"{who}: differs in " + ", ".join(p.differing))
        same = all(p.config_same for p in view.peers)
        return EXIT_OK if same else EXIT_FAILED

    return with_client(args, diff)
