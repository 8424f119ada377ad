"""Control socket: what an attached console and the daemon pay for snapshots, and what the
engine pays for many (and slow) event subscribers.

    .venv/bin/python bench/control_socket.py [--services 1000] [--reals 10] [--seconds 5]
                                             [--history 300] [--clients 20] [--skip-engine]

1. *Codec, per snapshot* (the console's toy engine, `lvstui.ui.fake.FakeClient`, at
   `--services` × `--reals`): the reference codec (`protocol.encode` + `json`, what every
   snapshot cost before deltas), the msgspec full snapshot, and the delta, in two cases:
   *busy* (every service changed since the last second: the worst case) and *quiet* (one
   real server changed health).
2. *Attached console at 1 Hz*: a separate process polls `snapshot()` once a second for
   `--seconds` while the daemon side (this process) serves it from the toy engine ticking
   every second (busy). Prints the client process's CPU % of one core and the daemon's
   event-loop lag (how late a 10 ms timer fires; max and p99) for: deltas (today's client),
   full snapshots (`SocketClient(deltas=False)`), and the reference client (`json.loads` +
   `protocol.decode`, what the console paid before).
3. *Real engine* (unless `--skip-engine`): an Engine on the in-memory dataplane, snapshot round
   trips through `LocalClient` (peer) and `SocketClient`, and the event fan-out to `--clients`
   subscribers plus one that never reads (it must be cut off, the others must not slow down).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lvstui.config.schema import Config, RealServer, VirtualServer
from lvstui.control import delta
from lvstui.control.client import SocketClient, connect
from lvstui.control.local import LocalClient
from lvstui.control.protocol import decode, encode
from lvstui.control.server import ControlServer
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.model import Health, LogEvent, Snapshot
from lvstui.ui import fake
from lvstui.ui.fake import FakeClient

ROOT = Path(__file__).resolve().parent.parent


def best(fn: Callable[[], Any], n: int = 3) -> tuple[float, Any]:
    out: Any = None
    times = []
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def toy_engine(args: argparse.Namespace) -> FakeClient:
    """The toy engine with `--history` samples per history, full (a daemon after 5 minutes
    keeps 300: in a busy table they are most of the bytes)."""
    fake.HISTORY = args.history
    toy = FakeClient(args.services, args.reals)
    toy.tick(args.history)
    return toy


def codec(toy: FakeClient, services: int, reals: int) -> None:
    base = asyncio.run(toy.snapshot())
    toy.tick()
    busy = asyncio.run(toy.snapshot())
    toy.set_health(1, 0, Health.DOWN, "refused")
    quiet_base = busy
    quiet = asyncio.run(toy.snapshot())
    print(f"1. codec per snapshot, {services} services x {reals} real servers (ms, best of 3)")
    print(f"  {'':28} {'server':>8} {'client':>8} {'bytes':>10}")

    t_enc, data = best(lambda: encode(busy))
    t_dump, text = best(lambda: json.dumps(data, separators=(",", ":")).encode())
    t_load, parsed = best(lambda: json.loads(text))
    t_dec, _ = best(lambda: decode(Snapshot, parsed))
    print(
        f"  {'reference (before)':<28} {(t_enc + t_dump) * 1e3:8.1f} "
        f"{(t_load + t_dec) * 1e3:8.1f} {len(text):10d}"
    )
    t_s, full = best(lambda: delta.encode_snapshot_json(busy))
    t_c, back = best(lambda: delta.decode_snapshot_json(full))
    assert back == busy
    print(f"  {'msgspec full':<28} {t_s * 1e3:8.1f} {t_c * 1e3:8.1f} {len(full):10d}")
    for name, b, n in (
        ("delta, busy (all changed)", base, busy),
        ("delta, quiet", quiet_base, quiet),
    ):
        t_s, d = best(lambda b=b, n=n: delta.encode_delta(b, n))  # type: ignore[misc]
        t_c, back = best(lambda b=b, d=d: delta.apply_delta(b, d))  # type: ignore[misc]
        assert back == n
        print(f"  {name:<28} {t_s * 1e3:8.1f} {t_c * 1e3:8.1f} {len(d):10d}")


# --- 2. attached console at 1 Hz --------------------------------------------------------------

CHILD = r"""
import asyncio, json, sys, time
sys.path.insert(0, sys.argv[1])
mode, path, seconds = sys.argv[2], sys.argv[3], float(sys.argv[4])
from lvstui.control.client import SocketClient
from lvstui.control.protocol import decode
from lvstui.model import Snapshot

