"""Notify and quorum commands: in order per source, sources independent, no shell, bounded.

keepalived runs `notify_up`, `notify_down`, `quorum_up`, `quorum_down` and the VRRP
`notify*` scripts as commands. So do we, with rules that keep a director predictable:

- the command string is split like a shell would (`shlex.split`) but **never run by a
  shell**: no globbing, no `;`, no `$(...)` — what you write is the argv;
- commands of one **source** (a VRRP instance, a sync group, a real server of a virtual
  server, a virtual server's quorum) run **serially, in the order the events happened** (a
  `quorum_down` that starts a spare VM is never overtaken by the `quorum_up` that follows);
  different sources run **independently**, at most `concurrency` commands at once, so a hung
  script of one instance never delays another instance's `notify_master`. The source is the
  job's subject: what follows the event name in `what` ("notify_master VI_1" -> "VI_1"),
  unless `submit` is given one;
- each has a timeout (`[lvstui] notify_timeout`, 30 s by default); it runs through
  `lvstui.child.run_child`: a process group of its own, killed whole at the timeout and on
  stop, our end of the pipe closed (a `setsid` grandchild holding stdout cannot wedge the
  worker), output bounded while read and sanitised before it is logged.

Every outcome is reported as a `NotifyResult` (exit code, or why it failed, and the first
characters of its output).
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import subprocess
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from lvstui.child import Credentials, printable, resolve_user, run_child
from lvstui.config.schema import DEFAULT_NOTIFY_TIMEOUT, VrrpInstance, VrrpSyncGroup
from lvstui.model import NotifyResult, VrrpRunState

__all__ = [
    "DEFAULT_CONCURRENCY",
    "STOP_WAIT",
    "FifoLines",
    "Job",
    "ScriptRunner",
    "notify_command",
    "source_of",
    "split_command",
]

log = logging.getLogger("lvstui.notify")

OUTPUT_CAP = 4096  # bytes of output read into memory per command; the rest is dropped
_DETAIL_LIMIT = 500  # characters of (sanitised) output in the result and the log
DEFAULT_CONCURRENCY = 16  # commands running at once, all sources together
STOP_WAIT = 10.0  # seconds a stop lets running and queued commands finish (not notify_timeout)


class FifoLines(Protocol):
    """Where keepalived-style notify lines go (lvstui.notify.fifo.NotifyFifos)."""

    def vrrp(self, line: str) -> None: ...

    def lvs(self, line: str) -> None: ...


def split_command(command: str) -> list[str]:
    """argv for a command string; ValueError for an empty or unbalanced one."""
    argv = shlex.split(command)
    if not argv:
        raise ValueError("empty command")
    return argv


def notify_command(
    who: VrrpInstance | VrrpSyncGroup, state: VrrpRunState
) -> tuple[str | None, str]:
    """The state's own command (notify_master, ...) of an instance or sync group, and the
    user it runs as ("": the runner's); (None, "") for a state without one (INIT)."""
    s = VrrpRunState
    return {
        s.MASTER: (who.notify_master, who.notify_master_user),
        s.BACKUP: (who.notify_backup, who.notify_backup_user),
        s.FAULT: (who.notify_fault, who.notify_fault_user),
        s.STOP: (who.notify_stop, who.notify_stop_user),
    }.get(state, (None, ""))


def source_of(what: str) -> str:
    """The source a job belongs to: its subject, what follows the event name."""
    _, _, subject = what.partition(" ")
    return subject or what


@dataclass(frozen=True, slots=True)
class Job:
    what: str  # "quorum_down TCP 1.2.3.4:80", "notify_up 10.0.0.1:80", ...
    command: str
    args: tuple[str, ...] = ()  # appended to the command's argv (keepalived's `notify` args)
    source: str = ""  # "": source_of(what)
    user: str = ""  # who it runs as (keepalived's `notify_master "CMD" USER`); "": the runner's

    @property
    def key(self) -> str:
        return self.source or source_of(self.what)


class ScriptRunner:
    """`submit` queues a job on its source's queue; `run` keeps one worker per busy source,
    at most `concurrency` commands running at once."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_NOTIFY_TIMEOUT,
        on_result: Callable[[NotifyResult], None] | None = None,
        wall: Callable[[], float] | None = None,
        env: Mapping[str, str] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        credentials: Credentials | None = None,
    ) -> None:
        self.timeout = timeout
        # global_defs.script_user: who notify and quorum scripts run as (None: our user)
        self.credentials = credentials
        # global_defs' notify FIFOs (lvstui/notify/fifo.py): the VRRP nodes and the engine's
        # alerts write their lines there, next to the commands they queue here
        self.fifos: FifoLines | None = None
        self.on_result = on_result
        self._wall = wall or time.time
        self._env = dict(env) if env is not None else None
        self._queues: dict[str, deque[Job]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._running = False  # `run` is active: submit starts workers
        self._idle = asyncio.Event()
        self._idle.set()
        self.results: list[NotifyResult] = []  # last results, bounded
        self.ok = 0
        self.failed = 0

    def submit(
        self, what: str, command: str, args: Sequence[str] = (), source: str = "", user: str = ""
    ) -> None:
        job = Job(what, command, tuple(args), source, user)
        self._queues.setdefault(job.key, deque()).append(job)
        self._idle.clear()
        if self._running:
            self._start(job.key)

    @property
    def pending(self) -> int:
        """Jobs queued, not yet started."""
        return sum(len(q) for q in self._queues.values())

    @property
    def busy_sources(self) -> int:
        return len(self._workers)

    async def join(self) -> None:
        """Wait until every submitted job has finished (while `run` is active)."""
        await self._idle.wait()

    async def finish(self, limit: float = STOP_WAIT) -> int:
        """On stop, while `run` is active: let what is running and queued finish, within
        `limit` seconds (and the commands' own timeout); the number of commands left
        unfinished (0: all done), logged. Cancelling `run` then kills their groups."""
        try:
            await asyncio.wait_for(self.join(), min(self.timeout + 1.0, limit))
        except TimeoutError:
            left = self.pending + self.busy_sources
            log.warning(
                "stop: %d notify command(s) still running or queued after %gs: abandoned "
                "(their process groups are killed)",
                left,
                limit,
            )
            return left
        return 0

    async def run(self) -> None:
        """Runs until cancelled; cancelling it stops every running command (groups killed)."""
        self._running = True
        try:
            for key in list(self._queues):
                self._start(key)
            await asyncio.Event().wait()  # the workers do the work
        finally:
            self._running = False
            await self._stop_workers()

    async def run_pending(self) -> None:
        """Run what is queued now, sources side by side, then return (used on shutdown,
        after `run` stopped)."""
        self._running = True
        try:
            for key in list(self._queues):
                self._start(key)
            await self.join()
        finally:
            self._running = False
            await self._stop_workers()

    def _start(self, key: str) -> None:
        if key not in self._workers and self._queues.get(key):
            self._workers[key] = asyncio.get_running_loop().create_task(
                self._drain(key), name=f"notify {key}"
            )

    async def _drain(self, key: str) -> None:
        """One source's worker: its jobs one after the other, in order."""
        queue = self._queues[key]
        try:
            while queue:
                job = queue.popleft()  # a job interrupted by stop is not run again
                async with self._slots:
                    result = await self.run_one(job)
                self._record(result)
        finally:
            del self._workers[key]
            if not queue:
                del self._queues[key]
            if not self._queues and not self._workers:
                self._idle.set()

    async def _stop_workers(self) -> None:
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        if workers:
            # each worker's clean-up is bounded (run_child); wait for it so no group survives
            await asyncio.wait(workers)

    def _record(self, result: NotifyResult) -> None:
        if result.ok:
            self.ok += 1
        else:
            self.failed += 1
        self.results.append(result)
        del self.results[:-100]
        if self.on_result is not None:
            try:
                self.on_result(result)
            except Exception:
                log.exception("notify result callback failed")

    async def run_one(self, job: Job) -> NotifyResult:
        try:
            argv = [*split_command(job.command), *job.args]
        except ValueError as e:
            return self._result(job, False, f"bad command {printable(job.command.encode())}: {e}")
        try:
            # resolved now, not at load: like keepalived, a user this host does not have
            # skips the command (the failure is reported), the config still loads
            who = resolve_user(job.user) if job.user else self.credentials
        except KeyError as e:
            return self._result(job, False, f"not run: {e.args[0]}")
        try:
            child = await run_child(
                argv,
                timeout=self.timeout,
                cap=OUTPUT_CAP,
                env=self._env,
                credentials=who,
            )
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            return self._result(job, False, f"cannot run {printable(argv[0].encode())}: {reason}")
        if child.returncode is None:
            return self._result(
                job, False, f"timed out after {self.timeout:g}s (process group killed)"
            )
        text = printable(child.output, _DETAIL_LIMIT, child.dropped)
        code = child.returncode
        detail = f"exit {code}" + (f": {text}" if text else "")
        return self._result(job, code == 0, detail)

    def _result(self, job: Job, ok: bool, detail: str) -> NotifyResult:
        (log.info if ok else log.warning)("%s: %s", job.what, detail)
        return NotifyResult(time=self._wall(), what=job.what, ok=ok, detail=detail)
