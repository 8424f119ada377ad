"""Health-check scale: 10,000 TCP checks a second against loopback listeners.

    .venv/bin/python bench/checks_scale.py [--checks 10000] [--period 1] [--listeners 300]
                                           [--seconds 60]

A child process owns the listeners and accepts (and closes) every connection, so the CPU
figure is the checker's alone. The parent runs `HealthMonitor` with `--checks` TCP_CHECKs,
delay_loop `--period`, random warmup, and prints:

- CPU % of one core (user + system) over the run,
- RSS now and peak,
- schedule lateness p50 / p99 / max (start time minus due time), also as % of the period,
- checks run and failed,
- a peer measured in the same run: the same connects without the scheduler (bare
  `tcp_check` calls, 1000 in flight), CPU microseconds per check, so the scheduler's own
  cost shows as the difference.

Goals (issue #3): <= 50 % of one core, RSS <= 150 MB, p99 lateness <= 5 % of the period.
Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import resource
import selectors
import socket
import sys
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lvstui.clock import SystemClock
from lvstui.config.schema import CheckCommon, RealServer, TcpCheck, VirtualServer
from lvstui.health.base import Checker, CheckResult, CheckTarget
from lvstui.health.build import build_checker
from lvstui.health.scheduler import HealthMonitor
from lvstui.health.tcp import tcp_check


def serve(ports_out: mp.connection.Connection, n: int, stop: mp.synchronize.Event) -> None:
    """Listener process: n listening sockets, accept and close as fast as possible."""
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(4096)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    ports_out.send([s.getsockname()[1] for s in socks])
    while not stop.is_set():
        for key, _ in sel.select(0.2):
            ls = key.fileobj
            assert isinstance(ls, socket.socket)
            while True:
                try:
                    c, _ = ls.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                c.close()
    for s in socks:
        s.close()


def ticker(out: mp.connection.Connection, stop: mp.synchronize.Event) -> None:
    """Peer for lateness: a bare asyncio loop in its own process, 1,000 one-millisecond
    sleeps a second, measuring how late it wakes. What it sees, the host did to every
    process; what the checker sees beyond it is the checker's own doing."""

    async def run() -> array[float]:
        late: array[float] = array("d")
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            due = loop.time() + 0.001
            await asyncio.sleep(0.001)
            late.append(loop.time() - due)
        return late

    late = asyncio.run(run())
    out.send((pct(late, 0.5), pct(late, 0.99), max(late, default=0.0)))


def rss_mb() -> tuple[float, float]:
    now = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            now = int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return now, peak


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_split() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def available_cpu(seconds: float = 1.0) -> float:
    """How much of a core a busy loop obtains: the figures below mean little if the
    machine cannot give the checker the CPU it needs."""
    t0, c0 = time.monotonic(), time.process_time()
    while time.monotonic() - t0 < seconds:
        pass
    return 100 * (time.process_time() - c0) / (time.monotonic() - t0)


