"""The drains' I/O: each tick, step every drain (`drain.py` decides) and do what it asks.

Progress is published as DrainProgress events. A drain's timeout ends the connections that
remain: a dataplane that can (`Capabilities.expire_connections`: the userspace forwarder,
TCP aborted both ways and UDP flows dropped) does it its own way and keeps the real server
at weight 0. On the kernel, the destination is deleted and kept out of the table while the
drain lasts (`ServiceRuntime.expired`): its remaining connections become unusable at once
(their packets are dropped, or the entries expired at their next packet with the
`net.ipv4.vs.expire_nodest_conn` sysctl). It is *not* added back at weight 0 right away: the
kernel would take the deleted destination back from its trash, connections included.
`undrain` puts it back.
"""

from __future__ import annotations

from collections.abc import Mapping

from lvstui.dataplane.base import Dataplane, DelDest
from lvstui.engine.bus import Journal
from lvstui.engine.drain import (
    DrainAction,
    Expire,
    ExpireDone,
    Observe,
    start_drain,
    step_drain,
)
from lvstui.engine.edges import Pair
from lvstui.engine.runtime import RuntimeTable, ServiceRuntime
from lvstui.errors import LvstuiError
from lvstui.model import DrainProgress, DrainState, RealKey

__all__ = ["Drainer"]


class Drainer:
    def __init__(
        self,
        dataplane: Dataplane,
        journal: Journal,
    ) -> None:
        self._dp = dataplane
        self._journal = journal

    async def follow(
        self,
        runtime: RuntimeTable,
        drained: Mapping[Pair, float | None],
        default_timeout: float,
        now: float,
    ) -> None:
        """One tick: end the tracks of undrained servers, step the others."""
        for each in runtime:
            for gone in [r for r in each.drains if (each.key, r) not in drained]:
                self.end(runtime, (each.key, gone))
        for (svc, real), timeout in drained.items():
            rec = runtime.get(svc)
            if rec is None or rec.plan is None:
                continue  # not configured (now): its drain waits for it
            track = rec.drains.get(real)
            if track is None:
                # silent: the step below reports the counts observed now
                track, _ = start_drain(now, timeout if timeout is not None else default_timeout)
            obs = rec.observed
            dest = next((d for d in obs.dests if d.key == real), None) if obs else None
            seen = Observe(
                dest.active_conns if dest else 0, dest.inact_conns if dest else 0, dest is not None
            )
            track, actions = step_drain(track, seen, now)
            expire = next((a for a in actions if isinstance(a, Expire)), None)
            if expire is not None:
                ok = await self._expire(rec, real)
                track, actions = step_drain(track, ExpireDone(ok, expire.active, expire.inact), now)
            rec.drains[real] = track
            self._report(rec, real, actions)

    def end(self, runtime: RuntimeTable, pair: Pair) -> bool:
        """The drain of `pair` is over (undrained): say so. False when none was followed."""
        rec = runtime.get(pair[0])
        if rec is None or rec.drains.pop(pair[1], None) is None:
            return False
        self._journal.publish(DrainProgress(self._journal.wall(), *pair, DrainState.NONE, 0, 0))
        return True

    def forget(self, runtime: RuntimeTable, pair: Pair) -> None:
        """The real server is gone (removed): its drain goes with it, silently."""
        rec = runtime.get(pair[0])
        if rec is not None:
            rec.drains.pop(pair[1], None)

    def _report(self, rec: ServiceRuntime, real: RealKey, actions: tuple[DrainAction, ...]) -> None:
        for a in actions:
            if not isinstance(a, Expire):
                self._journal.publish(
                    DrainProgress(self._journal.wall(), rec.key, real, a.state, a.active, a.inact)
                )

    async def _expire(self, rec: ServiceRuntime, real: RealKey) -> bool:
        """Drain timeout: end the connections that remain (see the module). True when done."""
        try:
            if self._dp.capabilities.expire_connections:
                await self._dp.expire_connections(rec.key, real)
            else:
                await self._dp.apply([DelDest(rec.key, real)])
                rec.expired.add(real)
        except LvstuiError as e:
            self._journal.log("error", f"expiring connections of {real} on {rec.key} failed: {e}")
            return False
        self._journal.log(
            "warning", f"drain timeout: remaining connections of {real} on {rec.key} expired"
        )
        return True
