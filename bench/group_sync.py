"""Director group: how fast an operator's change reaches the peer, and how fast a healed
partition converges.

    .venv/bin/python bench/group_sync.py [--drains 100] [--changes 1000]

Two parts, each on loopback (127.0.0.1 only), mutual TLS with a fresh group key:

1. Two engines (in-memory dataplane, one virtual service with two real servers), each with
   its GroupRuntime, as the daemon wires them. `--drains` times: `drain` on lb1
   (Engine.call, what `lvstui ctl drain` reaches) until weight 0 is applied to lb2's
   dataplane, then `undrain` until it is back (not timed). Prints p50 / p99 / max.
   Peer measured in the same run: a ping round trip over the same TLS link (the floor
   any replication over it pays).
2. Two group members over TLS; the link is cut, each side changes `--changes` overrides
   (weights of distinct real servers, half of them the same servers on both sides), the
   link is restored; time from the dials starting until both stores hold one table (the
   exchange is digests, then the differences).

Goals (issue 12): p99 of part 1 well under 1 s; part 2 within 2 s of reconnecting.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from lvstui.clock import SystemClock
from lvstui.config.load import load_config_text
from lvstui.config.state import Overrides
from lvstui.dataplane.base import Op
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.group import keys
from lvstui.group.channel import Dialer, Listener
from lvstui.group.member import Member
from lvstui.group.runtime import GroupRuntime
from lvstui.model import Drain, RealKey, ServiceKey, Undrain
from lvstui.wiring import EngineParts

SVC = ServiceKey.parse("TCP 198.51.100.9:80")
R1 = RealKey.parse("198.51.100.21:80")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(name: str, port: int, peer: int, key: Path) -> str:
    return f"""
[lvstui]
dataplane = "userspace"
[lvstui.group]
name = "{name}"
listen = "127.0.0.1:{port}"
peers = ["127.0.0.1:{peer}"]
key_file = "{key}"
startup_wait = 5.0
[[virtual_server]]
ip = "198.51.100.9"
port = 80
[[virtual_server.real_server]]
ip = "198.51.100.21"
port = 80
[[virtual_server.real_server]]
ip = "198.51.100.22"
port = 80
"""


class WatchedDataplane(MemoryDataplane):
    """Sets `changed` whenever a batch is applied (the moment lb2's table has the weight)."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    async def apply(self, ops: Sequence[Op]) -> None:
        await super().apply(ops)
        self.changed.set()

    def weight(self, real: RealKey) -> int | None:
        for s in self._table.values():
            for d in s.dests:
                if d.key == real:
                    return d.weight
        return None


def pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]


async def until_weight(dp: WatchedDataplane, weight: int) -> None:
    while dp.weight(R1) != weight:
        dp.changed.clear()
        await asyncio.wait_for(dp.changed.wait(), 10)


async def drains(n: int, tmp: Path, key: Path) -> None:
    ports = (free_port(), free_port())
    parts: list[EngineParts] = []
    dps: list[WatchedDataplane] = []
    for i, name in enumerate(("lb1", "lb2")):
        cfg = load_config_text(config(name, ports[i], ports[1 - i], key))
        assert cfg.lvstui.group is not None
        runtime = GroupRuntime.create(cfg.lvstui.group, tmp / name)
        dp = WatchedDataplane()
        engine = Engine(cfg, dataplane=dp, state_dir=tmp / name, group=runtime)
        parts.append(EngineParts(engine, dp, "bench", group=runtime))
        dps.append(dp)
    await asyncio.gather(*(p.start() for p in parts))
    lb1 = parts[0]
    try:
        assert lb1.group is not None
        assert await lb1.group.member.wait_synced(10.0), "lb2 did not answer"
        times: list[float] = []
        for _ in range(n):
            t0 = time.perf_counter()
            await lb1.engine.call(Drain(SVC, R1), who="bench")
            await until_weight(dps[1], 0)
            times.append(time.perf_counter() - t0)
            await lb1.engine.call(Undrain(SVC, R1), who="bench")
            await until_weight(dps[1], 1)
        rtts = await ping_rtts(lb1.group.member, 50)
    finally:
        for p in parts:
            await p.stop()
    ms = [t * 1000 for t in times]
    print(f"drain on lb1 -> weight 0 in lb2's dataplane, {n} drains:")
    print(
        f"  p50 {statistics.median(ms):.2f} ms   p99 {pct(ms, 0.99):.2f} ms   max {max(ms):.2f} ms"
    )
    print(
        f"  peer: TLS link round trip (a forwarded no-op command), p50 "
        f"{statistics.median(rtts):.2f} ms   p99 {pct(rtts, 0.99):.2f} ms"
    )


