"""MISC_CHECK: run a program; its exit code says whether the real server is alive.

- misc_path is split like a shell would (shlex) but never run by a shell: no globbing, no
  `;`, no variable expansion surprises.
- The program runs in a session (process group) of its own. On misc_timeout the whole group
  gets SIGKILL, so a script that forked children (`curl` under a shell...) leaves nothing
  behind; a group that outlives its leader after a normal exit is killed too.
- stdout and stderr are drained while it runs (a chatty script never blocks on a full pipe)
  but only the first OUTPUT_CAP bytes are kept, for the reason shown to the operator.
- misc_dynamic (keepalived): exit 0 = alive at the configured weight, 1 = dead,
  2..255 = alive with weight (code - 2). Without misc_dynamic: 0 = alive, anything else
  dead. Death by a signal is always a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import time

from lvstui.config.schema import MiscCheck
from lvstui.errors import CheckError
from lvstui.health.base import CheckResult, CheckSpec, is_local_failure

__all__ = ["OUTPUT_CAP", "MiscChecker", "interpret_exit", "split_argv"]

OUTPUT_CAP = 4096  # bytes of output kept for the reason
_READ = 65536
_DRAIN_GRACE = 1.0  # after the group is gone, how long the pipe may take to reach EOF


def split_argv(misc_path: str) -> list[str]:
    try:
        argv = shlex.split(misc_path)
    except ValueError as exc:
        raise CheckError(
            f"misc_path {misc_path!r} cannot be split into arguments: {exc}",
            hint="quote it like a shell command line (it is never run by a shell)",
        ) from exc
    if not argv:
        raise CheckError("misc_path is empty", hint="give the program to run and its arguments")
    return argv


def interpret_exit(rc: int, dynamic: bool) -> tuple[bool, int | None, str]:
    """(alive, weight or None for the configured one, reason) for an exit status
    (negative: killed by that signal, as asyncio reports it)."""
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = str(-rc)
        return False, None, f"killed by signal {name}"
    if rc == 0:
        return True, None, "exit 0"
    if dynamic and 2 <= rc <= 255:
        return True, rc - 2, f"exit {rc}: weight {rc - 2}"
    return False, None, f"exit {rc}"


def _killpg(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class MiscChecker:
    def __init__(self, spec: CheckSpec, check: MiscCheck) -> None:
        self._spec = spec
        self._check = check
        self._argv = split_argv(check.misc_path)
        self.last_output = b""

    @property
    def spec(self) -> CheckSpec:
        return self._spec

    async def run(self) -> CheckResult:
        timeout = self._spec.timeout
        started = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                user=self._check.user,
            )
        except (OSError, ValueError, KeyError) as exc:
            if is_local_failure(exc):
                raise  # no fork, no pipe: the scheduler counts the run as unknown
            return _result(False, f"cannot run {self._argv[0]}: {exc}", started)
        captured = bytearray()

        async def drain() -> None:
            assert proc.stdout is not None
            while chunk := await proc.stdout.read(_READ):
                room = OUTPUT_CAP - len(captured)
                if room > 0:
                    captured.extend(chunk[:room])

        loop = asyncio.get_running_loop()
        drainer = loop.create_task(drain())
        timed_out = False
        try:
            try:
                async with asyncio.timeout(timeout):
                    await _exited(proc)
            except TimeoutError:
                timed_out = True
        finally:
            # Timeout, cancellation or normal exit: nothing of the group may survive the check
            # (a background child still holding the pipe would also keep us waiting).
            _killpg(proc.pid)
            await self._reap(proc, drainer)
        self.last_output = bytes(captured)
        if timed_out:
            return _result(False, f"timeout after {timeout:g}s (process group killed)", started)
        assert proc.returncode is not None
        ok, weight, reason = interpret_exit(proc.returncode, self._check.misc_dynamic)
        first = captured.decode("utf-8", "replace").strip().splitlines()
        if first:
            reason = f"{reason}: {first[0][:200]}"
        now = time.monotonic()
        return CheckResult(ok, reason, now - started, weight, started, now)

    @staticmethod
    async def _reap(proc: asyncio.subprocess.Process, drainer: asyncio.Task[None]) -> None:
        """Wait for the exit status and the end of output, both bounded."""
        try:
            async with asyncio.timeout(_DRAIN_GRACE):
                await asyncio.shield(proc.wait())
        except TimeoutError:
            # A grandchild escaped into a session of its own and still holds the pipe:
            # stop reading and close our end; the exit status is known by now.
            drainer.cancel()
            transport = getattr(proc, "_transport", None)
            if transport is not None:
                transport.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_DRAIN_GRACE):
                    await asyncio.shield(proc.wait())
        with contextlib.suppress(asyncio.CancelledError):
            await drainer


async def _exited(proc: asyncio.subprocess.Process) -> None:
    """Wait until the process exits, whatever its pipes do (asyncio's Process.wait also
    waits for the pipes to close). A pidfd becomes readable when the process exits."""
    try:
        fd = os.pidfd_open(proc.pid)
    except ProcessLookupError:
        return  # already gone
    except OSError:  # no pidfd (kernel < 5.3): the pipes' end will have to do
        await proc.wait()
        return
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(fd, ready)
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def _result(ok: bool, reason: str, started: float) -> CheckResult:
    now = time.monotonic()
    return CheckResult(ok, reason, now - started, None, started, now)
