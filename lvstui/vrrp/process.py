"""keepalived's vrrp_track_process: count the running processes that match, decide OK with
the quorum and the fork/terminate delays, and tell the instance when that flips.

keepalived listens to the kernel's process events (the netlink proc connector); that
connector only reports to the initial network namespace, and lvstui polls instead: one
pass over /proc a second per tracked process (`PROC_POLL`), bounded by the process count.
Matching is keepalived's (track_process.c): the name against /proc/PID/comm (or argv[0] of
/proc/PID/cmdline with `full_command`, as it is whenever parameters are matched), exact; the
parameters after argv[0] exactly (`exact`), the first ones exactly (`partial`), or those with
the last one as a prefix (`initial`); zombies never count.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from lvstui.clock import Clock
from lvstui.config.schema import VrrpInstance, VrrpTrackProcess
from lvstui.vrrp.pollers import Pollers
from lvstui.vrrp.track import apply_verdict, tracked_fault, tracked_weight

__all__ = [
    "PROC_POLL",
    "InstanceProcesses",
    "MemoryProcesses",
    "Proc",
    "ProcScan",
    "ProcessTable",
    "ProcessTracker",
    "Quorum",
    "matches",
    "step",
]

PROC_POLL = 1.0  # seconds between two looks at /proc


@dataclass(frozen=True, slots=True)
class Proc:
    pid: int
    comm: str
    argv: tuple[str, ...]  # empty for kernel threads


class ProcessTable(Protocol):
    def scan(self, with_argv: bool) -> list[Proc]:
        """The running (not zombie) processes; argv read only when asked (it costs)."""
        ...


class ProcScan:
    """The edge: /proc/PID/stat for the name and state, /proc/PID/cmdline when asked."""

    def __init__(self, root: str = "/proc") -> None:
        self._root = root

    def scan(self, with_argv: bool) -> list[Proc]:
        out = []
        for entry in os.listdir(self._root):
            if not entry.isdigit():
                continue
            try:
                with open(f"{self._root}/{entry}/stat", "rb") as fh:
                    stat = fh.read().decode(errors="replace")
                argv: tuple[str, ...] = ()
                if with_argv:
                    with open(f"{self._root}/{entry}/cmdline", "rb") as fh:
                        raw = fh.read()
                    argv = tuple(a.decode(errors="replace") for a in raw.split(b"\0")[:-1])
            except OSError:
                continue  # gone between the listing and the read
            left, right = stat.find("("), stat.rfind(")")
            if left < 0 or right < 0 or stat[right + 2 : right + 3] == "Z":
                continue
            out.append(Proc(int(entry), stat[left + 1 : right], argv))
        return out


class MemoryProcesses:
    """The twin: a list a test edits (start, stop: add and remove Procs)."""

    def __init__(self, procs: Sequence[Proc] = ()) -> None:
        self.procs = list(procs)

    def scan(self, with_argv: bool) -> list[Proc]:
        return [p if with_argv else Proc(p.pid, p.comm, ()) for p in self.procs]


def _params_match(tp: VrrpTrackProcess, params: tuple[str, ...]) -> bool:
    want = tp.params or ()
    if tp.param_match == "exact":
        return params == want
    if len(params) < len(want):
        return False
    if tp.param_match == "partial":
        return params[: len(want)] == want
    # initial: the first ones exactly, the last one as a prefix
    if not want:
        return True
    n = len(want) - 1
    return params[:n] == want[:n] and params[n].startswith(want[n])


def matches(tp: VrrpTrackProcess, proc: Proc) -> bool:
    if tp.full_command:
        if not proc.argv or proc.argv[0] != tp.process:
            return False
        return not tp.param_match or _params_match(tp, proc.argv[1:])
    return proc.comm == tp.process


@dataclass(frozen=True, slots=True)
class Quorum:
    """A tracked process's status: OK or not, and a change waiting for its delay."""

    ok: bool
    pending_since: float | None = None  # when the count last crossed the quorum


def in_quorum(tp: VrrpTrackProcess, count: int) -> bool:
    return tp.quorum <= count and (tp.quorum_max is None or count <= tp.quorum_max)


def step(tp: VrrpTrackProcess, q: Quorum, count: int, now: float) -> Quorum:
    """Pure: the status after seeing `count` matching processes at `now` (a gained quorum
    waits fork_delay, a lost one terminate_delay; a change that undoes itself cancels)."""
    want = in_quorum(tp, count)
    if want == q.ok:
        return Quorum(q.ok)
    since = q.pending_since if q.pending_since is not None else now
    delay = tp.fork_delay if want else tp.terminate_delay
    if now - since >= delay:
        return Quorum(want)
    return Quorum(q.ok, since)