async def reference():
    r, w = await asyncio.open_unix_connection(path, limit=2**26)
    n = 0
    async def one():
        nonlocal n
        n += 1
        w.write(b'{"v":1,"type":"snapshot","id":%d}\n' % n)
        await w.drain()
        return decode(Snapshot, json.loads(await r.readline())["snapshot"])
    return one, w

async def main():
    if mode == "reference":
        one, w = await reference()
    else:
        c = SocketClient(path, deltas=(mode == "delta"), timeout=30)
        one = c.snapshot
    await one()  # the first (full) snapshot is not what runs every second
    c0, t0 = time.process_time(), time.perf_counter()
    lat = []
    while time.perf_counter() - t0 < seconds:
        t = time.perf_counter()
        await one()
        lat.append(time.perf_counter() - t)
        await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - t)))
    cpu = (time.process_time() - c0) / (time.perf_counter() - t0)
    print(json.dumps({"cpu": cpu, "lat": max(lat), "n": len(lat)}))

asyncio.run(main())
"""


class Ticking:
    """The toy engine as a daemon's engine is: state moves once a second; every client of
    the socket gets that second's snapshot (built once, like Engine.published_snapshot).
    The seconds are built beforehand, so the daemon's loop lag measures the socket alone."""

    def __init__(self, toy: FakeClient, seconds: int = 4) -> None:
        self.frames: list[Snapshot] = []
        for _ in range(seconds):
            toy.tick()
            self.frames.append(asyncio.run(toy.snapshot()))
        self.toy = toy
        self.snap: Snapshot | None = None
        self.read_only = False
        self.description = "toy"

    async def run(self) -> None:
        i = 0
        while True:
            self.snap = self.frames[i % len(self.frames)]
            i += 1
            await asyncio.sleep(1.0)

    async def snapshot(self) -> Snapshot:
        assert self.snap is not None
        return self.snap

    def events(self, replay: bool = False) -> Any:
        return self.toy.events()

    async def call(self, command: Any) -> Any:
        return await self.toy.call(command)

    async def close(self) -> None:
        pass


async def lag_probe(samples: list[float]) -> None:
    while True:
        t = time.perf_counter()
        await asyncio.sleep(0.01)
        samples.append(time.perf_counter() - t - 0.01)


async def attached(ticking: Ticking, seconds: float) -> None:
    d = Path(tempfile.mkdtemp(prefix="lvt-ctl-bench-"))
    server = ControlServer(d / "c.sock", lambda p, ro: ticking)
    await server.start()
    ticker = asyncio.create_task(ticking.run())
    try:
        for mode in ("none", "delta", "full", "reference"):
            lag: list[float] = []
            probe = asyncio.create_task(lag_probe(lag))
            if mode == "none":  # the baseline: what this host's load alone does to the loop
                await asyncio.sleep(seconds)
                probe.cancel()
                await asyncio.gather(probe, return_exceptions=True)
                q = statistics.quantiles(lag, n=100)
                print(
                    f"  {'no client':<10} {'':41} "
                    f"daemon loop lag p99 {q[98] * 1e3:6.1f} ms max {max(lag) * 1e3:6.1f} ms"
                )
                continue
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                CHILD,
                str(ROOT),
                mode,
                str(server.path),
                str(seconds),
                stdout=subprocess.PIPE,
            )
            out, _ = await proc.communicate()
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)
            r = json.loads(out)
            q = statistics.quantiles(lag, n=100) if len(lag) > 2 else [0.0] * 99
            print(
                f"  {mode:<10} console CPU {r['cpu'] * 100:5.1f} % of a core   "
                f"snapshot() max {r['lat'] * 1e3:6.1f} ms   "
                f"daemon loop lag p99 {q[98] * 1e3:6.1f} ms max {max(lag) * 1e3:6.1f} ms"
            )
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
        await server.close()
        shutil.rmtree(d, ignore_errors=True)


# --- 3. real engine ---------------------------------------------------------------------------


