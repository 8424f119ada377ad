"""End to end INSIDE the User-Mode-Linux guest: the engine, real TCP health checks, kernel IPVS.

Run from the repository: `run-in-ipvs-vm.sh .venv/bin/python tests/vm/guest_e2e.py`
(tests/test_ipvs_vm.py runs it in a second guest). Same lab as guest_ipvs.py (client
namespace, three real servers in namespaces, NAT through the director), but here nothing
is fed by hand: the engine's HealthMonitor runs TCP_CHECKs against the real servers, a
real server whose listener goes away leaves the kernel table (read with `ipvsadm -Ln`) and
comes back when it listens again, and a restart of the engine (stop without releasing, a
new engine on a new IpvsDataplane) keeps an established connection working.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import guest_ipvs as lab

from lvstui.clock import SystemClock
from lvstui.config.schema import (
    CheckCommon,
    Config,
    LbKind,
    RealServer,
    TcpCheck,
    VirtualServer,
)
from lvstui.dataplane.ipvs import IpvsDataplane
from lvstui.engine.engine import Engine
from lvstui.health.scheduler import HealthMonitor

VIP = lab.VIP_NAT
CHECK = TcpCheck(CheckCommon(connect_timeout=0.5, retry=0, warmup=0.0, delay_loop=0.3))
CONFIG = Config(
    path="<e2e>",
    virtual_servers=(
        VirtualServer(
            ip=VIP,
            port=lab.PORT,
            lb_algo="rr",
            lb_kind=LbKind.NAT,
            delay_loop=0.3,
            real_servers=tuple(RealServer(a, lab.PORT, checks=(CHECK,)) for a in lab.RS.values()),
        ),
    ),
)


class State:
    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.servers: dict[str, asyncio.AbstractServer] = {}
        self.held: lab.Conn | None = None


S = State()


async def serve(ns: str) -> None:
    with lab.netns(f"lvt-ipvs-{ns}"):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", lab.PORT))
    s.listen(128)
    s.setblocking(False)
    loop = asyncio.get_running_loop()
    S.servers[ns] = await loop.create_server(lambda: lab.NameServer(ns), sock=s)


async def unserve(ns: str) -> None:
    srv = S.servers.pop(ns)
    srv.close()  # the listener goes: connects are refused, established ones stay
    await srv.wait_closed()


def reals_in_kernel() -> dict[str, tuple[str, int]]:
    table = lab.parse_ipvsadm(lab.ipvsadm("-Ln"))
    entry = table.get(f"TCP {VIP}:{lab.PORT}")
    return {} if entry is None else {r: (f, w) for r, f, w in entry[1]}


async def until(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> float:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{what}: not within {timeout}s (kernel: {reals_in_kernel()})")
        await asyncio.sleep(0.05)
    return time.monotonic() - t0


def up(ns: str) -> bool:
    return reals_in_kernel().get(f"{lab.RS[ns]}:{lab.PORT}", ("", 0))[1] > 0


async def e_start() -> str:
    clock = SystemClock()
    S.engine = Engine(CONFIG, dataplane=IpvsDataplane(), clock=clock, health=HealthMonitor(clock))
    await S.engine.start()
    took = await until(lambda: all(up(n) for n in lab.RS), "three real servers programmed")
    reals = reals_in_kernel()
    assert all(f == "Masq" for f, _ in reals.values()), reals
    return f"kernel table after {took:.2f}s: {reals}"


async def e_traffic() -> str:
    seen = await lab.spread(VIP, 30)
    assert set(seen) == set(lab.RS), seen
    return f"{dict(seen)}"


async def e_health_out() -> str:
    await unserve("rs2")
    took = await until(lambda: not up("rs2"), "rs2 leaves the table after its check fails")
    seen = await lab.spread(VIP, 12)
    assert "rs2" not in seen and set(seen) == {"rs1", "rs3"}, seen
    return f"rs2 out {took:.2f}s after its listener closed; new connections: {dict(seen)}"


async def e_health_back() -> str:
    await serve("rs2")
    took = await until(lambda: up("rs2"), "rs2 comes back after its check passes")
    seen = await lab.spread(VIP, 12)
    assert set(seen) == set(lab.RS), seen
    return f"rs2 back {took:.2f}s after it listened again; new connections: {dict(seen)}"


async def e_restart_keeps_connection() -> str:
    conn = await lab.Conn.open(VIP)
    who = await conn.ask()
    S.held = conn
    before = reals_in_kernel()
    assert S.engine is not None
    await S.engine.stop(release=False)  # a restart: the table stays
    assert reals_in_kernel() == before
    assert await conn.ask() == who, "the connection broke while no engine ran"
    clock = SystemClock()
    S.engine = Engine(CONFIG, dataplane=IpvsDataplane(), clock=clock, health=HealthMonitor(clock))
    await S.engine.start()
    await asyncio.sleep(1.0)  # let the new engine's first checks and tick run
    after = reals_in_kernel()
    assert after == before, f"restart changed the table: {before} -> {after}"
    assert await conn.ask() == who, "the established connection did not survive the restart"
    return f"connection to {who} answered before, during and after the restart; table {after}"


async def e_stop_releases() -> str:
    assert S.held is not None
    await S.held.close()
    assert S.engine is not None
    await S.engine.stop()  # the default: keepalived's, remove the services we created
    assert reals_in_kernel() == {}, lab.ipvsadm("-Ln")
    return "service removed from the kernel on stop"


CHECKS: list[tuple[str, Callable[[], Awaitable[str | None]]]] = [
    ("e2e_engine_start", e_start),
    ("e2e_traffic_spread", e_traffic),
    ("e2e_health_check_fails_server_out", e_health_out),
    ("e2e_health_check_brings_server_back", e_health_back),
    ("e2e_restart_keeps_established_connection", e_restart_keeps_connection),
    ("e2e_stop_releases", e_stop_releases),
]


async def main() -> int:
    try:
        lab.build_lab()
        for ns in lab.RS:
            await serve(ns)
    except Exception:
        lab.emit("e2e_lab", False, traceback.format_exc())
        return 1
    lab.emit("e2e_lab", True)
    for name, fn in CHECKS:
        if not await lab.check(name, fn):
            break  # each step needs the previous one
    for srv in S.servers.values():
        srv.close()
        await srv.wait_closed()
    return 0 if all(r["ok"] for r in lab.RESULTS) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