class ProcessTracker:
    """Polls the process table for one vrrp_track_process; `on_change(ok)` when it flips.
    `first_look` gives the status at start (keepalived reads /proc before it runs)."""

    def __init__(
        self,
        tp: VrrpTrackProcess,
        table: ProcessTable,
        clock: Clock,
        on_change: Callable[[bool], None],
        ok: bool,
    ) -> None:
        self.tp = tp
        self.table = table
        self.clock = clock
        self.on_change = on_change
        self.q = Quorum(ok)

    def count(self) -> int:
        return sum(1 for p in self.table.scan(self.tp.full_command) if matches(self.tp, p))

    async def poll(self) -> None:
        count = await asyncio.to_thread(self.count)
        q = step(self.tp, self.q, count, self.clock.now())
        flipped = q.ok != self.q.ok
        self.q = q
        if flipped:
            self.on_change(q.ok)

    async def run(self) -> None:
        while True:
            await self.clock.sleep(PROC_POLL)
            await self.poll()


def first_look(tp: VrrpTrackProcess, table: ProcessTable) -> bool:
    """The status at start, without delays (keepalived counts the processes at start)."""
    return in_quorum(tp, sum(1 for p in table.scan(tp.full_command) if matches(tp, p)))


class InstanceProcesses:
    """The tracked processes of one VRRP instance: their pollers, their status, and what a
    status means for the instance (keepalived's rules, as for track_script: weight 0 →
    FAULT while failed, reversed while OK; a weight moves the priority)."""

    def __init__(
        self,
        defs: dict[str, VrrpTrackProcess],
        table: ProcessTable | None,
        clock: Clock,
        set_fault: Callable[[str, bool, str], None],
        moved: Callable[[], None],
    ) -> None:
        self.defs = defs  # every vrrp_track_process of the config (the group updates it)
        self.table: ProcessTable = table or ProcScan()
        self.clock = clock
        self._set_fault = set_fault
        self._moved = moved
        self.ok: dict[str, bool] = {}
        self._pollers: Pollers[VrrpTrackProcess] = Pollers()
        self._inst: VrrpInstance | None = None

    def _weight_of(self, name: str) -> tuple[int, bool]:
        tp = self.defs[name]
        inst = self._inst
        over = {w.name: w for w in inst.track_process_weight} if inst else {}
        w = over.get(name)
        return (w.weight, w.reverse) if w is not None else (tp.weight, tp.reverse)

    def start(self, inst: VrrpInstance) -> dict[str, str]:
        """Look at /proc once, start a poller per tracked process not running yet; the
        faults of every tracked process ("process:NAME": why), as the instance starts."""
        self._inst = inst
        for name in inst.track_process:
            tp = self.defs.get(name)
            if tp is None or name in self._pollers:
                continue
            ok = self.ok[name] = first_look(tp, self.table)
            tracker = ProcessTracker(tp, self.table, self.clock, self._callback(name), ok)
            self._pollers.add(name, tp, tracker.run(), f"vrrp-process-{name}")
        faults = {}
        for name, ok in self.ok.items():
            weight, reverse = self._weight_of(name)
            if weight == 0 and tracked_fault(reverse, ok):
                faults[f"process:{name}"] = f"track_process {name} failed"
        return faults

    async def reconfigure(self, inst: VrrpInstance, faults: dict[str, str]) -> dict[str, str]:
        """After a reload: stop the pollers of processes no longer tracked or redefined,
        start the new ones; `faults` with the process ones replaced by the current ones."""
        gone = self._pollers.stale(inst.track_process, self.defs)
        await self.stop(gone)
        for name in gone:
            self.ok.pop(name, None)
        kept = {k: v for k, v in faults.items() if not k.startswith("process:")}
        return kept | self.start(inst)

    async def stop(self, names: Sequence[str] | None = None) -> None:
        await self._pollers.stop(names)

    def weight(self) -> int:
        return sum(
            tracked_weight(w, r, self.ok.get(n, False))
            for n in self.ok
            for w, r in (self._weight_of(n),)
            if w != 0
        )

    def _callback(self, name: str) -> Callable[[bool], None]:
        def cb(ok: bool) -> None:
            self.ok[name] = ok
            weight = self._weight_of(name)
            apply_verdict(
                f"process:{name}", f"track_process {name}", ok, weight, self._set_fault, self._moved
            )

        return cb