def pct(values: array[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    return s[min(len(s) - 1, int(q * len(s)))]


async def monitored(
    ports: list[int], checks: int, period: float, seconds: float, tune: bool
) -> None:
    # lateness of the first period (10,000 loops starting at once) is reported apart
    lateness: array[float] = array("d")
    startup: array[float] = array("d")
    steady_from = [float("inf")]

    def record(late: float) -> None:
        (lateness if time.monotonic() >= steady_from[0] else startup).append(late)

    mon: HealthMonitor[int] = HealthMonitor(
        SystemClock(),
        concurrency=1000,
        rng=random.Random(1),
        on_lateness=record,
        tune_gc=tune,
    )
    vs = VirtualServer("192.0.2.9", 80, delay_loop=period)
    common = CheckCommon(connect_timeout=1.0)
    latencies: array[float] = array("d")

    class Timed:
        """Records each check's duration (a slow connect shows here, not as lateness)."""

        __slots__ = ("inner", "spec")

        def __init__(self, inner: Checker) -> None:
            self.inner = inner
            self.spec = inner.spec

        async def run(self) -> CheckResult:
            r = await self.inner.run()
            latencies.append(r.latency)
            return r

    for i in range(checks):
        real = RealServer("127.0.0.1", ports[i % len(ports)])
        mon.add(i, [Timed(build_checker(TcpCheck(common), real, vs))])
    rss0, _ = rss_mb()
    task = asyncio.create_task(mon.run())
    u0, s0 = cpu_split()
    t0, c0 = time.monotonic(), cpu()
    steady_from[0] = t0 + period
    await asyncio.sleep(seconds)
    t1, c1 = time.monotonic(), cpu()
    u1, s1 = cpu_split()
    mon.stop()
    await task
    rss_now, rss_peak = rss_mb()
    runs = failures = 0
    for i in range(checks):
        for v in mon.views(i):
            runs += v.runs
            failures += v.failures
    wall = t1 - t0
    p50, p99, worst = pct(lateness, 0.50), pct(lateness, 0.99), max(lateness, default=0.0)
    cpu_pct = 100 * (c1 - c0) / wall
    print(f"checks configured      : {checks} (delay_loop {period:g}s, {len(ports)} listeners,"
          f" gc {'tuned' if tune else 'default'})")  # fmt: skip
    print(f"run                    : {wall:.1f}s, {runs} checks ({runs / wall:,.0f}/s), "
          f"{failures} failed")  # fmt: skip
    print(f"CPU                    : {cpu_pct:.1f} % of one core "
          f"({1e6 * (c1 - c0) / max(runs, 1):.1f} us per check; user {100 * (u1 - u0) / wall:.0f} %"
          f", system {100 * (s1 - s0) / wall:.0f} %)")  # fmt: skip
    rate = checks / period
    per_check = (c1 - c0) / max(runs, 1)
    print(f"CPU at the full rate   : {100 * per_check * rate:.1f} % of one core for {rate:,.0f}"
          " checks/s (CPU per check x configured rate)")  # fmt: skip
    print(f"RSS                    : {rss_now:.0f} MB now, {rss_peak:.0f} MB peak "
          f"(after setup {rss0:.0f} MB)")  # fmt: skip
    print(f"lateness p50 / p99 / max: {1000 * p50:.2f} / {1000 * p99:.2f} / {1000 * worst:.2f} ms"
          f" = {100 * p50 / period:.2f} % / {100 * p99 / period:.2f} % / "
          f"{100 * worst / period:.1f} % of the period")  # fmt: skip
    d50, d99 = 1000 * pct(latencies, 0.5), 1000 * pct(latencies, 0.99)
    print(f"check duration p50 / p99 / max: {d50:.2f} / {d99:.2f} / "
          f"{1000 * max(latencies, default=0):.1f} ms")  # fmt: skip
    print(f"  first period (startup): p99 {1000 * pct(startup, 0.99):.1f} ms, "
          f"max {1000 * max(startup, default=0.0):.1f} ms")  # fmt: skip
    ok = cpu_pct <= 50 and rss_peak <= 150 and p99 <= 0.05 * period
    print(f"goals (<=50 % core, <=150 MB, p99 <=5 %): {'met' if ok else 'NOT met'}")


async def bare(ports: list[int], n: int) -> None:
    """Peer: the same connects, no scheduler: 1000 in flight, CPU per check."""
    targets = [CheckTarget("127.0.0.1", ports[i % len(ports)]) for i in range(1000)]
    sem = asyncio.Semaphore(1000)

    async def one(t: CheckTarget) -> bool:
        async with sem:
            return (await tcp_check(t, 1.0)).ok

    c0, t0 = cpu(), time.monotonic()
    done = 0
    fails = 0
    while done < n:
        res = await asyncio.gather(*(one(t) for t in targets))
        done += len(res)
        fails += res.count(False)
    c1, t1 = cpu(), time.monotonic()
    print(f"peer (bare tcp_check)  : {n} connects in {t1 - t0:.2f}s, "
          f"{1e6 * (c1 - c0) / n:.1f} us CPU per check, {fails} failed")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checks", type=int, default=10_000)
    ap.add_argument("--period", type=float, default=1.0)
    ap.add_argument("--listeners", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument(
        "--no-tune-gc", action="store_true", help="leave the garbage collector as it is"
    )
    args = ap.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    parent_end, child_end = ctx.Pipe()
    child = ctx.Process(target=serve, args=(child_end, args.listeners, stop), daemon=True)
    child.start()
    try:
        ports: list[int] = parent_end.recv()
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, pid {os.getpid()}, "
              f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        print(f"CPU available          : a busy loop gets {available_cpu():.0f} % of one core "
              "right now (a shared machine gives less than 100)")  # fmt: skip
        tick_stop = ctx.Event()
        tick_out, tick_in = ctx.Pipe()
        tick = ctx.Process(target=ticker, args=(tick_in, tick_stop), daemon=True)
        tick.start()
        try:
            asyncio.run(
                monitored(ports, args.checks, args.period, args.seconds, not args.no_tune_gc)
            )
        finally:
            tick_stop.set()
            p50, p99, worst = tick_out.recv() if tick_out.poll(10) else (0.0, 0.0, 0.0)
            tick.join(5)
        print(f"peer: bare asyncio timer lateness in another process, same time: "
              f"p50 {1000 * p50:.2f} / p99 {1000 * p99:.2f} / "
              f"max {1000 * worst:.1f} ms")  # fmt: skip
        asyncio.run(bare(ports, 20_000))
    finally:
        stop.set()
        child.join(5)
        if child.is_alive():
            child.kill()
            child.join()
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"listener process       : {r.ru_utime + r.ru_stime:.1f}s CPU in total (not counted above)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
