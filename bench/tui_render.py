"""Console cost at scale: 1,000 virtual services × 10 real servers, one snapshot a second.

    .venv/bin/python bench/tui_render.py [--seconds 20] [--keys 30] [--size 120x36]

The console runs in a real pseudo-terminal (a child process, as over SSH), fed by a client
that replays pre-built FakeClient snapshots (fresh seq and time each second), so what is
measured is the console, not the toy engine that invents the data. Printed:

- CPU % of one core of the console process over a quiet window (utime + stime from /proc);
- key-to-screen latency, p50/p99: time from writing a key to the pty until the bytes of
  the screen it opens arrive (`?` → help, `:` → palette, `/` → filter box), keys sent at
  random phases of the 1 Hz update; p50 by key; and the console's CPU time (all threads,
  /proc schedstat) from the key to 0.1 s after its screen arrived, median: on a loaded host
  the latency is mostly waiting for a core, the CPU time is what the key costs;
- for reference, in this process: what building one snapshot costs the FakeClient, and
  what decoding one costs a SocketClient (the control protocol's JSON), i.e. the extra CPU
  an attached console pays per second at this size.

Goals: ≤ 25 % of a core; key-to-screen p50 ≤ 50 ms, p99 ≤ 200 ms at 1,000×10. Nothing is
asserted; figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import fcntl
import json
import os
import pty
import random
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SERVICES, REALS = 1000, 10
PEER = (3, 3)  # the same console on a tiny table, measured in the same run, as a baseline


# --- child: the console on a replaying client -------------------------------------------------


class ReplayClient:
    """Cycles through pre-built snapshots, each returned with a new seq and time."""

    def __init__(self, services: int, reals: int, frames: int = 10) -> None:
        from lvstui.ui.fake import FakeClient

        fake = FakeClient(services, reals)
        self._frames = []
        for _ in range(frames):
            fake.tick()
            self._frames.append(asyncio.run(fake.snapshot()))
        self._n = 0
        self._t0 = self._frames[0].time

    @property
    def read_only(self) -> bool:
        return False

    @property
    def description(self) -> str:
        return "bench replay"

    async def snapshot(self):  # type: ignore[no-untyped-def]
        self._n += 1
        frame = self._frames[self._n % len(self._frames)]
        return dataclasses.replace(frame, seq=self._n, time=self._t0 + self._n)

    async def events(self, replay: bool = False) -> AsyncIterator[object]:
        await asyncio.Event().wait()
        yield None  # pragma: no cover

    async def call(self, command: object) -> object:
        raise NotImplementedError

    async def close(self) -> None:
        pass


def child(services: int, reals: int, profile: str | None = None, trace: str | None = None) -> int:
    import signal

    from bench import looptrace
    from lvstui.ui.app import run_console

    client = ReplayClient(services, reals)
    print("bench: replay ready", flush=True)
    dump_trace = looptrace.install(trace) if trace else None
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()

    def dump(_sig: int, _frame: object) -> None:
        if prof is not None:
            prof.disable()
            prof.dump_stats(profile)
        if dump_trace is not None:
            dump_trace()
        os._exit(0)

    signal.signal(signal.SIGTERM, dump)
    if prof is not None:
        prof.enable()
    return run_console(client)  # type: ignore[arg-type]


# --- parent: drive the pty and measure ----------------------------------------------------------


class PtyReader(threading.Thread):
    """Drains the pty (a full pty would stall the console) and timestamps every chunk."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.chunks: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()
        self.stop = False

    def run(self) -> None:
        while not self.stop:
            try:
                data = os.read(self.fd, 1 << 16)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.chunks.append((time.perf_counter(), data))

    def mark(self) -> int:
        with self.lock:
            return len(self.chunks)

    def find(self, start: int, needle: bytes) -> float | None:
        """Arrival time of the chunk that completes `needle` after chunk `start`."""
        with self.lock:
            chunks = self.chunks[start:]
        buf = b""
        for t, data in chunks:
            buf += data
            if needle in buf:
                return t
        return None

    def wait_for(self, start: int, needle: bytes, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t = self.find(start, needle)
            if t is not None:
                return t
            time.sleep(0.002)
        return None


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15)