def config(services: int, reals: int) -> Config:
    vss = tuple(
        VirtualServer(
            ip=f"10.1.{i // 250}.{i % 250 + 1}",
            port=80,
            lb_algo="wlc",
            real_servers=tuple(
                RealServer(ip=f"10.2.{i % 250}.{j + 1}", port=8080, weight=j + 1)
                for j in range(reals)
            ),
        )
        for i in range(services)
    )
    return Config(virtual_servers=vss)


async def round_trips(client: Any, seconds: float) -> list[float]:
    lat: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        await client.snapshot()
        lat.append(time.perf_counter() - t)
    return lat


def show(name: str, lat: list[float], seconds: float) -> float:
    rate = len(lat) / seconds
    q = statistics.quantiles(lat, n=100) if len(lat) > 2 else [lat[0]] * 99
    print(
        f"  {name:<22} {rate:9.1f} snapshots/s   "
        f"p50 {q[49] * 1e3:8.3f} ms   p99 {q[98] * 1e3:8.3f} ms"
    )
    return rate


async def engine_bench(args: argparse.Namespace) -> None:
    engine = Engine(config(args.services, args.reals), dataplane=MemoryDataplane())
    await engine.start()
    d = Path(tempfile.mkdtemp(prefix="lvt-ctl-bench-"))
    server = ControlServer(
        d / "c.sock",
        lambda p, ro: LocalClient(engine, read_only=ro, who=p.who, published=True),
        event_queue=1024,
    )
    await server.start()
    try:
        snap = engine.snapshot()
        size = len(delta.encode_snapshot_json(snap))
        t_build, _ = best(engine.snapshot)
        print(
            f"3. real engine (memory dataplane), {args.services} x {args.reals}: "
            f"{size / 1024:.0f} KiB a full snapshot, engine.snapshot() {t_build * 1e3:.1f} ms"
        )
        local = LocalClient(engine)  # builds a snapshot per call (the embedded console)
        r_local = show("LocalClient", await round_trips(local, args.seconds), args.seconds)
        for name, deltas in (("SocketClient deltas", True), ("SocketClient full", False)):
            sock = SocketClient(server.path, deltas=deltas, timeout=60)
            r = show(name, await round_trips(sock, args.seconds), args.seconds)
            print(f"  {'':22} socket / local throughput: {r / r_local:.3f}")
            await sock.close()

        # --- fan-out ---
        clients = [await connect(server.path) for _ in range(args.clients)]
        counts = [0] * len(clients)

        async def reader(i: int, c: SocketClient) -> None:
            async for _ in c.events():
                counts[i] += 1

        tasks = [asyncio.create_task(reader(i, c)) for i, c in enumerate(clients)]
        slow_r, slow_w = await asyncio.open_unix_connection(str(server.path))
        slow_w.write(b'{"v":1,"type":"subscribe","id":1}\n')
        await slow_w.drain()
        await asyncio.sleep(0.5)
        print(f"  fan-out: {args.clients} reading clients + 1 that never reads")
        published = 0
        t0 = time.perf_counter()
        end = t0 + args.seconds
        while time.perf_counter() < end:
            for _ in range(100):
                engine.bus.publish(LogEvent(time.time(), "info", "x" * 200))
                published += 1
            await asyncio.sleep(0)
        elapsed = time.perf_counter() - t0
        await asyncio.sleep(1.0)
        print(f"  published      {published / elapsed:9.0f} events/s")
        print(f"  delivered      {min(counts) / elapsed:9.0f} events/s per client (slowest reader)")
        print(f"  delivered      {max(counts) / elapsed:9.0f} events/s per client (fastest reader)")
        print(f"  non-reader cut off: {server.connections == args.clients}")
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in clients:
            await c.close()
        slow_w.close()
        _ = slow_r
    finally:
        await server.close()
        await engine.stop()
        shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--services", type=int, default=1000)
    p.add_argument("--reals", type=int, default=10)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--history", type=int, default=300, help="samples per history")
    p.add_argument("--skip-engine", action="store_true")
    args = p.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"toy engine: {args.history} samples per history")
    codec(toy_engine(args), args.services, args.reals)
    seconds = max(args.seconds, 5.0)
    print(
        f"2. attached console at 1 Hz, {args.services} x {args.reals}, busy, {seconds:.0f} s each"
    )
    ticking = Ticking(toy_engine(args))
    asyncio.run(attached(ticking, seconds))
    if not args.skip_engine:
        asyncio.run(engine_bench(args))


if __name__ == "__main__":
    main()
