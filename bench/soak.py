"""Soak: a userspace daemon under churn for minutes; prints its RSS, descriptors and asyncio
task count once a minute, so a leak shows as a column that keeps growing.

    .venv/bin/python bench/soak.py [--minutes 10] [--servers 50]

What runs at once, all on loopback:

- `--servers` real servers (HTTP, in this process) behind one VIP of a `lvstui --daemon` on
  the userspace dataplane, with `http_get` checks every 0.5 s; every second a few of them
  start or stop failing their check (flapping), so the daemon keeps marking servers down
  and up and runs their `notify_up` / `notify_down` scripts and the service's quorum
  scripts;
- control clients that connect, take a snapshot, read events for a moment and leave (several
  a second), and an operator who drains and undrains a server every 5 s;
- a client requesting through the VIP in a loop.

The short form (`--minutes 1`) is a smoke test; the long form (10 minutes, the default) is
what issue 10 asked for. It fails nothing: every control call and every request is counted,
and the exit code is 1 only when a control call failed or the daemon died. Requests that
fail while every server happens to be down are expected (the sorry-server-less VIP closes),
so they are reported, not judged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from lvstui.control.client import connect
from lvstui.demo.servers import DemoServer
from lvstui.errors import LvstuiError
from lvstui.handover import stop_process
from lvstui.model import Drain, ProcessView, RealKey, ServiceKey, Undrain

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Servers:
    """The real servers, on an event loop of their own in a thread."""

    def __init__(self, n: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers = [DemoServer(f"rs{i:02d}") for i in range(n)]
        for s in self.servers:
            self._run(s.start())

    def _run(self, coro: Any) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(10)

    def close(self) -> None:
        for s in self.servers:
            self._run(s.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def write_config(path: Path, vip_port: int, servers: list[DemoServer], state: Path) -> None:
    true = shutil.which("true") or "/bin/true"
    reals = "".join(
        f"""
[[virtual_server.real_server]]
ip = "127.0.0.1"
port = {s.port}
notify_up = "{true} up {s.name}"
notify_down = "{true} down {s.name}"
[[virtual_server.real_server.http_get]]
connect_timeout = 1
retry = 0
[[virtual_server.real_server.http_get.url]]
path = "/health"
"""
        for s in servers
    )
    path.write_text(
        f"""
[lvstui]
dataplane = "userspace"
state_dir = "{state}"