def cpu_ns(pid: int) -> int:
    """CPU time of all the process's threads (ns; the writer thread draws, too): unlike the
    wall-clock latency, it barely moves with the host's load."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):  # a thread that ended
            total += int((task / "schedstat").read_text().split()[0])
    return total


def reference_costs() -> tuple[float, float]:
    """(FakeClient build, SocketClient decode) seconds for one 1,000×10 snapshot."""
    from lvstui.control.protocol import decode_snapshot, encode
    from lvstui.ui.fake import FakeClient

    fake = FakeClient(SERVICES, REALS)
    builds = []
    for _ in range(3):
        fake.tick()
        t = time.perf_counter()
        snap = asyncio.run(fake.snapshot())
        builds.append(time.perf_counter() - t)
    line = json.dumps(encode(snap))
    decodes = []
    for _ in range(3):
        t = time.perf_counter()
        decode_snapshot(json.loads(line))
        decodes.append(time.perf_counter() - t)
    return min(builds), min(decodes)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def measure(services: int, reals: int, args: argparse.Namespace) -> dict[str, Any]:
    """Run one console child on a pty and measure it."""
    from bench import looptrace

    cols, rows = (int(x) for x in args.size.split("x"))
    trace_file = f"/tmp/conperf-tui-trace.{os.getpid()}.{services}x{reals}.json"
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    env["PYTHONPATH"] = str(REPO)
    t_start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", f"{services}x{reals}"]
        + (["--profile", f"{args.profile}.{services}x{reals}"] if args.profile else [])
        + ["--trace", trace_file],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        cwd=REPO,
    )
    os.close(slave)
    reader = PtyReader(master)
    reader.start()
    every: list[float] = []
    per_key: dict[str, list[float]] = {}
    key_cpu: list[float] = []  # the console's CPU from the key to its screen (+0.1 s)
    presses: list[tuple[str, float, float]] = []  # (key, written, its screen arrived)
    misses = 0
    missed: dict[str, int] = {}
    try:
        if reader.wait_for(0, b"192.0.2.", 120) is None:
            raise SystemExit("the console never drew the table")
        t_first = time.perf_counter()
        time.sleep(5)  # warm-up: first frames, caches
        hz = os.sysconf("SC_CLK_TCK")
        c0, w0 = cpu_ticks(proc.pid), time.perf_counter()
        time.sleep(args.seconds)
        c1, w1 = cpu_ticks(proc.pid), time.perf_counter()
        probes = {
            "?": (b"?", b"Key bindings"),
            # the palette opens prefilled from the selected row (the first service):
            # `add 192.0.2.1:80 `, the address ending its own segment (unlike in the table)
            ":": (b":", b"192.0.2.1:80 \x1b"),
            # not its first letter: the input's cursor sits on it, in its own style, until
            # the first blink half a second later
            "/": (b"/", b"ilter: address"),
        }
        for key, needle in probes.values():  # a needle on the main screen measures nothing
            if reader.find(0, needle) is not None:
                raise SystemExit(f"bench: {needle!r} is on the main screen before {key!r}")
        rnd = random.Random(7)
        for _ in range(args.keys):
            for key, needle in probes.values():
                time.sleep(rnd.uniform(0.15, 0.65))
                mark = reader.mark()
                n0 = cpu_ns(proc.pid)
                t0 = time.perf_counter()
                os.write(master, key)
                t = reader.wait_for(mark, needle, 5)
                if t is None:
                    misses += 1
                    missed[key.decode()] = missed.get(key.decode(), 0) + 1
                else:
                    every.append(t - t0)
                    presses.append((key.decode(), t0, t))
                    per_key.setdefault(key.decode(), []).append(t - t0)
                    time.sleep(0.1)  # the rest of the frame
                    key_cpu.append((cpu_ns(proc.pid) - n0) / 1e9)
                os.write(master, b"\x1b")  # close it again (esc)
                time.sleep(0.3)
    finally:
        reader.stop = True
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(master)
    busy = looptrace.load(trace_file)
    with contextlib.suppress(OSError):
        os.unlink(trace_file)
    return {
        "explain": looptrace.explain(presses, busy, (w0, w1)),
        "first": t_first - t_start,
        "cpu": (c1 - c0) / hz / (w1 - w0) * 100,
        "window": w1 - w0,
        "p50": statistics.median(every) * 1000,
        "p99": pct(every, 0.99) * 1000,
        "n": len(every),
        "misses": misses,
        "missed": " ".join(f"{k} {n}" for k, n in sorted(missed.items())),
        "key_cpu": statistics.median(key_cpu) * 1000,
        "keys": " ".join(
            f"{k} {statistics.median(v) * 1000:.0f}" for k, v in sorted(per_key.items())
        ),
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--child", metavar="SxR", help=argparse.SUPPRESS)
    p.add_argument("--trace", help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, default=20.0, help="CPU window (20)")
    p.add_argument("--keys", type=int, default=20, help="presses of each of ? : / (20)")
    p.add_argument("--size", default="120x36")
    p.add_argument(
        "--profile", metavar="FILE", help="cProfile each console into FILE.<S>x<R> (pstats)"
    )
    args = p.parse_args()
    if args.child:
        s, r = (int(x) for x in args.child.split("x"))
        return child(s, r, args.profile, args.trace)
    load = os.getloadavg()[0]
    big = measure(SERVICES, REALS, args)
    small = measure(*PEER, args)
    build, decode = reference_costs()
    print(
        f"console at 1 Hz in a {args.size} pty (load average {load:.1f} on {os.cpu_count()} cores)"
    )
    for name, m in ((f"{SERVICES}x{REALS}", big), (f"{PEER[0]}x{PEER[1]} (peer)", small)):
        print(
            f"  {name:>12}: CPU {m['cpu']:.1f} % of a core over {m['window']:.0f}s; "
            f"key-to-screen p50 {m['p50']:.0f} ms, p99 {m['p99']:.0f} ms "
            f"({m['n']:.0f} presses, {m['misses']:.0f} missed {m['missed']}); "
            f"first table after {m['first']:.1f}s"
        )
        print(
            f"  {'':>12}  p50 by key (ms): {m['keys']}; "
            f"console CPU per key p50 {m['key_cpu']:.0f} ms"
        )
        for line in m["explain"]:
            print(f"  {'':>12}  {line}")
    print(
        f"  ratio big/peer: CPU ×{big['cpu'] / max(small['cpu'], 0.1):.1f}, "
        f"p50 ×{big['p50'] / max(small['p50'], 0.1):.1f}"
    )
    print(
        f"  reference: FakeClient builds one {SERVICES}x{REALS} snapshot in {build * 1000:.0f} ms; "
        f"a SocketClient decodes one in {decode * 1000:.0f} ms "
        f"(+{decode * 100:.0f} % of a core when attached)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
