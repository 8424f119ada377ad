"""Control socket: what a client pays to go through the Unix socket, and what the engine
pays for many (and slow) clients.

    .venv/bin/python bench/control_socket.py [--services 50] [--reals 10] [--seconds 5]
                                             [--clients 20]

A real Engine on the in-memory dataplane with `--services` × `--reals` real servers (a
full snapshot is what the console fetches every second). Prints:

- snapshot round trips per second and the p50 / p99 latency, through `SocketClient` and, as
  the peer measured in the same run, through `LocalClient` (same engine, no socket): the
  ratio is the cost of the socket and of the JSON codec;
- the size of one snapshot on the wire;
- event fan-out: `--clients` subscribers (plus one that never reads) while the engine
  publishes as fast as it can: events/s published, events/s delivered per reading client,
  and whether the non-reading client was cut off (it must be, and the others must not
  slow down to its pace).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lvstui.config.schema import Config, RealServer, VirtualServer
from lvstui.control.client import SocketClient, connect
from lvstui.control.local import LocalClient
from lvstui.control.protocol import encode, message
from lvstui.control.server import ControlServer
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.model import LogEvent


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


async def round_trips(client: object, seconds: float) -> list[float]:
    lat: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        await client.snapshot()  # type: ignore[attr-defined]
        lat.append(time.perf_counter() - t)
    return lat


def show(name: str, lat: list[float], seconds: float) -> float:
    rate = len(lat) / seconds
    q = statistics.quantiles(lat, n=100)
    print(
        f"  {name:<13} {rate:9.0f} snapshots/s   "
        f"p50 {q[49] * 1e3:7.3f} ms   p99 {q[98] * 1e3:7.3f} ms"
    )
    return rate


async def main(args: argparse.Namespace) -> None:
    engine = Engine(config(args.services, args.reals), dataplane=MemoryDataplane())
    await engine.start()
    d = Path(tempfile.mkdtemp(prefix="lvt-ctl-bench-"))
    server = ControlServer(
        d / "c.sock",
        lambda p, ro: LocalClient(engine, read_only=ro, who=p.who),
        event_queue=1024,
    )
    await server.start()
    try:
        snap = engine.snapshot()
        size = len(message("snapshot", 1, snapshot=encode(snap)))
        print(
            f"snapshot: {args.services} services x {args.reals} real servers, "
            f"{size / 1024:.0f} KiB on the wire"
        )
        local = LocalClient(engine)
        sock = await connect(server.path)
        r_local = show("LocalClient", await round_trips(local, args.seconds), args.seconds)
        r_sock = show("SocketClient", await round_trips(sock, args.seconds), args.seconds)
        print(f"  socket / local throughput: {r_sock / r_local:.3f}")
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
        print(f"fan-out: {args.clients} reading clients + 1 that never reads")
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


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--services", type=int, default=50)
    p.add_argument("--reals", type=int, default=10)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--clients", type=int, default=20)
    asyncio.run(main(p.parse_args()))
