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

    HealthMonitor(..., on_stale=cb2)    # the watchdog (see lvstui.health.probe):
    cb2(key, stale: bool, reason: str)  # a check of `key` has not completed a run within
        # 2 x (period + run budget) (stale=True), or completes again (stale=False)
    mon.stale_probes() -> int           # probes stale now
    mon.take_lag() -> float             # the scheduler's worst lateness since the last call
    mon.probe_count() -> int            # probes run (after sharing) vs
    mon.check_count() -> int            # checks configured (before sharing)

Rules (keepalived's, plus the tutorial's):

- One probe per target: checks of several real servers (one server in several services)
  that resolve to an equal CheckSpec share one probe, run once per period; each result
  feeds every subscriber's own rise/fall state (see lvstui.health.probe).
- One loop per probe, period = delay_loop. A run is awaited inside its own
  loop, so two runs of one check never overlap: a slow run delays the next one (the next
  start is max(previous due + period, end of the slow run)); missed periods are skipped,
  never replayed in a burst.
- Staggered start: the first run waits `warmup`, by default a random time in [0, period),
  so 10,000 checks configured together do not fire together.
- Global concurrency cap: at most `concurrency` attempts in flight (a semaphore).
- retry / delay_before_retry: while a check is UP (for any subscriber), a failing attempt
  is retried `retry` times, `delay_before_retry` apart; the run fails only after retry + 1
  failed attempts.
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
import contextlib
import gc
import logging
import random
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

from lvstui.clock import Clock, SystemClock
from lvstui.health.base import Checker, CheckResult, CheckSpec
from lvstui.health.fastloop import CallbackLoop
from lvstui.health.probe import Probe, Subscription, after_attempts, crashed, stale_after
from lvstui.health.slots import Slots
from lvstui.health.state import advance, aggregate, initial_state
from lvstui.health.tcp import TcpChecker
from lvstui.health.timers import check_tick, coarse_sleep, timers_for
from lvstui.model import CheckView, Health

__all__ = ["HealthMonitor", "tune_gc"]

log = logging.getLogger(__name__)
LOCAL_LOG_EVERY = 10.0  # seconds between two log lines about checks that could not run
WATCHDOG_TICK = 1.0  # seconds between two sweeps of the watchdog

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


