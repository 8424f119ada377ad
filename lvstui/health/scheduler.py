"""HealthMonitor: runs every check of every real server on its period, and reports changes.

API (what the engine uses)::

    mon = HealthMonitor(clock, concurrency=cfg.lvstui.check_concurrency, on_change=cb)
    mon.add(key, build_checkers(real, vs), alpha=vs.alpha)   # key: any hashable, e.g.
                                                             # (ServiceKey, RealKey)
    mon.health(key) -> Health          # current aggregate (UP/DOWN), right after add too
    mon.dynamic_weight(key) -> int | None   # misc_dynamic's weight (None: configured one)
    mon.views(key) -> tuple[CheckView, ...]  # per check: last run/result/latency, counts
    mon.update(key, checkers, alpha=...)     # reload: unchanged checks keep state and timing
    mon.remove(key)
    mon.suspend(key) / mon.resume(key) / mon.is_suspended(key)   # ha_suspend: a suspended
                           # server's checks do not run; it keeps its last state and health
    await mon.run()        # until mon.stop(); add/update/remove work before and during
    mon.stop()

    HealthMonitor(..., tune_gc=True)   # a process running thousands of checks: run()
                           # calls tune_gc() once the loops have started (see its docstring)

    cb(key, health: Health, weight: int | None, reason: str)  # called on transitions only:
        # when the aggregate health or the misc_dynamic weight of a real server changes.
        # weight is the misc_dynamic weight (None: use the configured weight); feed both to
        # lvstui.health.weight.effective_weight.

Rules (keepalived's, plus the tutorial's):

- One loop per (real server, check), period = delay_loop. A run is awaited inside its own
  loop, so two runs of one check never overlap: a slow run delays the next one (the next
  start is max(previous due + period, end of the slow run)); missed periods are skipped,
  never replayed in a burst.
- Staggered start: the first run waits `warmup`, by default a random time in [0, period),
  so 10,000 checks configured together do not fire together.
- Global concurrency cap: at most `concurrency` attempts in flight (a semaphore).
- retry / delay_before_retry: while a check is UP, a failing attempt is retried `retry`
  times, `delay_before_retry` apart; the run fails only after retry + 1 failed attempts.
  While it is DOWN one attempt decides (a single pass brings it back, like keepalived).
- rise / fall on the runs' final results (pure: lvstui.health.state.advance); alpha: checks
  start DOWN until proven up; without alpha they start UP.
- A real server is UP when all its checks are UP.
- A run that could not be made for a reason on this host (out of descriptors, buffers,
  memory or processes: `lvstui.health.base.is_local_failure`) is *unknown*: not retried,
  not counted as a failure, no effect on rise/fall. It is counted (`CheckView.unknown`,
  the metric `lvstui_check_unknown_total`), logged (at most every `LOCAL_LOG_EVERY`
  seconds) and reported to `on_local_failure(key, reason)`. Running out of descriptors
  must never look like every real server dying at once (issue 10: quorum lost on EMFILE).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import logging
import random
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

from lvstui.clock import Clock, SystemClock
from lvstui.health.base import Checker, CheckResult, CheckSpec, is_local_failure
from lvstui.health.state import CheckState, advance, aggregate, initial_state
from lvstui.health.timers import coarse_sleep
from lvstui.health.weight import sets_weight
from lvstui.model import CheckView, Health

__all__ = ["HealthMonitor", "tune_gc"]

log = logging.getLogger(__name__)
LOCAL_LOG_EVERY = 10.0  # seconds between two log lines about checks that could not run

K = TypeVar("K", bound=Hashable)


def tune_gc(gen0_threshold: int = 20_000) -> None:
    """Make the cyclic garbage collector cheap for a process running thousands of checks.

    Every check sleeps a period between runs; the objects of that sleep (a future, a timer
    handle) outlive several young collections, get promoted, and the full collections that
    follow walk every long-lived object: pauses of 50-130 ms with 5,000 checks a second
    (measured), which show up as schedule lateness. Freezing what exists once the
    configuration is loaded (the slots, tasks and config objects never die) and collecting
    the young generation less often removes most of it. It changes process-wide settings,
    so it is the daemon's choice: `HealthMonitor(tune_gc=True)` calls it in `run()` once
    every check loop has started (the loops' own objects live as long as the config).
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0_threshold, gc.get_threshold()[0]), gen1, gen2)


