"""The tracked scripts (track_script) of one VRRP instance: their trackers, their verdicts
and what a verdict means for the instance, with keepalived's start rules.

Before its first result a script is in keepalived's init state (verdict None here):
- weight 0: the instance waits in FAULT ("init") until the first result, which alone
  decides (rise and fall count only after it): a pass brings it up, a failure keeps it down;
- a weight: the script moves the priority neither way until that first result.
With `init_fail` the script starts as failed instead: a weight-0 one keeps the instance in
FAULT until it has passed `rise` times, a negative weight is applied from the start, a
positive one only once it has passed `rise` times (keepalived's vrrp_track.c
initialise_track_script_state and vrrp_scheduler.c vrrp_init_script).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from lvstui.clock import Clock
from lvstui.config.schema import VrrpInstance, VrrpScript
from lvstui.vrrp.track import (
    ScriptTracker,
    apply_verdict,
    script_weight,
    script_weight_for,
    tracked_fault,
)

__all__ = ["InstanceScripts"]


class InstanceScripts:
    """Create with the instance's callbacks, `start`, `reconfigure` after a reload, `stop`."""

    def __init__(
        self,
        clock: Clock,
        set_fault: Callable[[str, bool, str], None],
        moved: Callable[[], None],
        warn: Callable[[str], None],
    ) -> None:
        self.clock = clock
        self._set_fault = set_fault
        self._moved = moved
        self._warn = warn
        self.inst: VrrpInstance | None = None
        self.defs: dict[str, VrrpScript] = {}
        self.ok: dict[str, bool | None] = {}  # None: no result yet (keepalived's init state)
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, inst: VrrpInstance, defs: dict[str, VrrpScript]) -> dict[str, str]:
        """Start a tracker per tracked script not running yet; the faults the scripts put
        on the instance as it starts ("script:NAME": why)."""
        self.inst, self.defs = inst, defs
        faults: dict[str, str] = {}
        for name in inst.track_script:
            sc = defs.get(name)
            if sc is None:
                self._warn(f"track_script {name!r} is not a defined vrrp_script")
                continue
            if name not in self.ok:
                self.ok[name] = False if sc.init_fail else None
            if name not in self._tasks:
                tr = ScriptTracker(sc, self.clock, self.callback(name), self.ok[name])
                self._tasks[name] = asyncio.create_task(tr.run(), name=f"vrrp-script-{name}")
            weight, reverse = script_weight_for(inst, name, sc)
            ok = self.ok[name]
            if weight != 0:
                continue
            if ok is None:
                faults[f"script:{name}"] = f"track_script {name} has no result yet"
            elif sc.init_fail and ok is False:
                # keepalived: init_fail on a weight-0 script is FAULT whatever `reverse`
                faults[f"script:{name}"] = f"track_script {name} failed (init_fail)"
            elif tracked_fault(reverse, ok):
                faults[f"script:{name}"] = f"track_script {name} failed"
        return faults

    async def reconfigure(
        self, inst: VrrpInstance, defs: dict[str, VrrpScript], faults: dict[str, str]
    ) -> dict[str, str]:
        """After a reload: stop the trackers of scripts no longer tracked or redefined, start
        the new ones; `faults` with the script ones replaced by the current ones."""
        old, old_defs = self.inst, self.defs
        keep = {
            n
            for n in inst.track_script
            if old is not None and n in old.track_script and old_defs.get(n) == defs.get(n)
        }
        await self.stop([n for n in self._tasks if n not in keep])
        for name in [n for n in self.ok if n not in keep]:
            del self.ok[name]
        kept = {k: v for k, v in faults.items() if not k.startswith("script:")}
        ongoing = {f"script:{n}" for n in keep}
        kept |= {k: v for k, v in faults.items() if k in ongoing}
        new = self.start(inst, defs)
        return kept | {k: v for k, v in new.items() if k not in ongoing}

    async def stop(self, names: list[str] | None = None) -> None:
        for name in list(self._tasks) if names is None else names:
            task = self._tasks.pop(name)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def weight(self) -> int:
        """The scripts' share of the priority (a script without a result gives nothing)."""
        inst = self.inst
        if inst is None:
            return 0
        overrides = {w.name: w for w in inst.track_script_weight}
        total = 0
        for name, ok in self.ok.items():
            sc = self.defs.get(name)
            if sc is not None and ok is not None:
                total += script_weight(sc, ok, overrides.get(name))
        return total

    def waiting(self) -> set[str]:
        """The fault keys of the scripts without a result yet ("script:NAME")."""
        return {f"script:{n}" for n, ok in self.ok.items() if ok is None}

    def verdicts(self) -> tuple[tuple[str, bool], ...]:
        """The scripts that have a verdict, sorted (those without one yet are left out)."""
        return tuple(sorted((n, ok) for n, ok in self.ok.items() if ok is not None))

    def callback(self, name: str) -> Callable[[bool], None]:
        def cb(ok: bool) -> None:
            self.ok[name] = ok
            inst, sc = self.inst, self.defs.get(name)
            if inst is not None and sc is not None:
                weight = script_weight_for(inst, name, sc)
                key, what = f"script:{name}", f"track_script {name}"
                apply_verdict(key, what, ok, weight, self._set_fault, self._moved)

        return cb
