"""`lvstui list`: the daemon's table in ipvsadm's format (`ipvsadm -L -n`), or JSON.

    lvstui list [-n] [--stats | --rate | --thresholds | --persistent-conn] [--exact]
                [--nosort] [--json] [--socket PATH]

The rows come from the daemon's snapshot: a real server appears when it is in the
dataplane (a failed one is removed, as keepalived does, unless inhibit_on_failure keeps it
at weight 0); the sorry server appears while it serves. `-n` is accepted for ipvsadm habits
(addresses are always numeric).
"""

from __future__ import annotations

import argparse
import json
import sys

from lvstui.commands._client import (
    EXIT_OK,
    add_director_argument,
    add_socket_argument,
    with_client,
)
from lvstui.control.client import SocketClient
from lvstui.dataplane.base import ObservedDest, ObservedService
from lvstui.model import ServiceView, Snapshot

__all__ = ["add_arguments", "observed_from_snapshot", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--numeric", action="store_true", help="numeric (always)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--stats", action="store_true", help="counters (Conns, packets, bytes)")
    mode.add_argument("--rate", action="store_true", help="rates (CPS, PPS, BPS)")
    mode.add_argument("--thresholds", action="store_true", help="upper/lower thresholds")
    mode.add_argument("--persistent-conn", action="store_true", help="persistent connection counts")
    parser.add_argument("--exact", action="store_true", help="exact numbers, no K/M/G")
    parser.add_argument("--nosort", action="store_true", help="table order, not sorted")
    parser.add_argument("--json", action="store_true", help="JSON instead of text")
    add_director_argument(parser, "the table of")
    add_socket_argument(parser)


def _service(v: ServiceView) -> ObservedService:
    dests = tuple(
        ObservedDest(
            key=r.key,
            weight=r.weight,
            fwd=r.fwd,
            active_conns=r.active_conns,
            inact_conns=r.inact_conns,
            persist_conns=r.persist_conns,
            stats=r.stats,
        )
        for r in v.real_servers
        if (r.is_sorry and v.sorry_active) or (not r.is_sorry and r.in_table)
    )
    return ObservedService(
        key=v.key,
        scheduler=v.scheduler,
        flags=frozenset(v.flags),
        persistence_timeout=v.persistence_timeout,
        netmask=v.persistence_netmask,
        dests=dests,
        stats=v.stats,
    )


def observed_from_snapshot(snap: Snapshot) -> list[ObservedService]:
    """Snapshot views → the dataplane's ObservedService rows the ipvsadm renderer takes."""
    return [_service(v) for v in snap.services]


def run(args: argparse.Namespace) -> int:
    from lvstui.dataplane.listing import ListOptions, render, render_json

    async def body(client: SocketClient) -> int:
        director = args.director
        snap = await (client.snapshot() if director is None else client.snapshot_of(director))
        rows = observed_from_snapshot(snap)
        if args.json:
            data = json.loads(render_json(rows, nosort=args.nosort))
            data["dataplane"] = snap.dataplane
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
        else:
            opts = ListOptions(
                stats=args.stats,
                rate=args.rate,
                thresholds=args.thresholds,
                persistent_conn=args.persistent_conn,
                exact=args.exact,
                nosort=args.nosort,
            )
            sys.stdout.write(render(rows, opts))
        return EXIT_OK

    return with_client(args, body)
