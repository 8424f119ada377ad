"""What can pull an instance down: tracked interfaces and tracked scripts (vrrp_script).

`LinkMonitor` answers "is this interface usable" (administratively up and with carrier,
IFF_UP and IFF_RUNNING, like keepalived); `ScriptTracker` runs one vrrp_script every
`interval` with a `timeout`, without a shell, and applies rise/fall before its status flips.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Callable
from typing import Any, Protocol

from lvstui.child import resolve_user, run_child
from lvstui.clock import Clock
from lvstui.config.schema import TrackWeight, VrrpInstance, VrrpScript
from lvstui.notify.scripts import split_command

__all__ = [
    "LinkMonitor",
    "MemoryLinks",
    "PyrouteLinks",
    "ScriptTracker",
    "apply_verdict",
    "link_faults",
    "script_weight",
    "script_weight_for",
    "tracked_fault",
    "tracked_weight",
    "weighted_links",
]

IFF_UP = 0x1
IFF_RUNNING = 0x40


class LinkMonitor(Protocol):
    async def is_up(self, ifname: str) -> bool: ...

    async def index(self, ifname: str) -> int | None:
        """The interface's ifindex, None while it does not exist (a new index: recreated)."""
        ...

    async def close(self) -> None: ...


class MemoryLinks:
    """Every interface exists and is up, except those in `down` (no carrier) and `missing`
    (not created yet, or deleted: `remove` / `add` them as a test goes)."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.missing: set[str] = set()
        self._ids: dict[str, int] = {}
        self._next = 1

    def remove(self, ifname: str) -> None:
        self.missing.add(ifname)
        self._ids.pop(ifname, None)

    def add(self, ifname: str) -> None:
        self.missing.discard(ifname)

    async def is_up(self, ifname: str) -> bool:
        return ifname not in self.down and ifname not in self.missing

    async def index(self, ifname: str) -> int | None:
        if ifname in self.missing:
            return None
        if ifname not in self._ids:
            self._next += 1  # an interface created again gets a new index, as in the kernel
            self._ids[ifname] = self._next
        return self._ids[ifname]

    async def close(self) -> None:
        return None


class PyrouteLinks:
    """Link state from pyroute2, event-driven: one dump at first use, then the kernel's
    RTM_NEWLINK/RTM_DELLINK notifications (group RTMGRP_LINK). `is_up` is a dictionary
    lookup. Polling with `link("get")` instead would parse a full link message (several ms
    of Python) ten times a second, right when a master-down timer may be due."""

    RTMGRP_LINK = 1

    def __init__(self) -> None:
        self._ipr: Any = None
        self._up: dict[str, bool] = {}
        self._index: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def _update(self, msg: Any) -> None:
        name = msg.get("ifname")
        if not name:
            return
        flags = int(msg.get("flags") or 0)
        gone = msg.get("event") == "RTM_DELLINK"
        self._up[str(name)] = not gone and bool(flags & IFF_UP) and bool(flags & IFF_RUNNING)
        idx = int(msg.get("index") or 0)
        # a renamed interface: its old name is gone
        for old in [n for n, i in self._index.items() if i == idx and n != name]:
            del self._index[old]
            self._up[old] = False
        if gone:
            self._index.pop(str(name), None)
        elif idx:
            self._index[str(name)] = idx

    async def _ensure(self) -> None:
        if self._ipr is not None:
            return
        from pyroute2 import AsyncIPRoute

        ipr = AsyncIPRoute()
        self._ipr = ipr
        bound = ipr.bind(groups=self.RTMGRP_LINK)
        if asyncio.iscoroutine(bound) or isinstance(bound, asyncio.Future):
            await bound
        async for msg in await ipr.link("dump"):
            self._update(msg)
        self._task = asyncio.create_task(self._watch(), name="vrrp-link-events")

    async def _watch(self) -> None:
        while self._ipr is not None:
            async for msg in self._ipr.get():
                self._update(msg)

    async def is_up(self, ifname: str) -> bool:
        await self._ensure()
        return self._up.get(ifname, False)

    async def index(self, ifname: str) -> int | None:
        await self._ensure()
        return self._index.get(ifname)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._ipr is not None:
            ipr, self._ipr = self._ipr, None
            ipr.close()


def tracked_weight(weight: int, reverse: bool, up: bool) -> int:
    """Priority change a weighted tracked object contributes, as keepalived computes it: a
    positive weight while it is up (OK), a negative one while it is down (failing); with
    `reverse` the adjustment goes the other way (keepalived multiplies by -1)."""
    sign = -1 if reverse else 1
    if weight > 0 and up:
        return weight * sign
    if weight < 0 and not up:
        return weight * sign
    return 0


def tracked_fault(reverse: bool, up: bool) -> bool:
    """An unweighted (weight 0) tracked object: FAULT while it is down, or, with `reverse`,
    while it is up (keepalived's `weight 0 reverse`)."""
    return up == reverse


def apply_verdict(
    key: str,
    what: str,
    ok: bool,
    weight: tuple[int, bool],
    set_fault: Callable[[str, bool, str], None],
    moved: Callable[[], None],
) -> None:
    """A tracked object's new verdict on its instance: weight 0 sets or clears the fault
    `key` (`what` names it in the reason), a weight moves the priority."""
    w, reverse = weight
    if w == 0:
        why = f"{what} {'OK (reverse)' if ok else 'failed'}"
        set_fault(key, tracked_fault(reverse, ok), why)
    else:
        moved()


def script_weight(script: VrrpScript, ok: bool, override: TrackWeight | None = None) -> int:
    """Priority change a script contributes: its own weight, or the instance's
    `track_script { NAME weight W }` override."""
    if override is not None:
        return tracked_weight(override.weight, override.reverse, ok)
    return tracked_weight(script.weight, False, ok)


def script_weight_for(inst: VrrpInstance, name: str, sc: VrrpScript) -> tuple[int, bool]:
    """The weight and direction an instance gives a script: its own track_script entry's,
    else the vrrp_script's."""
    for w in inst.track_script_weight:
        if w.name == name:
            return w.weight, w.reverse
    return sc.weight, False


def weighted_links(inst: VrrpInstance) -> dict[str, TrackWeight]:
    """track_interface entries with a weight: they move the priority instead of FAULT.
    keepalived ignores a weight on the instance's own interface (down is FAULT)."""
    return {
        w.name: w for w in inst.track_interface_weight if w.weight != 0 and w.name != inst.interface
    }


def link_faults(inst: VrrpInstance, ifname: str, up: bool) -> bool:
    """An unweighted tracked link: FAULT while down (`weight 0 reverse`: while up)."""
    rev = any(w.name == ifname and w.reverse for w in inst.track_interface_weight)
    return tracked_fault(rev and ifname != inst.interface, up)


class ScriptTracker:
    """Runs one vrrp_script forever; calls `on_change(ok)` when its status flips.

    Starts without a status (`initial` None, keepalived's init state): the first result sets
    it whatever rise and fall say. Started as failed (`init_fail`), it needs `rise` passes
    (vrrp/scripts.py has what either means for an instance)."""

    def __init__(
        self,
        script: VrrpScript,
        clock: Clock,
        on_change: Callable[[bool], None],
        initial: bool | None = False,
    ) -> None:
        self.script = script
        self.clock = clock
        self.on_change = on_change
        self.ok: bool | None = initial
        self._streak = 0  # consecutive results that disagree with `ok`
        self.runs = 0

    async def run_once(self) -> bool:
        s = self.script
        timeout = s.timeout if s.timeout is not None else s.interval
        try:
            argv = split_command(s.script)
            credentials = resolve_user(s.user) if s.user else None
        except (ValueError, KeyError):
            return False  # an unsplittable command or an unknown user: the script fails
        try:
            # its own process group, killed whole at the timeout and on stop (cancellation)
            child = await run_child(
                argv,
                timeout=timeout,
                capture=False,
                credentials=credentials,
            )
        except (OSError, ValueError, subprocess.SubprocessError):
            return False
        return child.returncode == 0

    def feed(self, result: bool) -> None:
        """Apply one result with rise/fall (pure bookkeeping, tested without processes)."""
        self.runs += 1
        if self.ok is None:  # the first result decides alone (keepalived: rise - 1 + 1)
            self.ok, self._streak = result, 0
            self.on_change(result)
            return
        if result == self.ok:
            self._streak = 0
            return
        self._streak += 1
        need = self.script.rise if result else self.script.fall
        if self._streak >= max(1, need):
            self.ok = result
            self._streak = 0
            self.on_change(result)

    async def run(self) -> None:
        while True:
            self.feed(await self.run_once())
            await self.clock.sleep(self.script.interval)
