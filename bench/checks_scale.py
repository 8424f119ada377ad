"""Health-check scale: 10,000 TCP checks a second against loopback listeners.

    .venv/bin/python bench/checks_scale.py [--checks 10000] [--period 1] [--listeners 300]
                                           [--seconds 60] [--keepalived]

With --keepalived, keepalived's own checker (`keepalived -C`) runs the same checks, at the
same time, against as many listeners of its own in the same listener process, and both are
measured over the same window the same way on the server side (measuring one after the
other let the load of a shared host, which changes from one half-minute to the next, decide
the comparison); keepalived's checker needs IPVS, so run that inside the IPVS guest:

    IPVSVM_KERNEL=tests/vm/uml-kernel IPVSVM_MEM=1G IPVSVM_TIMEOUT=900 \
        ../shared/tools/run-in-ipvs-vm.sh .venv/bin/python bench/checks_scale.py --keepalived

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

- with --keepalived, side by side over one window, both counted by the listeners: probes
  received, CPU
  per probe (lvstui: this process; keepalived: its checker and parent processes, from
  /proc), and lateness as the listeners see it (interval between two probes of one target
  minus the period).

Each check has a target of its own (listener port, or an explicit warmup when there are
fewer listeners than checks): lvstui runs checks of equal targets as one probe, so
10,000 checks on 300 equal targets would be 300 probes, not the load this measures.

Goals (issue #3): <= 50 % of one core, RSS <= 150 MB, p99 lateness <= 5 % of the period;
issue 14: lvstui's CPU per check <= keepalived's. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import random
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lvstui.clock import SystemClock
from lvstui.config.schema import CheckCommon, RealServer, TcpCheck, VirtualServer
from lvstui.health.base import Cancellable, CheckResult, CheckTarget
from lvstui.health.build import build_checker
from lvstui.health.scheduler import HealthMonitor
from lvstui.health.tcp import TcpChecker, tcp_check


def serve(
    ports_out: mp.connection.Connection,
    n: int,
    stop: mp.synchronize.Event,
    control: mp.connection.Connection,
) -> None:
    """Listener process: n listening sockets, accept and close as fast as possible.

    `control` takes ("start", (period, split)) (record every accept's time, per listener)
    and "report" (answer, for the listeners below `split` and for the rest: (probes,
    [interval - period per consecutive pair]), and stop recording)."""
    sel = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(4096)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, len(socks))
        socks.append(s)
    sel.register(control, selectors.EVENT_READ, -1)
    ports_out.send([s.getsockname()[1] for s in socks])
    recording = False
    period = 1.0
    split = n
    last: dict[int, float] = {}
    gaps: list[array[float]] = [array("d"), array("d")]
    probes = [0, 0]
    while not stop.is_set():
        for key, _ in sel.select(0.2):
            if key.data == -1:
                cmd, arg = control.recv()
                if cmd == "start":
                    recording, (period, split) = True, arg
                    last.clear()
                    gaps = [array("d"), array("d")]
                    probes = [0, 0]
                elif cmd == "report":
                    recording = False
                    control.send([(probes[h], gaps[h].tolist()) for h in (0, 1)])
                continue
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
                if recording:
                    now = time.monotonic()
                    half = int(key.data >= split)
                    probes[half] += 1
                    prev = last.get(key.data)
                    if prev is not None:
                        gaps[half].append(now - prev - period)
                    last[key.data] = now
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


Side = tuple[str, float, float, float, list[float]]  # name, probes/s, CPU s, wall, gaps


def server_side(control: mp.connection.Connection) -> list[tuple[int, list[float]]]:
    """Probes and gaps of each half of the listeners (lvstui's, keepalived's)."""
    control.send(("report", None))
    return [(int(p), list(g)) for p, g in control.recv()]


class Keepalived:
    """keepalived's checker (`keepalived -C`) running the same checks on its own listeners,
    measured in the same window as lvstui (so both see the same host: on a shared machine
    the load changes from one half-minute to the next)."""

    def __init__(self, ports: list[int], checks: int, period: float) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.child = 0
        self.why = ""
        exe = shutil.which("keepalived")
        if exe is None:
            self.why = "no keepalived on PATH; apt keepalived"
            return
        self.dir = d = Path(tempfile.mkdtemp(prefix="health-bench-ka-"))
        conf = d / "keepalived.conf"
        conf.write_text(keepalived_conf(ports, checks, period))
        pid, cpid = d / "keepalived.pid", d / "checkers.pid"
        self.logf = (d / "log").open("wb")
        self.proc = subprocess.Popen(
            [exe, "-C", "-n", "-l", "-f", str(conf), "-p", str(pid), "-c", str(cpid)],
            stdout=self.logf,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                self.child = int(cpid.read_text().strip() or 0)
            except (OSError, ValueError):
                self.child = 0
            if self.child:
                break
            time.sleep(0.1)
        time.sleep(2 * period + 2)  # programming IPVS, then the warm-up period
        if not self.alive():
            last = (d / "log").read_text(errors="replace").strip().splitlines()[-3:]
            self.why = (
                f"its checker did not run: {' / '.join(last)}; it needs IPVS: run in the guest,"
                " see the docstring"
            )

    def alive(self) -> bool:
        return (
            self.proc is not None
            and self.proc.poll() is None
            and bool(self.child)
            and Path(f"/proc/{self.child}").exists()
        )

    def cpu(self) -> float:
        """CPU seconds of its parent and checker processes."""
        if self.proc is None:
            return 0.0
        return _proc_cpu(self.child) + _proc_cpu(self.proc.pid)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.child:  # its checker process must not outlive the run (it was ours)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child, signal.SIGKILL)
        self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)


async def monitored(
    ports: list[int],
    checks: int,
    period: float,
    seconds: float,
    tune: bool,
    control: mp.connection.Connection,
    peer: Keepalived | None = None,
) -> list[Side]:
    # lateness of the first period (10,000 loops starting at once) is reported apart
    lateness: array[float] = array("d")
    startup: array[float] = array("d")
    steady = [False]  # set once the first period is over (no clock read a run: in the
    # guest a clock read is a system call, which the instrument would add to every run)

    def record(late: float) -> None:
        (lateness if steady[0] else startup).append(late)

    mon: HealthMonitor[int] = HealthMonitor(
        SystemClock(),
        concurrency=1000,
        rng=random.Random(1),
        on_lateness=record,
        tune_gc=tune,
    )
    vs = VirtualServer("192.0.2.9", 80, delay_loop=period)
    rng = random.Random(2)
    latencies: array[float] = array("d")

    class Timed(TcpChecker):
        """Records each check's duration (a slow connect shows here, not as lateness); a
        TcpChecker still, so the monitor runs it as it runs TCP_CHECKs (callback loops)."""

        __slots__ = ()

        async def run(self) -> CheckResult:
            r = await super().run()
            latencies.append(r.latency)
            return r

        def begin(
            self,
            loop: asyncio.AbstractEventLoop,
            started: float,
            done: Callable[[CheckResult], None],
        ) -> CheckResult | Cancellable:
            def timed(r: CheckResult) -> None:
                latencies.append(r.latency)
                done(r)

            r = super().begin(loop, started, timed)
            if isinstance(r, CheckResult):
                latencies.append(r.latency)
            return r

    for i in range(checks):
        real = RealServer("127.0.0.1", ports[i % len(ports)])
        # a target of its own per check (see the module docstring): the port, else the warmup
        warm = rng.uniform(0.0, period) if len(ports) < checks else None
        common = CheckCommon(connect_timeout=1.0, warmup=warm)
        mon.add(i, [Timed(build_checker(TcpCheck(common), real, vs).spec)])
    assert mon.probe_count() == checks, "checks would share probes: not the load to measure"
    rss0, _ = rss_mb()
    task = asyncio.create_task(mon.run())
    u0, s0 = cpu_split()
    t0, c0 = time.monotonic(), cpu()
    await asyncio.sleep(period)  # the first period (every loop starting) is not measured
    steady[0] = True
    control.send(("start", (period, len(ports))))
    w0, cw0, kw0 = time.monotonic(), cpu(), peer.cpu() if peer else 0.0
    await asyncio.sleep(seconds - period)
    (probes, gaps), (ka_probes, ka_gaps) = server_side(control)
    w1, cw1, kw1 = time.monotonic(), cpu(), peer.cpu() if peer else 0.0
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
    sides: list[Side] = [("lvstui", probes / (w1 - w0), cw1 - cw0, w1 - w0, gaps)]
    if peer is not None:
        if peer.alive():
            sides.append(("keepalived -C", ka_probes / (w1 - w0), kw1 - kw0, w1 - w0, ka_gaps))
        else:
            print("keepalived peer        : its checker died during the run")
    return sides


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process, from /proc (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def keepalived_conf(ports: list[int], checks: int, period: float) -> str:
    """The same checks for keepalived: TCP_CHECK, connect_timeout 1, delay_loop `period`,
    warmup random in [0, delay_loop) (keepalived's default), one real server per check
    (a virtual server per pass over the listeners when checks outnumber them)."""
    out = ["global_defs {", "    router_id health_bench", "}"]
    for k in range(0, checks, len(ports)):
        out += [
            f"virtual_server 192.0.2.9 {8000 + k // len(ports)} {{",
            f"    delay_loop {period:g}",
            "    lb_algo rr",
            "    lb_kind NAT",
            "    protocol TCP",
        ]
        for port in ports[: min(len(ports), checks - k)]:
            out += [
                f"    real_server 127.0.0.1 {port} {{",
                "        TCP_CHECK {",
                "            connect_timeout 1",
                "            retry 0",
                "        }",
                "    }",
            ]
        out.append("}")
    return "\n".join(out) + "\n"


def side_by_side(period: float, sides: list[Side]) -> None:
    print("side by side, counted by the listeners over the same window length:")
    print(f"  {'checker':<15} {'probes/s':>9} {'CPU us/probe':>13} {'CPU % core':>11}"
          f"  lateness p50 / p99 / max (ms: two probes' interval - {period:g}s)")  # fmt: skip
    for name, rate, cpu_s, wall, gaps in sides:
        g = array("d", gaps)
        per = 1e6 * cpu_s / max(rate * wall, 1)
        print(f"  {name:<15} {rate:>9,.0f} {per:>13.1f} {100 * cpu_s / wall:>11.1f}"
              f"  {1000 * pct(g, 0.5):.1f} / {1000 * pct(g, 0.99):.1f} / "
              f"{1000 * max(g, default=0.0):.1f}")  # fmt: skip


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
    ap.add_argument(
        "--keepalived",
        action="store_true",
        help="then run keepalived -C on the same checks and listeners (needs IPVS)",
    )
    args = ap.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(hard, 4 * (args.checks + args.listeners) + 1024)
    try:  # root (the guest) may raise the hard limit: listeners + checks + keepalived's
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    parent_end, child_end = ctx.Pipe()
    control, control_child = ctx.Pipe()
    # with --keepalived, as many listeners again for keepalived's checks
    n_listeners = args.listeners * (2 if args.keepalived else 1)
    child = ctx.Process(
        target=serve, args=(child_end, n_listeners, stop, control_child), daemon=True
    )
    child.start()
    try:
        ports: list[int] = parent_end.recv()
        ka_ports = ports[args.listeners :]
        ports = ports[: args.listeners]
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, pid {os.getpid()}, "
              f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        print(f"CPU available          : a busy loop gets {available_cpu():.0f} % of one core "
              "right now (a shared machine gives less than 100)")  # fmt: skip
        tick_stop = ctx.Event()
        tick_out, tick_in = ctx.Pipe()
        tick = ctx.Process(target=ticker, args=(tick_in, tick_stop), daemon=True)
        peer = Keepalived(ka_ports, args.checks, args.period) if args.keepalived else None
        if peer is not None and not peer.alive():
            print(f"keepalived peer        : skipped ({peer.why})")
            peer.stop()
            peer = None
        tick.start()
        try:
            sides = asyncio.run(
                monitored(
                    ports,
                    args.checks,
                    args.period,
                    args.seconds,
                    not args.no_tune_gc,
                    control,
                    peer,
                )
            )
        finally:
            if peer is not None:
                peer.stop()
            tick_stop.set()
            p50, p99, worst = tick_out.recv() if tick_out.poll(10) else (0.0, 0.0, 0.0)
            tick.join(5)
        print(f"peer: bare asyncio timer lateness in another process, same time: "
              f"p50 {1000 * p50:.2f} / p99 {1000 * p99:.2f} / "
              f"max {1000 * worst:.1f} ms")  # fmt: skip
        asyncio.run(bare(ports, 20_000))
        side_by_side(args.period, sides)
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