class _Slot:
    """One (real server, check) pair: its state, counters and loop task."""

    __slots__ = (
        "checker",
        "dyn_weight",
        "failures",
        "last_latency",
        "last_ok",
        "last_reason",
        "last_run",
        "runs",
        "spec",
        "state",
        "task",
        "unknown",
    )

    def __init__(self, checker: Checker, state: CheckState) -> None:
        self.checker = checker
        self.spec: CheckSpec = checker.spec
        self.state = state
        self.task: asyncio.Task[None] | None = None
        self.runs = 0  # attempts
        self.failures = 0  # failed attempts
        self.unknown = 0  # attempts that could not be made (local reason)
        # the last attempt, as plain values: a CheckResult kept for a whole period by
        # every check would be 10,000 more objects for the garbage collector to walk
        self.last_ok: bool | None = None
        self.last_reason = ""
        self.last_latency: float | None = None
        self.last_run: float | None = None  # wall time
        self.dyn_weight: int | None = None

    @property
    def dynamic(self) -> bool:
        return sets_weight(self.spec.check)


class _Real:
    __slots__ = ("alpha", "health", "slots", "suspended", "weight")

    def __init__(self, alpha: bool) -> None:
        self.alpha = alpha
        self.suspended = False
        self.slots: list[_Slot] = []
        self.health = Health.DOWN if alpha else Health.UP
        self.weight: int | None = None


