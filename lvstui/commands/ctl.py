"""`lvstui ctl`: operator commands sent to the daemon over the control socket.

    lvstui ctl drain   VIP:PORT RS:PORT [--timeout S] [--wait [--wait-timeout S]]
    lvstui ctl undrain VIP:PORT RS:PORT
    lvstui ctl weight  VIP:PORT RS:PORT N        (N = "config": back to the configured one)
    lvstui ctl add     VIP:PORT RS:PORT [--weight N] [--forward nat|dr|tun]
    lvstui ctl remove  VIP:PORT RS:PORT
    lvstui ctl reload  [--dry-run] [--force]
    lvstui ctl drain-director [--settle S] [--wait [--wait-timeout S]]  (bgp VIPs)
    lvstui ctl undrain-director
    lvstui ctl upgrade                           (restart, handing the sockets over)

Every verb but upgrade and the director drain takes `--director NAME`: run it on the
director NAME of this director's group, forwarded over the group channel (docs/group.md).

A service is written `TCP 1.2.3.4:80`, `1.2.3.4:80` (TCP), `udp:[2001:db8::1]:53` or
`FWM 3`, or with ipvsadm's options: `-t 1.2.3.4:80`, `-u 1.2.3.4:53`, `--fwmark-service 3`;
the real server as `1.2.3.4:80` or `-r 1.2.3.4:80`. Exit codes: see `lvstui.commands._client`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from lvstui.commands import director_drain
from lvstui.commands._client import (
    EXIT_FAILED,
    EXIT_NO_DAEMON,
    EXIT_OK,
    EXIT_USAGE,
    add_director_argument,
    add_socket_argument,
    with_client,
)
from lvstui.control.client import SocketClient
from lvstui.errors import CommandError
from lvstui.model import (
    AddReal,
    Command,
    CommandResult,
    Drain,
    DrainDirector,
    DrainProgress,
    DrainState,
    LbKind,
    Protocol,
    RealKey,
    Reload,
    RemoveReal,
    ServiceKey,
    SetWeight,
    Snapshot,
    Undrain,
    UndrainDirector,
)

__all__ = ["add_arguments", "parse_target", "run"]

PAIR_VERBS = ("drain", "undrain", "weight", "add", "remove")


def _pair_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("-t", "--tcp-service", metavar="VIP:PORT", help="TCP service (ipvsadm -t)")
    g.add_argument("-u", "--udp-service", metavar="VIP:PORT", help="UDP service (ipvsadm -u)")
    g.add_argument(
        "--sctp-service", metavar="VIP:PORT", help="SCTP service (ipvsadm --sctp-service)"
    )
    g.add_argument("--fwmark-service", metavar="MARK", help="firewall-mark service (ipvsadm -f)")
    p.add_argument("-r", "--real-server", metavar="RS:PORT", help="real server (ipvsadm -r)")
    p.add_argument("targets", nargs="*", metavar="ARG", help="VIP:PORT RS:PORT")
    add_socket_argument(p)
    add_director_argument(p, "act on")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    p = sub.add_parser("drain", help="weight 0, let connections finish; --wait until idle")
    _pair_args(p)
    p.add_argument("--timeout", type=float, metavar="S", help="expire what remains after S s")
    p.add_argument("--wait", action="store_true", help="follow the drain until it is safe")
    p.add_argument("--wait-timeout", type=float, metavar="S", help="give up waiting after S s")
    p = sub.add_parser("undrain", help="back in rotation")
    _pair_args(p)
    p = sub.add_parser("weight", help="set a weight (config: back to the configured one)")
    _pair_args(p)
    p = sub.add_parser("add", help="add a real server at run time (ipvsadm -a)")
    _pair_args(p)
    p.add_argument(
        "-w", "--weight", type=int, default=1, metavar="N", help="its weight, 0-65535 (1)"
    )
    p.add_argument("--forward", choices=["nat", "dr", "tun"], help="forwarding method")
    p = sub.add_parser("remove", help="remove a real server at run time (ipvsadm -d)")
    _pair_args(p)
    p = sub.add_parser("reload", help="reload the configuration file (like SIGHUP)")
    p.add_argument("--dry-run", action="store_true", help="print the difference, apply nothing")
    p.add_argument(
        "--force",
        action="store_true",
        help="apply even when the file removes every service, or more than "
        "[lvstui] reload_max_removal of them",
    )
    add_socket_argument(p)
    add_director_argument(p, "reload")
    director_drain.add_parsers(sub)
    p = sub.add_parser(
        "upgrade",
        help="start the daemon's program again and hand it the listening sockets "
        "(no connection refused); the old one finishes its connections and exits",
    )
    add_socket_argument(p)


def parse_target(args: argparse.Namespace) -> tuple[ServiceKey, RealKey, list[str]]:
    """(service, real server, remaining positional words). Raises ValueError."""
    rest = list(args.targets)
    if args.tcp_service:
        svc = ServiceKey.parse(args.tcp_service, Protocol.TCP)
    elif args.udp_service:
        svc = ServiceKey.parse(args.udp_service, Protocol.UDP)
    elif args.sctp_service:
        svc = ServiceKey.parse(args.sctp_service, Protocol.SCTP)
    elif args.fwmark_service:
        svc = ServiceKey.parse(f"FWM {args.fwmark_service}")
    else:
        if not rest:
            raise ValueError("which service? give VIP:PORT (or -t/-u VIP:PORT)")
        word = rest.pop(0)
        # `TCP 1.2.3.4:80` typed without quotes arrives as two words
        if word.upper() in {p.value for p in Protocol} | {"FWM"} and rest:
            word = f"{word} {rest.pop(0)}"
        svc = ServiceKey.parse(word)
    if args.real_server:
        real = RealKey.parse(args.real_server)
    else:
        if not rest:
            raise ValueError("which real server? give RS:PORT (or -r RS:PORT)")
        real = RealKey.parse(rest.pop(0))
    return svc, real, rest


def build_command(args: argparse.Namespace) -> Command:
    if args.verb == "reload":
        return Reload(dry_run=args.dry_run, force=args.force)
    if args.verb == "drain-director":
        if args.settle is not None and args.settle < 0:
            raise ValueError("--settle must be ≥ 0")
        return DrainDirector(args.settle)
    if args.verb == "undrain-director":
        return UndrainDirector()
    svc, real, rest = parse_target(args)
    if args.verb == "weight":
        if len(rest) != 1:
            raise ValueError("ctl weight VIP:PORT RS:PORT N: give the weight (or `config`)")
        word = rest.pop()
        weight = None if word.lower() in ("config", "default", "-") else int(word)
        return SetWeight(svc, real, weight)
    if rest:
        raise ValueError(f"unexpected argument(s): {' '.join(rest)}")
    if args.verb == "drain":
        if args.timeout is not None and args.timeout < 0:
            raise ValueError("--timeout must be ≥ 0")
        return Drain(svc, real, args.timeout)
    if args.verb == "undrain":
        return Undrain(svc, real)
    if args.verb == "add":
        kind = LbKind[args.forward.upper()] if args.forward else None
        return AddReal(svc, real, args.weight, kind)
    if args.verb == "remove":
        return RemoveReal(svc, real)
    raise ValueError(f"unknown verb {args.verb}")


def _print_result(result: CommandResult) -> int:
    stream = sys.stdout if result.ok else sys.stderr
    print(result.message if result.ok else f"lvstui: {result.message}", file=stream)
    if result.detail:
        print(result.detail, file=stream)
    return EXIT_OK if result.ok else EXIT_FAILED


def _drain_state(
    snap: Snapshot, svc: ServiceKey, real: RealKey
) -> tuple[DrainState, int, int] | None:
    for s in snap.services:
        if s.key == svc:
            for r in s.real_servers:
                if r.key == real:
                    return r.drain, r.active_conns, r.inact_conns
    return None


DONE = (DrainState.SAFE, DrainState.EXPIRED)


async def _drain_and_wait(
    client: SocketClient, cmd: Drain, limit: float | None, director: str | None = None
) -> int:
    """Send the drain, then follow DrainProgress until SAFE (or EXPIRED)."""
    events = client.events()
    queue: asyncio.Queue[DrainProgress | None] = asyncio.Queue()

    async def follow() -> None:
        try:
            async for ev in events:
                if (
                    isinstance(ev, DrainProgress)
                    and ev.service == cmd.service
                    and ev.real == cmd.real
                ):
                    queue.put_nowait(ev)
        finally:
            queue.put_nowait(None)

    follower = asyncio.create_task(follow())
    try:
        # Subscribed before the command goes out, so its progress events all reach us;
        # they only wake us early anyway: the snapshot is the truth, re-read every second.
        await client.subscribe()
        result = await _call(client, cmd, director)
        rc = _print_result(result)
        if rc != EXIT_OK:
            return rc
        deadline = None if limit is None else time.monotonic() + limit
        last: tuple[DrainState, int, int] | None = None
        while True:
            snap = await (client.snapshot() if director is None else client.snapshot_of(director))
            now_state = _drain_state(snap, cmd.service, cmd.real)
            if now_state is not None and now_state != last:
                last = now_state
                state, active, inact = now_state
                print(f"{cmd.real}: {state.value}, {active} active, {inact} inactive")
            if now_state is not None and now_state[0] in DONE:
                if now_state[0] is DrainState.SAFE:
                    print(f"{cmd.real} is idle: safe for maintenance")
                else:
                    print(f"{cmd.real}: drain timeout passed, remaining connections expired")
                return EXIT_OK
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                print(f"lvstui: {cmd.real} still draining after {limit:g}s", file=sys.stderr)
                return EXIT_FAILED
            # Wake on a progress event, or re-read the snapshot after a second anyway.
            wait = 1.0 if remaining is None else min(1.0, remaining)
            try:
                ev = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                continue
            if ev is None:
                return _lost(client)
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await events.aclose()  # type: ignore[attr-defined]


async def _call(client: SocketClient, cmd: Command, director: str | None) -> CommandResult:
    return await (client.call(cmd) if director is None else client.call_on(director, cmd))


def _lost(client: SocketClient) -> int:
    print(f"lvstui: the daemon on {client.path} went away", file=sys.stderr)
    return EXIT_NO_DAEMON


def run(args: argparse.Namespace) -> int:
    if args.verb == "upgrade":
        from lvstui.commands.upgrade import upgrade

        return with_client(args, upgrade)
    try:
        cmd = build_command(args)
    except ValueError as exc:
        print(f"lvstui ctl {args.verb}: {exc}", file=sys.stderr)
        return EXIT_USAGE

    async def body(client: SocketClient) -> int:
        if isinstance(cmd, Drain) and args.wait:
            return await _drain_and_wait(client, cmd, args.wait_timeout, args.director)
        try:
            result = await _call(client, cmd, args.director)
        except CommandError as exc:
            print(f"lvstui: {exc}", file=sys.stderr)
            return EXIT_FAILED
        rc = _print_result(result)
        if rc == EXIT_OK and isinstance(cmd, DrainDirector) and args.wait:
            return await director_drain.wait_safe(client, args.wait_timeout, time.time())
        return rc

    return with_client(args, body)