async def ping_rtts(member: Member, n: int) -> list[float]:
    """Round trips of a command the peer answers at once (the sink refuses a malformed
    one without touching anything): the link's floor."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await member.call("lb2", {"kind": "nonsense"}, "bench")
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def partition(changes: int, key_path: Path) -> None:
    cred = keys.load(key_path)
    clock = SystemClock()
    a = Member("lb1", [], clock)
    b = Member("lb2", [], clock)
    la = Listener("127.0.0.1:0", cred, lambda link, out: a.run_link(link, out))
    lb = Listener("127.0.0.1:0", cred, lambda link, out: b.run_link(link, out))
    await la.start()
    await lb.start()
    addr_a, addr_b = f"127.0.0.1:{la.port}", f"127.0.0.1:{lb.port}"
    a = Member("lb1", [addr_b], clock)
    b = Member("lb2", [addr_a], clock)
    # before the partition: both hold the same 2 x `changes` weights
    reals = [RealKey(f"198.51.{100 + i // 250}.{i % 250 + 1}", 80) for i in range(2 * changes)]
    ov = Overrides()
    for r in reals:
        ov = ov.set_weight((SVC, r), 1)
    await a.local_change(Overrides(), ov, "bench")
    b.store = a.store
    # partitioned (no link at all): each side changes `changes` overrides, half shared
    ova, ovb = ov, ov
    for i in range(changes):
        ova = ova.set_weight((SVC, reals[i]), 2)
        ovb = ovb.set_weight((SVC, reals[changes // 2 + i]), 3)
    await a.local_change(ov, ova, "bench")
    await b.local_change(ov, ovb, "bench")
    assert a.store.entries != b.store.entries
    da = Dialer(addr_b, cred, a.run_link)
    db = Dialer(addr_a, cred, b.run_link)
    t0 = time.perf_counter()
    da.start()
    db.start()
    try:
        for _ in range(60_000):  # polled every ms (the figure is in ms), a minute at most
            if a.store.entries == b.store.entries:
                break
            await asyncio.sleep(0.001)
        else:
            raise SystemExit("the partition did not heal within a minute")
        took = time.perf_counter() - t0
    finally:
        for x in (da, db):
            await x.close()
        for y in (la, lb):
            await y.close()
    weights = a.store.overrides().weights
    assert sum(1 for w in weights.values() if w == 3) == changes  # lb2's later changes won
    print(
        f"partition healed: {changes} overrides changed on each side ({changes // 2} on the "
        f"same servers), one table {took * 1000:.1f} ms after the links were dialled "
        f"({len(a.store)} entries)"
    )


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--drains", type=int, default=100)
    ap.add_argument("--changes", type=int, default=1000)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)  # peers lost at the end of each part: expected
    with tempfile.TemporaryDirectory(prefix="group-bench-") as d:
        tmp = Path(d)
        key = tmp / "group.pem"
        key.write_text(keys.generate())
        key.chmod(0o600)
        await drains(args.drains, tmp, key)
        await partition(args.changes, key)


if __name__ == "__main__":
    asyncio.run(main())