class HealthMonitor(Generic[K]):
    def __init__(
        self,
        clock: Clock,
        concurrency: int = 1000,
        on_change: Callable[[K, Health, int | None, str], None] | None = None,
        *,
        rng: random.Random | None = None,
        on_lateness: Callable[[float], None] | None = None,
        tune_gc: bool = False,
        on_local_failure: Callable[[K, str], None] | None = None,
    ) -> None:
        self._clock = clock
        # runs that could not be made for a local reason (all checks), and when we last
        # said so in the log
        self.local_failures = 0
        self._local_logged = -LOCAL_LOG_EVERY
        self.on_local_failure = on_local_failure
        self._tune_gc = tune_gc
        # The real clock sleeps on the coarse timers (cheaper with thousands of checks);
        # any other clock (FakeClock in tests) is used as it is.
        self._sleep = coarse_sleep if isinstance(clock, SystemClock) else clock.sleep
        # the concurrency cap: a counter and a FIFO of waiters (asyncio.Semaphore costs a
        # generator expression per acquire; this path runs thousands of times a second)
        self._cap = max(1, concurrency)
        self._in_flight = 0
        self._woken = 0  # waiters handed a slot, not running yet
        self._slot_waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self.on_change = on_change
        self._rng = rng or random.Random()
        self._on_lateness = on_lateness
        self._reals: dict[K, _Real] = {}
        self._running = False
        self._stopped: asyncio.Event | None = None

    # --- registry ---------------------------------------------------------------------------

    def add(self, key: K, checkers: Sequence[Checker], *, alpha: bool = False) -> None:
        """Start checking a real server (replaces it if already there, keeping unchanged
        checks' state, like `update`)."""
        if key in self._reals:
            self.update(key, checkers, alpha=alpha)
            return
        real = _Real(alpha)
        now = self._clock.now()
        for c in checkers:
            real.slots.append(_Slot(c, initial_state(alpha, c.spec.rise, c.spec.fall, now)))
        real.health = aggregate(s.state.health for s in real.slots)
        self._reals[key] = real
        if self._running:
            for s in real.slots:
                self._start(key, real, s)

    def update(self, key: K, checkers: Sequence[Checker], *, alpha: bool = False) -> None:
        """Reload: checks whose resolved spec is unchanged keep their state, counters and
        schedule; removed ones stop; new ones start in the server's current health (so a
        reload alone never flips a server). May call on_change if the aggregate changes."""
        real = self._reals.get(key)
        if real is None:
            self.add(key, checkers, alpha=alpha)
            return
        real.alpha = alpha
        old = list(real.slots)
        keep: list[_Slot] = []
        fresh: list[_Slot] = []
        now = self._clock.now()
        for c in checkers:
            match = next((s for s in old if s.spec == c.spec), None)
            if match is not None:
                old.remove(match)
                keep.append(match)
            else:
                st = initial_state(real.health is Health.DOWN, c.spec.rise, c.spec.fall, now)
                fresh.append(_Slot(c, st))
        for s in old:
            self._cancel(s)
        real.slots = keep + fresh
        if self._running and not real.suspended:
            for s in fresh:
                self._start(key, real, s)
        self._reaggregate(key, real, "configuration reloaded")

    def remove(self, key: K) -> None:
        real = self._reals.pop(key, None)
        if real is not None:
            for s in real.slots:
                self._cancel(s)

    def keys(self) -> list[K]:
        return list(self._reals)

    def suspend(self, key: K) -> None:
        """Stop running `key`'s checks (ha_suspend) until `resume`; its checks keep their
        last state, so its health does not change meanwhile. KeyError if unknown."""
        real = self._reals[key]
        real.suspended = True
        for s in real.slots:
            self._cancel(s)

    def resume(self, key: K) -> None:
        """Run `key`'s checks again (each starts after its warm-up). KeyError if unknown."""
        real = self._reals[key]
        real.suspended = False
        if self._running:
            for s in real.slots:
                self._start(key, real, s)

    def is_suspended(self, key: K) -> bool:
        real = self._reals.get(key)
        return real is not None and real.suspended

    # --- reading --------------------------------------------------------------------------

    def health(self, key: K) -> Health:
        return self._reals[key].health

    def dynamic_weight(self, key: K) -> int | None:
        return self._reals[key].weight

    def views(self, key: K) -> tuple[CheckView, ...]:
        real = self._reals.get(key)
        if real is None:
            return ()
        out = []
        for s in real.slots:
            out.append(
                CheckView(
                    kind=s.spec.kind.value,
                    target=s.spec.describe(),
                    health=s.state.health if (s.runs or real.alpha) else Health.UNKNOWN,
                    last_run=s.last_run,
                    last_ok=s.last_ok,
                    last_reason=s.last_reason,
                    last_latency=s.last_latency,
                    period=s.spec.period,
                    runs=s.runs,
                    failures=s.failures,
                    unknown=s.unknown,
                )
            )
        return tuple(out)

    # --- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run every check until `stop()` (or cancellation); then stop every loop."""
        self._stopped = asyncio.Event()
        self._running = True
        for key, real in self._reals.items():
            for s in real.slots if not real.suspended else ():
                self._start(key, real, s)
        if self._tune_gc:
            await asyncio.sleep(0)  # let every loop take its first step, then freeze them
            tune_gc()
        try:
            await self._stopped.wait()
        finally:
            self._running = False
            tasks = [s.task for r in self._reals.values() for s in r.slots if s.task]
            for r in self._reals.values():
                for s in r.slots:
                    self._cancel(s)
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t

    def stop(self) -> None:
        if self._stopped is not None:
            self._stopped.set()

    def _start(self, key: K, real: _Real, slot: _Slot) -> None:
        if slot.task is None:
            slot.task = asyncio.get_running_loop().create_task(
                self._loop(key, real, slot), name=f"check {slot.spec.describe()}"
            )

    @staticmethod
    def _cancel(slot: _Slot) -> None:
        if slot.task is not None:
            slot.task.cancel()
            slot.task = None

    async def _loop(self, key: K, real: _Real, slot: _Slot) -> None:
        clock = self._clock
        spec = slot.spec
        period = max(spec.period, 0.001)
        warm = spec.warmup if spec.warmup is not None else self._rng.uniform(0.0, period)
        due = clock.now() + max(0.0, warm)
        while True:
            delay = due - clock.now()
            if delay > 0:
                await self._sleep(delay)
            if self._on_lateness is not None:
                self._on_lateness(clock.now() - due)
            result = await self._attempts(slot)
            self._record(key, real, slot, result)
            # No pile-up, no catch-up burst: a slow run pushes the next start back.
            due = max(due + period, clock.now())

    async def _attempts(self, slot: _Slot) -> CheckResult:
        spec = slot.spec
        tries = spec.retry + 1 if slot.state.health is Health.UP else 1
        result: CheckResult | None = None
        for i in range(tries):
            if i:
                await self._sleep(spec.delay_before_retry)
            if self._in_flight + self._woken >= self._cap or self._slot_waiters:
                await self._wait_turn()
            self._in_flight += 1
            try:
                result = await slot.checker.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_local_failure(exc):
                    result = CheckResult(
                        False, f"unknown: cannot check from here: {exc}", local=True
                    )
                else:  # a checker bug must not kill its loop
                    log.exception("checker %s crashed", spec.describe())
                    result = CheckResult(False, f"checker error: {exc!r}")
            finally:
                self._in_flight -= 1
                self._next_turn()
            slot.runs += 1
            slot.last_reason = result.reason
            slot.last_latency = result.latency
            slot.last_run = self._clock.wall()
            if result.local:
                slot.unknown += 1
                slot.last_ok = None  # neither passed nor failed
                return result  # retrying now would hit the same wall
            slot.last_ok = result.ok
            if result.ok:
                return result
            slot.failures += 1
        assert result is not None
        if tries > 1:
            result = CheckResult(
                False,
                f"{result.reason} (after {tries} attempts)",
                result.latency,
                result.weight,
                result.started,
                result.finished,
            )
        return result

    async def _wait_turn(self) -> None:
        """Wait (FIFO) until an attempt slot is free. On return the caller takes it.

        The waker pops the waiter and counts it in `_woken` (a reserved slot) until the
        waiter runs; so each release costs O(1), whatever the queue's length."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._slot_waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._woken -= 1  # handed a turn we will not use: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._slot_waiters.remove(fut)  # rare: a check removed while queued
            self._next_turn()
            raise
        self._woken -= 1  # no await between this and the caller taking the slot

    def _next_turn(self) -> None:
        waiters = self._slot_waiters
        while waiters and self._in_flight + self._woken < self._cap:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                self._woken += 1

    def _record(self, key: K, real: _Real, slot: _Slot, result: CheckResult) -> None:
        if self._reals.get(key) is not real:
            return  # removed or replaced while running
        if result.local:
            self._local_failure(key, slot, result.reason)
            return  # unknown: the verdict stays what it was
        state, transition = advance(slot.state, result.ok, self._clock.now())
        slot.state = state
        dynamic = slot.dynamic
        if dynamic and result.ok:
            slot.dyn_weight = result.weight
        if transition is None and not dynamic:
            return  # the common case: nothing to tell anyone
        what = f"{slot.spec.kind.value} {slot.spec.describe()}: {result.reason}"
        self._reaggregate(key, real, what)

    def _local_failure(self, key: K, slot: _Slot, reason: str) -> None:
        self.local_failures += 1
        now = self._clock.now()
        if now - self._local_logged >= LOCAL_LOG_EVERY:
            self._local_logged = now
            log.warning(
                "check %s could not run (%s); %d run(s) unknown so far: servers keep their "
                "health (raise LimitNOFILE, or fewer connections)",
                slot.spec.describe(),
                reason,
                self.local_failures,
            )
        if self.on_local_failure is not None:
            try:
                self.on_local_failure(key, f"{slot.spec.describe()}: {reason}")
            except Exception:
                log.exception("health on_local_failure callback failed")

    def _reaggregate(self, key: K, real: _Real, reason: str) -> None:
        health = aggregate(s.state.health for s in real.slots)
        dyn = [s.dyn_weight for s in real.slots if s.dynamic and s.dyn_weight is not None]
        weight = min(dyn) if dyn else None
        if health is real.health and weight == real.weight:
            return
        real.health, real.weight = health, weight
        if self.on_change is not None:
            try:
                self.on_change(key, health, weight, reason)
            except Exception:
                log.exception("health on_change callback failed")
