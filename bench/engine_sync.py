"""Engine cost per health transition: plan + quorum + reconcile + apply, on the memory dataplane.

    .venv/bin/python bench/engine_sync.py [--services 1000] [--reals 10] [--flips 2000]

Builds a config of `--services` virtual services with `--reals` checked real servers each,
starts an Engine on the in-memory dataplane, then flips real servers down and up one at a
time (each flip is a HealthChanged → one reconcile → one EditDest/DelDest/AddDest), and
prints:

- start time (first reconcile of the whole table),
- per flip, one by one (each awaited): mean and p99 milliseconds,
- a burst of flips fed without waiting: wall time until the table matches, and how many
  reconciles it took (bursts coalesce into few reconciles),
- a peer measured in the same run: the pure part alone (plan every service + reconcile
  against the table) per call, so the engine's own overhead shows as the difference.

No network at all.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time

from lvstui.config.schema import Config, RealServer, TcpCheck, VirtualServer
from lvstui.config.state import Overrides, service_key_of
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.dataplane.reconcile import reconcile
from lvstui.engine.desired import plan_services
from lvstui.engine.engine import Engine
from lvstui.model import Health, RealKey


class SignallingDataplane(MemoryDataplane):
    """The memory dataplane, telling the bench when a batch was applied."""

    def __init__(self) -> None:
        super().__init__()
        self.applied = asyncio.Event()

    async def apply(self, ops):  # type: ignore[no-untyped-def]
        await super().apply(ops)
        self.applied.set()


def build(services: int, reals: int) -> Config:
    vss = []
    for i in range(services):
        ip = f"10.{i // 250}.{i % 250}.1"
        vss.append(
            VirtualServer(
                ip=ip,
                port=80,
                lb_algo="wlc",
                real_servers=tuple(
                    RealServer(f"172.16.{i // 250}.{(i % 250)}", 8000 + j, checks=(TcpCheck(),))
                    for j in range(reals)
                ),
            )
        )
    return Config(virtual_servers=tuple(vss))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--reals", type=int, default=10)
    ap.add_argument("--flips", type=int, default=2000)
    a = ap.parse_args()
    logging.disable(logging.WARNING)  # the burst loses quorums on purpose: keep stdout clean
    cfg = build(a.services, a.reals)
    dp = SignallingDataplane()
    e = Engine(cfg, dataplane=dp)
    t0 = time.perf_counter()
    await e.start()
    t_start = time.perf_counter() - t0
    pairs = [
        (service_key_of(vs), RealKey(r.ip, r.port))
        for vs in cfg.virtual_servers
        for r in vs.real_servers
    ]

    times = []
    for n in range(a.flips):
        svc, real = pairs[((n // 2) * 7919) % len(pairs)]  # down, then up, the same server
        state = Health.DOWN if n % 2 == 0 else Health.UP
        dp.applied.clear()
        t = time.perf_counter()
        e.set_health(svc, real, state)
        await asyncio.wait_for(dp.applied.wait(), 30)
        times.append(time.perf_counter() - t)

    # burst: every flip at once, coalesced by the reconciler
    burst = pairs[: min(len(pairs), 1000)]
    want = set(burst)
    batches = len(dp.batches)
    t = time.perf_counter()
    for svc, real in burst:
        e.set_health(svc, real, Health.DOWN)
    while True:
        dp.applied.clear()
        have = {(o.key, d.key) for o in await dp.observe() for d in o.dests}
        if not (want & have):
            break
        await asyncio.wait_for(dp.applied.wait(), 30)
    t_burst = time.perf_counter() - t
    reconciles = len(dp.batches) - batches

    # peer: the pure part alone
    observed = await dp.observe()
    peer = []
    for _ in range(20):
        t = time.perf_counter()
        plans = plan_services(cfg, Overrides(), {}, {})
        reconcile(tuple(p.desired for p in plans), observed, None)
        peer.append(time.perf_counter() - t)
    await e.stop(release=False)

    ms = sorted(x * 1000 for x in times)
    print(f"services {a.services} x reals {a.reals} = {len(pairs)} real servers")
    print(f"start (first reconcile of the table): {t_start * 1000:.0f} ms")
    print(
        f"one flip, awaited: mean {statistics.mean(ms):.2f} ms, "
        f"p99 {ms[int(len(ms) * 0.99) - 1]:.2f} ms ({a.flips} flips)"
    )
    print(f"burst of {len(burst)} flips: {t_burst * 1000:.0f} ms, {reconciles} reconcile(s)")
    print(
        f"peer, pure plan + reconcile of the whole table: {statistics.median(peer) * 1000:.2f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
