"""A probe's loop driven by callbacks, for checkers that can run without a task (TCP_CHECK).

The HealthMonitor runs most probes as a task per probe (`HealthMonitor._loop`): sleep a
period, await the checker, record, again. Each await of a future costs an event-loop
iteration after the future is set (the task's step is scheduled with call_soon), so a TCP
run costs four iterations: the timer fires, the task starts the connect, the connect
completes, the task records. Where a system call is expensive (a VM trapping them: about
35 µs each in the User-Mode-Linux guest, for every epoll_wait and every clock read) those
iterations, not the connect, are most of a check's CPU.

`CallbackLoop` runs the same rules with plain callbacks: the coarse timer's callback starts
the connect (`TcpChecker.begin`), the connect watcher's callback records the result and
arms the next run, so a run costs two iterations, no task step, and reads the clock three
times (due, start, end). It keeps everything the task loop does: warm-up, one run at a time
per probe, no catch-up burst after a slow run, retry / delay_before_retry while up, the
concurrency cap (FIFO with the task loops), unknown runs for local failures, the watchdog's
progress, lateness. `cancel()` stops it at once, wherever it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

from lvstui.health.base import Cancellable, CheckResult
from lvstui.health.probe import Probe, after_attempts, crashed
from lvstui.health.slots import Slots
from lvstui.health.tcp import TcpChecker
from lvstui.health.timers import CoarseTimers

__all__ = ["CallbackLoop", "LoopHost"]

K = TypeVar("K", bound=Hashable)


class LoopHost(Protocol[K]):
    """What a CallbackLoop needs from its HealthMonitor."""

    def late(self, late: float) -> None:
        """A run started `late` seconds after its due time."""
        ...

    def wall(self, mono: float) -> float:
        """Wall-clock time for a monotonic time (CheckView.last_run)."""
        ...

    def finish(self, probe: Probe[K], result: CheckResult, now: float) -> None:
        """A run's final result (after retries), at monotonic `now`."""
        ...


class CallbackLoop(Generic[K]):
    __slots__ = (
        "_attempt",
        "_checker",
        "_due",
        "_holding",
        "_host",
        "_loop",
        "_probe",
        "_queued",
        "_slots",
        "_stopped",
        "_timers",
        "_tried",
        "_tries",
    )

    def __init__(
        self,
        host: LoopHost[K],
        slots: Slots,
        probe: Probe[K],
        checker: TcpChecker,
        timers: CoarseTimers,
        first_due: float,
    ) -> None:
        self._host = host
        self._slots = slots
        self._probe = probe
        self._checker = checker
        self._loop = asyncio.get_running_loop()
        self._timers = timers
        self._due = first_due
        self._attempt: Cancellable | None = None
        self._holding = False  # holds an attempt slot
        self._queued = False  # waits for one
        self._stopped = False
        self._tries = 1
        self._tried = 0
        probe.progress = first_due  # the watchdog counts from the first due time
        timers.call_at(first_due, self._wake)

    def cancel(self) -> None:
        """Stop: no callback of this loop does anything after this."""
        if self._stopped:
            return
        self._stopped = True
        if self._attempt is not None:
            self._attempt.cancel()
            self._attempt = None
        if self._queued:
            self._queued = False
            self._slots.unqueue(self._granted)
        if self._holding:
            self._holding = False
            self._slots.release()

    # --- one run ----------------------------------------------------------------------------

    def _wake(self) -> None:
        if self._stopped:
            return
        now = self._loop.time()
        self._host.late(now - self._due)
        self._tries = self._probe.tries()
        self._tried = 0
        self._try(now)

    def _retry(self) -> None:
        if not self._stopped:
            self._try(self._loop.time())

    def _try(self, now: float) -> None:
        if self._slots.take(self._granted):
            self._holding = True
            self._begin(now)
        else:
            self._queued = True

    def _granted(self) -> None:
        self._queued = False
        if self._stopped:  # cancel() revokes a queued turn; should one arrive: pass it on
            self._slots.release()
            return
        self._holding = True
        self._begin(self._loop.time())

    def _begin(self, now: float) -> None:
        try:
            started = self._checker.begin(self._loop, now, self._done)
        except Exception as exc:
            started = crashed(self._probe.spec, exc)
        if isinstance(started, CheckResult):
            self._done(started)
        else:
            self._attempt = started

    def _done(self, result: CheckResult) -> None:
        self._attempt = None
        if self._holding:
            self._holding = False
            self._slots.release()
        if self._stopped:
            return
        probe = self._probe
        now = result.finished or self._loop.time()
        self._tried += 1
        if not probe.note(result, self._host.wall(now)):  # failed: again, or the verdict
            if self._tried < self._tries:
                self._timers.call_at(now + probe.spec.delay_before_retry, self._retry)
                return
            result = after_attempts(result, self._tries)
        probe.progress = now
        self._host.finish(probe, result, now)
        if probe.task is not self:  # a callback of finish() stopped this loop (a reload)
            return
        # No pile-up, no catch-up burst: a slow run pushes the next start back.
        period = max(probe.spec.period, 0.001)
        self._due = due = max(self._due + period, now)
        self._timers.call_at(due, self._wake)
