"""The announcement loop of a running daemon: read the engine's snapshot, decide per VIP
(decide.py), make the announcer match, once a tick; withdraw everything when it ends.

It reads the published snapshot rather than hooking into the engine's reconciler, so the
engine needs no knowledge of announcements, and a reload (new VIPs, a VIP switched to
vrrp) is picked up on the next tick: the VIPs are asked for again each time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from concurrent.futures import Executor

from lvstui.announce.base import AnnounceError, Announcer
from lvstui.announce.decide import Decision, ServiceView, VipView, apply, decide_all
from lvstui.announce.director import DirectorDrainer, DrainPhase
from lvstui.announce.peers import PeerError, PeerReader
from lvstui.announce.state import AnnounceState
from lvstui.model import Snapshot

__all__ = ["follow", "new_connections", "vip_views"]

log = logging.getLogger("lvstui.announce")


def vip_views(snapshot: Snapshot, vips: Collection[str]) -> list[VipView]:
    """Each VIP with its services' quorum. The dataplane serves the VIP while every service
    on it is in the dataplane's table (a real server or the sorry server in it)."""
    out = []
    for vip in vips:
        services = [s for s in snapshot.services if s.key.addr == vip]
        served = bool(services) and all(
            s.sorry_active or any(rs.in_table for rs in s.real_servers) for s in services
        )
        out.append(
            VipView(
                vip,
                tuple(ServiceView(s.name or str(s.key), s.quorum_up) for s in services),
                served,
            )
        )
    return out


def new_connections(snapshot: Snapshot, vips: Collection[str]) -> int:
    """The connections the bgp VIPs' services ever accepted: the dataplane's counter (IPVS:
    the service's conns; the userspace forwarder: its own), whose standing still is what
    a director drain waits for."""
    return sum(s.stats.conns for s in snapshot.services if s.key.addr in vips)


async def follow(
    snapshot: Callable[[], Snapshot],
    announcer: Announcer,
    vips: Callable[[], Collection[str]],
    *,
    interval: float = 1.0,
    director: DirectorDrainer | None = None,
    executor: Executor | None = None,
    state: AnnounceState | None = None,
    peers: Callable[[], PeerReader | None] | None = None,
    peers_every: float = 5.0,
    switch: Callable[[bool], None] | None = None,
) -> None:
    """Run until cancelled; withdraw every VIP on the way out (stop, reload failure, crash
    of the loop). A driver error is logged and retried next tick: the routes it could not
    change stay as the kernel has them.

    The announcer's calls run in `executor` when given: pyroute2's synchronous IPRoute runs
    an event loop of its own, which cannot run inside ours, so the kernel driver lives on
    one thread of its own (the daemon gives a one-thread executor and starts it there).

    `switch(wanted)` is called each tick, before deciding, with whether any VIP is in bgp
    mode now: a reload that adds the first one opens the device, one that removes the last
    closes it (lifecycle.OnDemand.want).

    `director`: the director drain, observed here each tick with the connection counter.

    `peers()`: whom to ask for the BGP sessions' state, as the configuration says now
    ([lvstui.announce] daemon, daemon_socket: a reload changes them). A different reader
    than last tick is asked at once, and what the previous one said is dropped."""
    loop = asyncio.get_running_loop()
    last: dict[str, Decision] = {}
    asked = -peers_every
    reader: PeerReader | None = None
    try:
        while True:
            snap, wanted = snapshot(), vips()
            if switch is not None:
                try:
                    await loop.run_in_executor(executor, switch, bool(wanted))
                except AnnounceError as e:
                    log.error("announcement device: %s", e)
            phase = DrainPhase.NORMAL
            if director is not None:
                phase = director.observe(new_connections(snap, wanted), loop.time())
            decisions = decide_all(
                vip_views(snap, wanted),
                drained=phase is DrainPhase.SAFE,
                draining=phase is DrainPhase.DRAINING,
            )
            for vip, d in decisions.items():
                if last.get(vip) != d:
                    log.info(
                        "%s %s (%s)", vip, "announced" if d.announce else "withdrawn", d.text()
                    )
            last = decisions
            try:
                await loop.run_in_executor(executor, apply, announcer, decisions)
            except AnnounceError as e:
                log.error("announcing failed: %s", e)
            # after applying: "safe" is said once the routes are gone, not just before
            if state is not None:
                state.set(decisions)  # what `lvstui status` shows
                if director is not None:
                    state.set_director(phase.value, director.status.text(loop.time()))
            now = peers() if peers is not None else None
            if now is not reader:
                reader, asked = now, -peers_every
                log.info("BGP peer state: %s", f"asking {now.daemon}" if now else "not asked")
                if state is not None:
                    state.set_daemon(now.daemon if now is not None else "")
            if reader is not None and state is not None and loop.time() - asked >= peers_every:
                asked = loop.time()
                try:
                    state.set_peers(await loop.run_in_executor(executor, reader.peers))
                except PeerError as e:
                    state.set_peers((), str(e))
            await asyncio.sleep(interval)
    finally:
        try:
            await loop.run_in_executor(executor, announcer.withdraw_all)
        except AnnounceError as e:
            log.error("withdrawing on stop failed: %s", e)
