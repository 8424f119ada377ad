"""Benchmark: programming kernel IPVS through lvstui, against `ipvsadm --restore`.

Runs INSIDE the User-Mode-Linux guest (bench/ipvs_apply.sh starts it). Measures, in one
run on the same kernel:

- 1,000 services x 10 real servers from an empty table: lvstui (reconcile + batched
  netlink apply) vs `ipvsadm --restore` of the same table (goal: lvstui <= 1 s);
- one weight change: lvstui's apply of one EditDest (goal <= 50 ms) vs `ipvsadm -e`
  (a process start included, as an operator or a script would pay it);
- reading the whole table back: lvstui's observe() vs `ipvsadm -Ln`.

Prints one line per figure and a JSON summary line. Figures are medians of `--runs`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lvstui.config.schema import LbKind, Protocol
from lvstui.dataplane.base import DesiredDest, DesiredService, EditDest
from lvstui.dataplane.ipvs import IpvsDataplane
from lvstui.dataplane.reconcile import reconcile
from lvstui.model import RealKey, ServiceKey


def table(services: int, reals: int) -> list[DesiredService]:
    out = []
    for i in range(services):
        vip = f"192.0.2.{1 + i // 100}"
        port = 1000 + i % 100
        key = ServiceKey(Protocol.TCP, vip, port)
        dests = tuple(
            DesiredDest(RealKey(f"203.0.113.{1 + j}", port), 1 + j % 5, LbKind.NAT)
            for j in range(reals)
        )
        out.append(DesiredService(key, "wlc", dests=dests))
    return out


def restore_text(desired: list[DesiredService]) -> str:
    lines = []
    for s in desired:
        vs = f"{s.key.addr}:{s.key.port}"
        lines.append(f"-A -t {vs} -s {s.scheduler}")
        lines.extend(f"-a -t {vs} -r {d.key} -m -w {d.weight}" for d in s.dests)
    return "\n".join(lines) + "\n"


def settle() -> None:
    # Linux 6.1 tracks every service and real server in rate-estimator kthreads; after a
    # flush of 11,000 of them those threads are busy for a moment, and the guest has one
    # CPU: let them finish so both tools start from the same quiet kernel.
    time.sleep(3)


def ipvsadm(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["ipvsadm", *args], input=stdin, capture_output=True, text=True, check=True
    ).stdout


async def bench(services: int, reals: int, runs: int) -> dict[str, float]:
    desired = table(services, reals)
    restore = restore_text(desired)
    n_ops = services * (reals + 1)
    fig: dict[str, list[float]] = {
        k: []
        for k in (
            "lvstui_program",
            "lvstui_reconcile",
            "ipvsadm_restore",
            "lvstui_weight",
            "ipvsadm_weight",
            "lvstui_observe",
            "ipvsadm_list",
        )
    }
    dp = IpvsDataplane()
    await dp.start()
    try:
        for _ in range(runs):
            ipvsadm("-C")
            settle()
            t0 = time.perf_counter()
            ops = reconcile(desired, await dp.observe())
            t1 = time.perf_counter()
            await dp.apply(ops)
            t2 = time.perf_counter()
            fig["lvstui_reconcile"].append(t1 - t0)
            fig["lvstui_program"].append(t2 - t0)
            assert len(ops) == n_ops, len(ops)

            t0 = time.perf_counter()
            observed = await dp.observe()
            fig["lvstui_observe"].append(time.perf_counter() - t0)
            assert len(observed) == services

            t0 = time.perf_counter()
            ipvsadm("-Ln")
            fig["ipvsadm_list"].append(time.perf_counter() - t0)

            s = desired[services // 2]
            d = s.dests[3]
            t0 = time.perf_counter()
            await dp.apply([EditDest(s.key, DesiredDest(d.key, 42, d.fwd))])
            fig["lvstui_weight"].append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            ipvsadm("-e", "-t", f"{s.key.addr}:{s.key.port}", "-r", str(d.key), "-m", "-w", "43")
            fig["ipvsadm_weight"].append(time.perf_counter() - t0)

            ipvsadm("-C")
            settle()
            t0 = time.perf_counter()
            ipvsadm("-R", stdin=restore)
            fig["ipvsadm_restore"].append(time.perf_counter() - t0)
            assert len(ipvsadm("-Ln").splitlines()) == 3 + n_ops
        ipvsadm("-C")
    finally:
        await dp.close()
    print("runs (s):", json.dumps({k: [round(x, 3) for x in v] for k, v in fig.items()}))
    return {k: statistics.median(v) for k, v in fig.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--reals", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    f = asyncio.run(bench(a.services, a.reals, a.runs))
    n = a.services * (a.reals + 1)
    print(
        f"table: {a.services} services x {a.reals} real servers = {n} operations, "
        f"median of {a.runs} runs, inside the UML guest"
    )
    print(
        f"program from empty  lvstui {f['lvstui_program'] * 1000:8.0f} ms"
        f"   (reconcile {f['lvstui_reconcile'] * 1000:.0f} ms)"
        f"   ipvsadm --restore {f['ipvsadm_restore'] * 1000:8.0f} ms"
        f"   ratio {f['lvstui_program'] / f['ipvsadm_restore']:.2f}   goal <= 1000 ms"
    )
    print(
        f"one weight change   lvstui {f['lvstui_weight'] * 1000:8.1f} ms"
        f"   ipvsadm -e {f['ipvsadm_weight'] * 1000:8.1f} ms   goal <= 50 ms"
    )
    print(
        f"read whole table    lvstui {f['lvstui_observe'] * 1000:8.0f} ms"
        f"   ipvsadm -Ln {f['ipvsadm_list'] * 1000:8.0f} ms"
    )
    print(json.dumps({k: round(v, 4) for k, v in f.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