class _Real(Generic[K]):
    __slots__ = ("alpha", "health", "subs", "suspended", "weight")

    def __init__(self, alpha: bool) -> None:
        self.alpha = alpha
        self.suspended = False
        self.subs: list[Subscription[K]] = []
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
        on_stale: Callable[[K, bool, str], None] | None = None,
    ) -> None:
        self._clock = clock
        # runs that could not be made for a local reason (all checks), and when we last
        # said so in the log
        self.local_failures = 0
        self._local_logged = -LOCAL_LOG_EVERY
        self.on_local_failure = on_local_failure
        self.on_stale = on_stale
        self.stale_total = 0  # probes that went stale, ever
        self._lag = 0.0  # worst lateness since take_lag()
        self._tune_gc = tune_gc
        # The real clock sleeps on the coarse timers (cheaper with thousands of checks);
        # any other clock (FakeClock in tests) is used as it is.
        self._sleep = coarse_sleep if isinstance(clock, SystemClock) else clock.sleep
        # ... and runs TCP_CHECKs as callback loops (lvstui.health.fastloop): half the
        # event-loop iterations a run, no task step
        self._callbacks = isinstance(clock, SystemClock)
        self._wall_offset = clock.wall() - clock.now()  # refreshed by the watchdog
        self._slots = Slots(concurrency)  # the concurrency cap
        self.on_change = on_change
        self._rng = rng or random.Random()
        self._on_lateness = on_lateness
        self._reals: dict[K, _Real[K]] = {}
        self._probes: dict[CheckSpec, Probe[K]] = {}
        self._running = False
        self._stopped: asyncio.Event | None = None

    # --- registry ---------------------------------------------------------------------------

    def _subscribe(self, key: K, real: _Real[K], checker: Checker, down: bool) -> Subscription[K]:
        """Join the probe of `checker`'s spec (made from `checker` if there is none yet)."""
        spec = checker.spec
        probe = self._probes.get(spec)
        if probe is None:
            probe = self._probes[spec] = Probe(checker)
        sub = Subscription(key, probe, initial_state(down, spec.rise, spec.fall, self._clock.now()))
        sub.active = not real.suspended
        probe.subs.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription[K]) -> None:
        probe = sub.probe
        with contextlib.suppress(ValueError):
            probe.subs.remove(sub)
        if not probe.subs:
            self._cancel(probe)
            if self._probes.get(probe.spec) is probe:
                del self._probes[probe.spec]
        elif not probe.active:
            self._cancel(probe)

    def add(self, key: K, checkers: Sequence[Checker], *, alpha: bool = False) -> None:
        """Start checking a real server (replaces it if already there, keeping unchanged
        checks' state, like `update`)."""
        if key in self._reals:
            self.update(key, checkers, alpha=alpha)
            return
        real: _Real[K] = _Real(alpha)
        self._reals[key] = real
        real.subs = [self._subscribe(key, real, c, alpha) for c in checkers]
        real.health = aggregate(s.state.health for s in real.subs)
        if self._running:
            for sub in real.subs:
                self._start(sub.probe)

    def update(self, key: K, checkers: Sequence[Checker], *, alpha: bool = False) -> None:
        """Reload: checks whose resolved spec is unchanged keep their state, counters and
        schedule; removed ones stop; new ones start in the server's current health (so a
        reload alone never flips a server). May call on_change if the aggregate changes."""
        real = self._reals.get(key)
        if real is None:
            self.add(key, checkers, alpha=alpha)
            return
        real.alpha = alpha
        old = list(real.subs)
        keep: list[Subscription[K]] = []
        fresh: list[Subscription[K]] = []
        for c in checkers:
            match = next((s for s in old if s.spec == c.spec), None)
            if match is not None:
                old.remove(match)
                keep.append(match)
            else:
                fresh.append(self._subscribe(key, real, c, real.health is Health.DOWN))
        for sub in old:
            self._unsubscribe(sub)
        real.subs = keep + fresh
        if self._running and not real.suspended:
            for sub in fresh:
                self._start(sub.probe)
        self._reaggregate(key, real, "configuration reloaded")

    def remove(self, key: K) -> None:
        real = self._reals.pop(key, None)
        if real is not None:
            for sub in real.subs:
                self._unsubscribe(sub)

    def keys(self) -> list[K]:
        return list(self._reals)

    def suspend(self, key: K) -> None:
        """Stop running `key`'s checks (ha_suspend) until `resume`; its checks keep their
        last state, so its health does not change meanwhile (a probe shared with servers
        that are not suspended keeps running for them). KeyError if unknown."""
        real = self._reals[key]
        real.suspended = True
        for sub in real.subs:
            sub.active = False
            if not sub.probe.active:
                self._cancel(sub.probe)

    def resume(self, key: K) -> None:
        """Run `key`'s checks again (each starts after its warm-up). KeyError if unknown."""
        real = self._reals[key]
        real.suspended = False
        for sub in real.subs:
            sub.active = True
            if self._running:
                self._start(sub.probe)

    def is_suspended(self, key: K) -> bool:
        real = self._reals.get(key)
        return real is not None and real.suspended

    # --- reading --------------------------------------------------------------------------

    def health(self, key: K) -> Health:
        return self._reals[key].health

    def dynamic_weight(self, key: K) -> int | None:
        return self._reals[key].weight

    def probe_count(self) -> int:
        """Probes (after sharing): what the servers receive."""
        return len(self._probes)

    def check_count(self) -> int:
        """Checks configured (before sharing)."""
        return sum(len(r.subs) for r in self._reals.values())

    def stale_probes(self) -> int:
        return sum(1 for p in self._probes.values() if p.stale)

    def take_lag(self) -> float:
        """The scheduler's worst lateness (a run started after its due time) since the last
        call, in seconds: the event loop or the concurrency cap falling behind."""
        lag, self._lag = self._lag, 0.0
        return lag

    def views(self, key: K) -> tuple[CheckView, ...]:
        real = self._reals.get(key)
        if real is None:
            return ()
        out = []
        for sub in real.subs:
            p = sub.probe
            out.append(
                CheckView(
                    kind=p.spec.kind.value,
                    target=p.spec.describe(),
                    health=sub.state.health if (p.runs or real.alpha) else Health.UNKNOWN,
                    last_run=p.last_run,
                    last_ok=p.last_ok,
                    last_reason=p.last_reason,
                    last_latency=p.last_latency,
                    period=p.spec.period,
                    runs=p.runs,
                    failures=p.failures,
                    unknown=p.unknown,
                    shared=len(p.subs),
                    stale=p.stale,
                )
            )
        return tuple(out)

    # --- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run every check until `stop()` (or cancellation); then stop every loop."""
        self._stopped = asyncio.Event()
        self._running = True
        for probe in self._probes.values():
            self._start(probe)
        watchdog = asyncio.get_running_loop().create_task(self._watchdog(), name="watchdog")
        if self._tune_gc:
            await asyncio.sleep(0)  # let every loop take its first step, then freeze them
            tune_gc()
        try:
            await self._stopped.wait()
        finally:
            self._running = False
            watchdog.cancel()
            tasks = [p.task for p in self._probes.values() if isinstance(p.task, asyncio.Task)]
            for p in self._probes.values():
                self._cancel(p)
            for t in [*tasks, watchdog]:
                with contextlib.suppress(asyncio.CancelledError):
                    await t

    def stop(self) -> None:
        if self._stopped is not None:
            self._stopped.set()

    def _start(self, probe: Probe[K]) -> None:
        if probe.task is not None or not probe.active:
            return
        loop = asyncio.get_running_loop()
        checker = probe.checker
        if self._callbacks and isinstance(checker, TcpChecker):
            spec = probe.spec
            warm = spec.warmup if spec.warmup is not None else self._rng.uniform(0.0, spec.period)
            due = loop.time() + max(0.0, warm)
            timers = timers_for(loop, check_tick(spec.period))
            probe.task = CallbackLoop(self, self._slots, probe, checker, timers, due)
            return
        probe.task = loop.create_task(self._loop(probe), name=f"check {probe.spec.describe()}")

    def _cancel(self, probe: Probe[K]) -> None:
        if probe.task is not None:
            probe.task.cancel()
            probe.task = None
        probe.progress = None  # not running: nothing for the watchdog to expect
        if probe.stale:
            self._set_stale(probe, False, "stopped")

    async def _loop(self, probe: Probe[K]) -> None:
        clock = self._clock
        spec = probe.spec
        period = max(spec.period, 0.001)
        warm = spec.warmup if spec.warmup is not None else self._rng.uniform(0.0, period)
        due = clock.now() + max(0.0, warm)
        probe.progress = due  # the watchdog counts from the first due time
        while True:
            delay = due - clock.now()
            if delay > 0:
                await self._sleep(delay)
            self.late(clock.now() - due)
            result = await self._attempts(probe)
            probe.progress = clock.now()
            self._record(probe, result)
            # No pile-up, no catch-up burst: a slow run pushes the next start back.
            due = max(due + period, clock.now())

    async def _attempts(self, probe: Probe[K]) -> CheckResult:
        spec = probe.spec
        tries = probe.tries()
        slots = self._slots
        result: CheckResult | None = None
        for i in range(tries):
            if i:
                await self._sleep(spec.delay_before_retry)
            if slots.full():
                await slots.wait_turn()
            else:
                slots.in_flight += 1
            try:
                result = await probe.checker.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                result = crashed(spec, exc)
            finally:
                slots.release()
            if probe.note(result, self._clock.wall()):
                return result  # passed, or unknown: retrying now would hit the same wall
        assert result is not None
        return after_attempts(result, tries)

    # --- what a CallbackLoop asks of its host (lvstui.health.fastloop.LoopHost) -----------

    def late(self, late: float) -> None:
        if late > self._lag:
            self._lag = late
        if self._on_lateness is not None:
            self._on_lateness(late)

    def wall(self, mono: float) -> float:
        return mono + self._wall_offset

    def finish(self, probe: Probe[K], result: CheckResult, now: float) -> None:
        self._record(probe, result, now)

    def _record(self, probe: Probe[K], result: CheckResult, now: float | None = None) -> None:
        if result.local:
            self._local_failure(probe, result.reason)
            return  # unknown: every verdict stays what it was
        if now is None:
            now = self._clock.now()
        dynamic = probe.dynamic
        subs = probe.subs
        # a callback below may unsubscribe (a reload from on_change): walk a copy then
        for sub in subs if len(subs) == 1 else list(subs):
            if not sub.active:
                continue  # suspended: keeps its last state
            state, transition = advance(sub.state, result.ok, now)
            sub.state = state
            if dynamic and result.ok:
                sub.dyn_weight = result.weight
            if transition is None and not dynamic:
                continue  # the common case: nothing to tell anyone
            real = self._reals.get(sub.key)
            if real is not None:
                what = f"{probe.spec.kind.value} {probe.spec.describe()}: {result.reason}"
                self._reaggregate(sub.key, real, what)

    def _local_failure(self, probe: Probe[K], reason: str) -> None:
        self.local_failures += 1
        now = self._clock.now()
        # with a callback (the daemon's: an engine event, which is logged) it says so
        if self.on_local_failure is None and now - self._local_logged >= LOCAL_LOG_EVERY:
            self._local_logged = now
            log.warning(
                "check %s could not run (%s); %d run(s) unknown so far: servers keep their "
                "health (raise LimitNOFILE, or fewer connections)",
                probe.spec.describe(),
                reason,
                self.local_failures,
            )
        if self.on_local_failure is not None:
            for sub in [s for s in probe.subs if s.active]:
                try:
                    self.on_local_failure(sub.key, f"{probe.spec.describe()}: {reason}")
                except Exception:
                    log.exception("health on_local_failure callback failed")

    # --- watchdog ---------------------------------------------------------------------------

    async def _watchdog(self) -> None:
        while True:
            await self._sleep(WATCHDOG_TICK)
            self._wall_offset = self._clock.wall() - self._clock.now()
            self.sweep_stale()

    def sweep_stale(self) -> None:
        """Mark stale the probes without a completed run within stale_after(spec), and
        clear the ones that completed one since (the watchdog calls it every tick). One
        log line a sweep, however many changed: a stalled host must not flood the log."""
        now = self._clock.now()
        went: list[str] = []
        back: list[str] = []
        for probe in list(self._probes.values()):
            if probe.progress is None or probe.task is None:
                continue
            limit = stale_after(probe.spec)
            stale = now - probe.progress > limit
            if stale != probe.stale:
                why = (
                    f"no completed run for {now - probe.progress:.0f}s (limit {limit:g}s: "
                    "a hung checker, or starved by check_concurrency)"
                    if stale
                    else "runs again"
                )
                self._set_stale(probe, stale, why)
                (went if stale else back).append(probe.spec.describe())
        for what, names, level in (
            ("stale", went, logging.WARNING),
            ("running again", back, logging.INFO),
        ):
            if names:
                more = f" and {len(names) - 3} more" if len(names) > 3 else ""
                log.log(level, "%d check(s) %s: %s%s", len(names), what, ", ".join(names[:3]), more)

    def _set_stale(self, probe: Probe[K], stale: bool, why: str) -> None:
        probe.stale = stale
        what = f"{probe.spec.kind.value} {probe.spec.describe()}: {why}"
        if stale:
            self.stale_total += 1
        if self.on_stale is not None:
            for sub in list(probe.subs):
                try:
                    self.on_stale(sub.key, stale, what)
                except Exception:
                    log.exception("health on_stale callback failed")

    def _reaggregate(self, key: K, real: _Real[K], reason: str) -> None:
        health = aggregate(s.state.health for s in real.subs)
        dyn = [s.dyn_weight for s in real.subs if s.dynamic and s.dyn_weight is not None]
        weight = min(dyn) if dyn else None
        if health is real.health and weight == real.weight:
            return
        real.health, real.weight = health, weight
        if self.on_change is not None:
            try:
                self.on_change(key, health, weight, reason)
            except Exception:
                log.exception("health on_change callback failed")
