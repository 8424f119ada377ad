"""Notify and quorum commands: run one at a time, in order, without a shell, with a timeout.

keepalived runs `notify_up`, `notify_down`, `quorum_up`, `quorum_down` and the VRRP
`notify*` scripts as commands. So do we, with three rules that keep a director predictable:

- the command string is split like a shell would (`shlex.split`) but **never run by a
  shell**: no globbing, no `;`, no `$(...)` — what you write is the argv;
- commands run **serially, in the order the events happened**, never concurrently (a
  `quorum_down` that starts a spare VM is never overtaken by the `quorum_up` that follows);
- each has a timeout (`[lvstui] notify_timeout`, 30 s by default); on timeout its whole
  process group is killed (the command starts its own session), so a stuck child of a
  script cannot linger.

Every outcome is reported as a `NotifyResult` (exit code, or why it failed, and the first
lines of its output).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from lvstui.config.schema import DEFAULT_NOTIFY_TIMEOUT
from lvstui.model import NotifyResult

__all__ = ["Job", "ScriptRunner", "split_command"]

log = logging.getLogger("lvstui.notify")

_OUTPUT_LIMIT = 2000  # characters of output kept in the result


def split_command(command: str) -> list[str]:
    """argv for a command string; ValueError for an empty or unbalanced one."""
    argv = shlex.split(command)
    if not argv:
        raise ValueError("empty command")
    return argv


@dataclass(frozen=True, slots=True)
class Job:
    what: str  # "quorum_down TCP 1.2.3.4:80", "notify_up 10.0.0.1:80", ...
    command: str
    args: tuple[str, ...] = ()  # appended to the command's argv (keepalived's `notify` args)


class ScriptRunner:
    """A single worker: `submit` queues, `run` executes jobs one after the other."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_NOTIFY_TIMEOUT,
        on_result: Callable[[NotifyResult], None] | None = None,
        wall: Callable[[], float] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        import time

        self.timeout = timeout
        self.on_result = on_result
        self._wall = wall or time.time
        self._env = dict(env) if env is not None else None
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self.results: list[NotifyResult] = []  # last results, bounded
        self.ok = 0
        self.failed = 0

    def submit(self, what: str, command: str, args: Sequence[str] = ()) -> None:
        self._queue.put_nowait(Job(what, command, tuple(args)))

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def join(self) -> None:
        """Wait until every submitted job has finished."""
        await self._queue.join()

    async def run(self) -> None:
        """The worker loop (runs until cancelled)."""
        while True:
            job = await self._queue.get()
            try:
                result = await self.run_one(job)
                self._record(result)
            finally:
                self._queue.task_done()

    async def run_pending(self) -> None:
        """Run what is queued now, then return (used on shutdown, after `run` stopped)."""
        while not self._queue.empty():
            job = self._queue.get_nowait()
            try:
                self._record(await self.run_one(job))
            finally:
                self._queue.task_done()

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
            return self._result(job, False, f"bad command {job.command!r}: {e}")
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed as a whole
                env=self._env,
            )
        except OSError as e:
            return self._result(job, False, f"cannot run {argv[0]}: {e.strerror or e}")
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), self.timeout)
        except TimeoutError:
            _kill_group(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.communicate()
            return self._result(job, False, f"timed out after {self.timeout:g}s (killed)")
        except asyncio.CancelledError:
            _kill_group(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.shield(proc.wait())
            raise
        text = out.decode("utf-8", "replace").strip()[:_OUTPUT_LIMIT]
        code = proc.returncode
        detail = f"exit {code}" + (f": {text}" if text else "")
        return self._result(job, code == 0, detail)

    def _result(self, job: Job, ok: bool, detail: str) -> NotifyResult:
        (log.info if ok else log.warning)("%s: %s", job.what, detail)
        return NotifyResult(time=self._wall(), what=job.what, ok=ok, detail=detail)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