[[virtual_server]]
ip = "127.0.0.1"
port = {vip_port}
lb_algo = "rr"
lb_kind = "NAT"
delay_loop = 0.5
quorum = 10
quorum_up = "{true} quorum up"
quorum_down = "{true} quorum down"
{reals}
"""
    )


class Counts:
    def __init__(self) -> None:
        self.clients = 0
        self.client_errors: list[str] = []
        self.drains = 0
        self.requests = 0
        self.request_failures = 0
        self.flaps = 0


async def churn_clients(sock: Path, counts: Counts, stop: asyncio.Event) -> None:
    """Clients that connect, look, listen a moment and leave."""
    while not stop.is_set():
        try:
            c = await connect(sock)
            try:
                await c.snapshot()
                stream = c.events()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(anext(stream), 0.2)
            finally:
                await c.close()
            counts.clients += 1
        except LvstuiError as exc:
            counts.client_errors.append(f"client: {exc}")
        await asyncio.sleep(0.1)


async def drainer(
    sock: Path, svc: ServiceKey, real: RealKey, counts: Counts, stop: asyncio.Event
) -> None:
    c = await connect(sock)
    try:
        while not stop.is_set():
            for cmd in (Drain(svc, real), Undrain(svc, real)):
                try:
                    res = await c.call(cmd)
                    if not res.ok:
                        counts.client_errors.append(f"{cmd.kind}: {res.message}")
                    counts.drains += 1
                except LvstuiError as exc:
                    counts.client_errors.append(f"{cmd.kind}: {exc}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2.5)
    finally:
        await c.close()


async def flapper(servers: list[DemoServer], counts: Counts, stop: asyncio.Event) -> None:
    rng = random.Random(10)
    while not stop.is_set():
        for s in rng.sample(servers, k=max(1, len(servers) // 10)):
            s.failing = not s.failing  # a plain attribute, read by the servers' thread
            counts.flaps += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def requester(port: int, counts: Counts, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=2.0) as http:
        while not stop.is_set():
            try:
                await http.get(f"http://127.0.0.1:{port}/")
            except httpx.TransportError:
                counts.request_failures += 1
            counts.requests += 1
            await asyncio.sleep(0.05)


def fmt(v: ProcessView | None) -> str:
    if v is None:
        return "      ?"
    return f"{v.rss / (1 << 20):7.1f} MiB {v.descriptors:6d} fds {v.tasks:6d} tasks"


def start_daemon(cfg: Path, sock: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "lvstui", "--daemon", "-f", str(cfg), "--socket", str(sock)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


async def soak(args: argparse.Namespace, d: Path) -> int:
    servers = Servers(args.servers)
    vip_port = free_port()
    cfg = d / "config.toml"
    sock = d / "control.sock"
    write_config(cfg, vip_port, servers.servers, d / "state")
    proc = start_daemon(cfg, sock, d / "daemon.log")
    counts = Counts()
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    rows: list[ProcessView | None] = []
    try:
        watcher = await connect(sock, timeout=30)
        svc = ServiceKey.parse(f"TCP 127.0.0.1:{vip_port}")
        real = RealKey("127.0.0.1", servers.servers[0].port)
        tasks = [
            asyncio.create_task(churn_clients(sock, counts, stop)),
            asyncio.create_task(churn_clients(sock, counts, stop)),
            asyncio.create_task(drainer(sock, svc, real, counts, stop)),
            asyncio.create_task(flapper(servers.servers, counts, stop)),
            asyncio.create_task(requester(vip_port, counts, stop)),
        ]
        print(f"soak: {args.servers} flapping servers, {args.minutes} minute(s); pid {proc.pid}")
        print("minute  resident     descriptors     tasks   | clients drains flaps requests")
        start = time.monotonic()
        for minute in range(args.minutes + 1):
            target = start + minute * 60.0
            while time.monotonic() < target:
                await asyncio.sleep(min(1.0, target - time.monotonic()))
                if proc.poll() is not None:
                    raise RuntimeError(f"the daemon exited ({proc.returncode})")
            snap = await watcher.snapshot()
            rows.append(snap.process)
            print(
                f"{minute:6d}  {fmt(snap.process)} | {counts.clients:7d} {counts.drains:6d} "
                f"{counts.flaps:5d} {counts.requests:8d}",
                flush=True,
            )
        await watcher.close()
    finally:
        stop.set()
        for t in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(t, 10)
        await asyncio.to_thread(stop_process, proc)
        servers.close()
    # minute 0 is the start (checks still warming up): compare from minute 1 when there is
    # more than one minute
    first, last = rows[1] if len(rows) > 2 else rows[0], rows[-1]
    if first is not None and last is not None:
        print(
            f"from minute {1 if len(rows) > 2 else 0} to the end: "
            f"RSS {(last.rss - first.rss) / (1 << 20):+.1f} MiB, "
            f"descriptors {last.descriptors - first.descriptors:+d}, "
            f"tasks {last.tasks - first.tasks:+d}"
        )
    print(
        f"requests through the VIP: {counts.requests}, failed {counts.request_failures} "
        "(while the quorum is down the VIP has no server: expected)"
    )
    print(f"daemon exit code: {proc.returncode}")
    for e in counts.client_errors[:10]:
        print(f"control error: {e}")
    failed = bool(counts.client_errors) or proc.returncode not in (0, -15)
    print("soak: " + ("FAILED" if failed else "ok: no control call failed, the daemon held"))
    return 1 if failed else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--minutes", type=int, default=10, help="how long (1: the short form)")
    p.add_argument("--servers", type=int, default=50, help="flapping real servers")
    args = p.parse_args()
    d = Path(tempfile.mkdtemp(prefix="restart-soak-"))
    try:
        return asyncio.run(soak(args, d))
    finally:
        if os.environ.get("SOAK_KEEP"):
            print(f"kept {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
