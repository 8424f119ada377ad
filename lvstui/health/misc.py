"""MISC_CHECK: run a program; its exit code says whether the real server is alive.

- misc_path is split like a shell would (shlex) but never run by a shell: no globbing, no
  `;`, no variable expansion surprises.
- It runs through `lvstui.child.run_child`: a process group of its own, killed whole on
  misc_timeout, on cancellation and after a normal exit (a check leaves nothing behind); the
  run ends when the program exits, whatever a `setsid` grandchild does with the pipe.
- stdout and stderr are drained while it runs (a chatty script never blocks on a full pipe)
  but only the first OUTPUT_CAP bytes are kept; the reason shows the first line, sanitised.
- `user` (keepalived's misc_check user) is resolved when the check is built (unknown: every
  run fails, saying so); the switch
  works on asyncio's loop and on uvloop alike.
- misc_dynamic (keepalived): exit 0 = alive at the configured weight, 1 = dead,
  2..255 = alive with weight (code - 2). Without misc_dynamic: 0 = alive, anything else
  dead. Death by a signal is always a failure.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import time

from lvstui.child import Credentials, printable, resolve_user, run_child
from lvstui.config.schema import MiscCheck
from lvstui.errors import CheckError
from lvstui.health.base import CheckResult, CheckSpec, is_local_failure

__all__ = ["OUTPUT_CAP", "MiscChecker", "interpret_exit", "split_argv"]

OUTPUT_CAP = 4096  # bytes of output kept for the reason


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


class MiscChecker:
    def __init__(self, spec: CheckSpec, check: MiscCheck) -> None:
        self._spec = spec
        self._check = check
        self._argv = split_argv(check.misc_path)
        self._credentials: Credentials | None = None
        self._user_error = ""
        if check.user:
            try:
                self._credentials = resolve_user(check.user)
            except KeyError as exc:
                # a user created later (or a typo): every run fails with the reason shown
                self._user_error = str(exc.args[0])
        self.last_output = b""

    @property
    def spec(self) -> CheckSpec:
        return self._spec

    async def run(self) -> CheckResult:
        timeout = self._spec.timeout
        started = time.monotonic()
        if self._user_error:
            return _result(False, f"cannot run {self._argv[0]}: {self._user_error}", started)
        try:
            child = await run_child(
                self._argv,
                timeout=timeout,
                cap=OUTPUT_CAP,
                credentials=self._credentials,
                kill_group_on_exit=True,
            )
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            if is_local_failure(exc):
                raise  # no fork, no pipe: the scheduler counts the run as unknown
            return _result(False, f"cannot run {self._argv[0]}: {exc}", started)
        self.last_output = child.output
        if child.returncode is None:
            return _result(False, f"timeout after {timeout:g}s (process group killed)", started)
        ok, weight, reason = interpret_exit(child.returncode, self._check.misc_dynamic)
        first = child.output.strip().splitlines()
        if first:
            reason = f"{reason}: {printable(first[0])}"
        now = time.monotonic()
        return CheckResult(ok, reason, now - started, weight, started, now)


def _result(ok: bool, reason: str, started: float) -> CheckResult:
    now = time.monotonic()
    return CheckResult(ok, reason, now - started, None, started, now)
