"""Checks of the kernel IPVS dataplane, run INSIDE a User-Mode-Linux guest (root, real ip_vs).

Run from the repository: `run-in-ipvs-vm.sh .venv/bin/python tests/vm/guest_ipvs.py`
(tests/test_ipvs_vm.py does it, once per test module). Prints one JSON line per check:
`{"name": ..., "ok": true|false, "detail": ...}`; the host turns each into a test.

The lab, built in the guest (nothing leaves it):

    client ns lvt-ipvs-cli            director (guest root ns)            real servers
    198.51.100.2 ── veth ── 198.51.100.1 (VIPs .10 NAT, .20 DR)
                                      203.0.113.1 on bridge br-rs ── rs1..rs3: 203.0.113.11-13
    203.0.113.100 (client's second leg on br-rs: where DR replies go back, by policy routing)

Real servers and clients live in ONE asyncio process: a socket belongs to the network
namespace it was created in, so we create each in its namespace (setns) and serve them all
from this loop (starting a Python per namespace costs seconds in the guest).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import socket
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO))

from lvstui.config.schema import LbKind, Protocol  # noqa: E402
from lvstui.dataplane.base import (  # noqa: E402
    AddDest,
    AddService,
    DelService,
    DesiredDest,
    DesiredService,
    EditDest,
    ObservedService,
    SyncOptions,
    SyncRole,
)
from lvstui.dataplane.ipvs import IPVS_SCHEDULERS, IpvsDataplane  # noqa: E402
from lvstui.dataplane.reconcile import reconcile  # noqa: E402
from lvstui.errors import DataplaneError  # noqa: E402
from lvstui.model import RealKey, ServiceKey  # noqa: E402

CLI = "lvt-ipvs-cli"
RS = {"rs1": "203.0.113.11", "rs2": "203.0.113.12", "rs3": "203.0.113.13"}
VIP_NAT = "198.51.100.10"
VIP_DR = "198.51.100.20"
VIP_TUN = "198.51.100.30"
VIP_FWM = "198.51.100.40"  # reached by a marked local client: the fwmark service takes it
CLIENT = "198.51.100.2"
PORT = 80

RESULTS: list[dict[str, Any]] = []


def emit(name: str, ok: bool, detail: str = "") -> None:
    rec = {"name": name, "ok": bool(ok), "detail": detail[-4000:]}
    RESULTS.append(rec)
    print(json.dumps(rec), flush=True)


async def check(name: str, fn: Callable[[], Awaitable[str | None]]) -> bool:
    try:
        detail = await asyncio.wait_for(fn(), 60)
    except Exception:
        emit(name, False, traceback.format_exc())
        return False
    emit(name, True, detail or "")
    return True


def sh(script: str) -> str:
    r = subprocess.run(["sh", "-ec", script], capture_output=True, text=True, timeout=60)
    if r.returncode:
        raise RuntimeError(f"shell failed ({r.returncode}): {script}\n{r.stdout}{r.stderr}")
    return r.stdout


def ipvsadm(*args: str) -> str:
    r = subprocess.run(["ipvsadm", *args], capture_output=True, text=True, timeout=30)
    if r.returncode:
        raise RuntimeError(f"ipvsadm {' '.join(args)}: {r.stderr}")
    return r.stdout


# --- namespaces ------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def netns(name: str | None) -> Iterator[None]:
    """Run the block with this thread in network namespace `name` (None: stay)."""
    if name is None:
        yield
        return
    with open("/proc/self/ns/net", "rb") as home, open(f"/run/netns/{name}", "rb") as there:
        if _libc.setns(there.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {name}")
        try:
            yield
        finally:
            if _libc.setns(home.fileno(), CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")


def build_lab() -> None:
    lines = [
        "modprobe -q veth || true",
        "modprobe -q bridge || true",
        "modprobe -q ipip || true",
        "sysctl -qw net.ipv4.ip_forward=1",
        "sysctl -qw net.ipv4.conf.all.rp_filter=0",
        "sysctl -qw net.ipv4.conf.default.rp_filter=0",
        f"ip netns add {CLI}",
        f"ip link add d-cli type veth peer name c0 netns {CLI}",
        "ip addr add 198.51.100.1/24 dev d-cli",
        f"ip addr add {VIP_NAT}/32 dev d-cli",
        f"ip addr add {VIP_DR}/32 dev d-cli",
        f"ip addr add {VIP_TUN}/32 dev d-cli",
        f"ip addr add {VIP_FWM}/32 dev d-cli",
        "ip link set d-cli up",
        f"ip -n {CLI} link set lo up",
        f"ip -n {CLI} addr add {CLIENT}/24 dev c0",
        f"ip -n {CLI} link set c0 up",
        f"ip -n {CLI} route add default via 198.51.100.1",
        "ip link add br-rs type bridge",
        "ip addr add 203.0.113.1/24 dev br-rs",
        "ip link set br-rs up",
        # the client's second leg on the real servers' segment: DR replies come back there
        f"ip link add d-cli2 type veth peer name c1 netns {CLI}",
        "ip link set d-cli2 master br-rs up",
        f"ip -n {CLI} addr add 203.0.113.100/24 dev c1",
        f"ip -n {CLI} link set c1 up",
        f"ip netns exec {CLI} sysctl -qw net.ipv4.conf.all.rp_filter=0",
        f"ip netns exec {CLI} sysctl -qw net.ipv4.conf.c1.rp_filter=0",
        f"ip netns exec {CLI} sysctl -qw net.ipv4.conf.c0.rp_filter=0",
    ]
    for ns, addr in RS.items():
        n = f"lvt-ipvs-{ns}"
        lines += [
            f"ip netns add {n}",
            f"ip link add d-{ns} type veth peer name eth0 netns {n}",
            f"ip link set d-{ns} master br-rs up",
            f"ip -n {n} link set lo up",
            f"ip -n {n} addr add {addr}/24 dev eth0",
            f"ip -n {n} link set eth0 up",
            # NAT: the route back to clients goes through the director
            f"ip -n {n} route add default via 203.0.113.1",
            # DR: the VIP on the loopback, and the two ARP sysctls (the tutorial's recipe)
            f"ip -n {n} addr add {VIP_DR}/32 dev lo",
            f"ip netns exec {n} sysctl -qw net.ipv4.conf.all.arp_ignore=1",
            f"ip netns exec {n} sysctl -qw net.ipv4.conf.all.arp_announce=2",
            f"ip netns exec {n} sysctl -qw net.ipv4.conf.all.rp_filter=0",
            # replies from the VIP go straight to the client (not back through the director)
            f"ip -n {n} rule add from {VIP_DR} lookup 100",
            # TUN: IP-in-IP arrives on tunl0; the VIP is local; replies go out directly
            f"ip -n {n} addr add {VIP_TUN}/32 dev lo",
            f"ip -n {n} link set tunl0 up",
            f"ip netns exec {n} sysctl -qw net.ipv4.conf.tunl0.rp_filter=0",
            f"ip -n {n} rule add from {VIP_TUN} lookup 100",
            f"ip -n {n} route add 198.51.100.0/24 via 203.0.113.100 dev eth0 table 100",
        ]
    sh("\n".join(lines))


# --- real servers and clients ----------------------------------------------------------------


class NameServer(asyncio.Protocol):
    """Answers every line with the server's name (so a client can tell who answered)."""

    def __init__(self, name: str) -> None:
        self.name = name.encode()
        self.buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\n" in self.buf:
            _, self.buf = self.buf.split(b"\n", 1)
            self.transport.write(self.name + b"\n")  # type: ignore[attr-defined]


SERVERS: list[asyncio.AbstractServer] = []


async def start_servers() -> None:
    loop = asyncio.get_running_loop()
    for ns in RS:
        with netns(f"lvt-ipvs-{ns}"):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", PORT))
        s.listen(128)
        s.setblocking(False)
        SERVERS.append(await loop.create_server(lambda n=ns: NameServer(n), sock=s))


class Conn:
    """A TCP connection from the client namespace."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, addr: str, port: int = PORT, *, mark: int = 0) -> Conn:
        """From the client namespace; with `mark`, from the director itself with SO_MARK
        (a mark does not survive the trip between namespaces)."""
        with netns(None if mark else CLI):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if mark:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
        s.setblocking(False)
        try:
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(s, (addr, port)), 5)
        except BaseException:
            s.close()
            raise
        r, w = await asyncio.open_connection(sock=s)
        return cls(r, w)

    async def ask(self) -> str:
        self.writer.write(b"who\n")
        await self.writer.drain()
        line = await asyncio.wait_for(self.reader.readline(), 5)
        if not line:
            raise ConnectionError("connection closed by peer")
        return line.decode().strip()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


async def spread(addr: str, n: int, mark: int = 0) -> Counter[str]:
    seen: Counter[str] = Counter()
    for _ in range(n):
        c = await Conn.open(addr, mark=mark)
        try:
            seen[await c.ask()] += 1
        finally:
            await c.close()
    return seen


# --- helpers ---------------------------------------------------------------------------------

TCP = Protocol.TCP


def svc(addr: str, port: int = PORT, proto: Protocol = TCP) -> ServiceKey:
    return ServiceKey(proto, addr, port, family=6 if ":" in addr else 4)


def desired_web(vip: str, fwd: LbKind, weights: dict[str, int] | None = None) -> DesiredService:
    w = weights or {}
    return DesiredService(
        svc(vip),
        "rr",
        dests=tuple(DesiredDest(RealKey(addr, PORT), w.get(ns, 1), fwd) for ns, addr in RS.items()),
    )


def parse_ipvsadm(text: str) -> dict[str, tuple[str, list[tuple[str, str, int]]]]:
    """`ipvsadm -Ln` → {service name: (rest of its line, [(real, fwd, weight)])}."""
    out: dict[str, tuple[str, list[tuple[str, str, int]]]] = {}
    cur = None
    for line in text.splitlines()[3:]:
        if line.startswith("  -> "):
            f = line[5:].split()
            assert cur is not None
            out[cur][1].append((f[0], f[1], int(f[2])))
        else:
            f = line.split()
            if f[0] == "FWM":
                name = f"FWM {f[1]}" + (" IPv6" if len(f) > 2 and f[2] == "IPv6" else "")
                rest = " ".join(f[3:] if name.endswith("IPv6") else f[2:])
            else:
                name = f"{f[0]} {f[1]}"
                rest = " ".join(f[2:])
            cur = name
            out[cur] = (rest, [])
    return out


def obs_name(o: ObservedService) -> str:
    k = o.key
    if k.fwmark:
        return f"FWM {k.fwmark}" + (" IPv6" if k.family == 6 else "")
    return f"{k.protocol.value} {k.hostport}"


FWD_NAME = {LbKind.NAT: "Masq", LbKind.DR: "Route", LbKind.TUN: "Tunnel"}


def compare_with_ipvsadm(observed: list[ObservedService]) -> str:
    table = parse_ipvsadm(ipvsadm("-Ln"))
    mine = {obs_name(o): o for o in observed}
    assert set(table) == set(mine), f"services differ: ipvsadm {sorted(table)} vs {sorted(mine)}"
    for name, (rest, reals) in table.items():
        o = mine[name]
        assert rest.split()[0] == o.scheduler, (name, rest, o.scheduler)
        got = sorted((str(d.key), FWD_NAME[d.fwd], d.weight) for d in o.dests)
        assert got == sorted(reals), (name, got, sorted(reals))
    return f"{len(table)} services, {sum(len(r) for _, r in table.values())} real servers equal"


# --- the checks ------------------------------------------------------------------------------


class Lab:
    dp: IpvsDataplane
    held: Conn | None = None
    owned: set[ServiceKey]
    desired: list[DesiredService]


LAB = Lab()


async def c_start() -> str:
    ipvsadm("-C")  # a fresh guest has an empty table; make sure
    LAB.dp = IpvsDataplane()
    await LAB.dp.start()
    assert list(await LAB.dp.observe()) == []
    return f"capabilities: {sorted(LAB.dp.capabilities.schedulers)}"


async def c_all_schedulers() -> str:
    dp = LAB.dp
    ops: list[Any] = []
    flags = {
        "sh": frozenset({"sh-fallback", "sh-port"}),
        "mh": frozenset({"mh-fallback", "mh-port"}),
    }
    missing = []
    for i, sched in enumerate(sorted(IPVS_SCHEDULERS)):
        k = svc("192.0.2.1", 1000 + i)
        try:
            await dp.apply(
                [AddService(DesiredService(k, sched, flags=flags.get(sched, frozenset())))]
            )
        except DataplaneError as e:
            # a kernel built without this scheduler: the error must say so, clearly
            assert "not available" in str(e) and sched in str(e), str(e)
            missing.append(sched)
            continue
        ops.append(AddDest(k, DesiredDest(RealKey("203.0.113.11", 80), 3, LbKind.NAT)))
        ops.append(AddDest(k, DesiredDest(RealKey("203.0.113.12", 80), 1, LbKind.DR, 100, 10)))
    await dp.apply(ops)
    obs = {o.key: o for o in await dp.observe()}
    text = ipvsadm("-Ln")
    for i, sched in enumerate(sorted(IPVS_SCHEDULERS)):
        if sched in missing:
            continue
        o = obs[svc("192.0.2.1", 1000 + i)]
        assert o.scheduler == sched
        assert o.flags == flags.get(sched, frozenset()), (sched, o.flags)
        d = {x.key.addr: x for x in o.dests}
        assert d["203.0.113.11"].fwd is LbKind.NAT and d["203.0.113.11"].weight == 3
        assert d["203.0.113.12"].fwd is LbKind.DR and d["203.0.113.12"].u_threshold == 100
        assert d["203.0.113.12"].l_threshold == 10
    assert "sh (sh-fallback,sh-port)" in text and "mh (mh-fallback,mh-port)" in text, text
    compare_with_ipvsadm(list(obs.values()))
    # thresholds as ipvsadm shows them
    thr = ipvsadm("-Ln", "--thresholds", "-t", "192.0.2.1:1000")
    row = next(x.split() for x in thr.splitlines() if "203.0.113.12:80" in x)
    assert row[2:4] == ["100", "10"], thr
    await dp.apply([DelService(k) for k in obs])
    assert list(await dp.observe()) == []
    return f"{len(obs)} schedulers programmed and read back; unavailable here: {missing}"


async def c_families() -> str:
    """IPv6, UDP + one-packet scheduling, SCTP, fwmark (v4 and v6), persistence + netmask,
    TUN; read back equal to ipvsadm; and an idempotent reconcile afterwards."""
    dp = LAB.dp
    desired = [
        DesiredService(
            svc("2001:db8::1", 53, Protocol.UDP),
            "sh",
            flags=frozenset({"ops", "sh-port"}),
            persistence_timeout=60,
            netmask="/64",
            dests=(DesiredDest(RealKey("2001:db8::2", 53), 5, LbKind.TUN),),
        ),
        DesiredService(
            ServiceKey(TCP, "", 0, fwmark=7),
            "wlc",
            persistence_timeout=300,
            netmask="255.255.255.0",
            dests=(
                DesiredDest(RealKey("203.0.113.11", 0), 2, LbKind.DR),
                DesiredDest(RealKey("203.0.113.12", 0), 4, LbKind.NAT),
            ),
        ),
        DesiredService(
            ServiceKey(TCP, "", 0, fwmark=8, family=6),
            "wrr",
            dests=(DesiredDest(RealKey("2001:db8::3", 0), 1, LbKind.DR),),
        ),
        DesiredService(
            svc("192.0.2.5", 9, Protocol.SCTP),
            "lc",
            dests=(DesiredDest(RealKey("203.0.113.13", 9), 7, LbKind.NAT),),
        ),
    ]
    await dp.apply(reconcile(desired, await dp.observe()))
    obs = list(await dp.observe())
    detail = compare_with_ipvsadm(obs)
    text = ipvsadm("-Ln")
    for want in (
        "UDP  [2001:db8::1]:53 sh (sh-port) persistent 60 mask 64 ops",
        "FWM  7 wlc persistent 300 mask 255.255.255.0",
        "FWM  8 IPv6 wrr",
        "SCTP 192.0.2.5:9 lc",
    ):
        assert want in text, f"{want!r} not in\n{text}"
    again = reconcile(desired, obs)
    assert again == [], f"reconcile after apply is not empty: {again}"
    # edits in place the other way: persistence and flags off, another scheduler
    plain = [replace(s, scheduler="wrr", flags=frozenset(), persistence_timeout=None, netmask=None)
             for s in desired]  # fmt: skip
    ops = reconcile(plain, await dp.observe())
    assert {type(o).__name__ for o in ops} == {"EditService"}, ops
    await dp.apply(ops)
    assert reconcile(plain, await dp.observe()) == []
    text2 = ipvsadm("-Ln")
    assert "persistent" not in text2 and "ops" not in text2 and "sh-port" not in text2, text2
    assert text2.count(" wrr\n") == 4, text2
    await dp.apply([DelService(s.key) for s in desired])
    return detail + "; reconcile afterwards: no op; persistence/flags edited off in place"


async def c_edit_in_place() -> str:
    """A weight change is a SET that keeps the forwarding method (pyroute2 trap)."""
    dp = LAB.dp
    d = desired_web("192.0.2.50", LbKind.NAT)
    await dp.apply(reconcile([d], await dp.observe(), owned={d.key}))
    d2 = desired_web("192.0.2.50", LbKind.NAT, {"rs1": 9})
    ops = reconcile([d2], await dp.observe(), owned={d.key})
    assert [type(o).__name__ for o in ops] == ["EditDest"], ops
    await dp.apply(ops)
    table = parse_ipvsadm(ipvsadm("-Ln"))
    reals = table["TCP 192.0.2.50:80"][1]
    assert ("203.0.113.11:80", "Masq", 9) in reals, reals
    assert all(f == "Masq" for _, f, _ in reals), reals
    await dp.apply([DelService(d.key)])
    return f"after set: {reals}"


async def c_errors() -> str:
    dp = LAB.dp
    d = DesiredService(svc("192.0.2.60"), "rr")
    await dp.apply([AddService(d)])
    msgs = []
    try:
        await dp.apply([AddService(d)])
        raise AssertionError("adding an existing service did not fail")
    except DataplaneError as e:
        assert "192.0.2.60:80" in str(e) and "already exists" in str(e), str(e)
        msgs.append(str(e).splitlines()[0])
    try:
        await dp.apply([EditDest(d.key, DesiredDest(RealKey("203.0.113.99", 80), 1))])
        raise AssertionError("editing a missing real server did not fail")
    except DataplaneError as e:
        assert "203.0.113.99:80" in str(e) and "no such real server" in str(e), str(e)
        msgs.append(str(e).splitlines()[0])
    try:
        await dp.apply([AddService(DesiredService(svc("192.0.2.61"), "nosuch"))])
        raise AssertionError("an unknown scheduler did not fail")
    except DataplaneError as e:
        assert "nosuch" in str(e), str(e)
        msgs.append(str(e).splitlines()[0])
    await dp.apply([DelService(d.key)])
    return " | ".join(msgs)


async def c_batch_error() -> str:
    """A failure in the middle of a batch names that operation (not the batch's first)."""
    dp = LAB.dp
    k = svc("192.0.2.70")
    r1 = DesiredDest(RealKey("203.0.113.11", 80), 1)
    r2 = DesiredDest(RealKey("203.0.113.12", 80), 1)
    try:
        await dp.apply([AddService(DesiredService(k, "rr")), AddDest(k, r1), AddDest(k, r1),
                        AddDest(k, r2)])  # fmt: skip
        raise AssertionError("a duplicate real server in a batch was accepted")
    except DataplaneError as e:
        text = str(e)
        assert text.startswith("add real TCP 192.0.2.70:80 -> 203.0.113.11:80"), text
        assert "already exists" in text, text
    obs = next(o for o in await dp.observe() if o.key == k)
    await dp.apply([DelService(k)])
    return f"{text.splitlines()[0]}; table after: {sorted(str(d.key) for d in obs.dests)}"


async def c_large_table() -> str:
    """300 services x 6 real servers (several datagrams) read back equal to ipvsadm, then
    removed by reconcile."""
    dp = LAB.dp
    desired = [
        DesiredService(
            svc(f"192.0.2.{100 + i // 50}", 2000 + i % 50),
            ("wrr", "wlc", "sh", "rr")[i % 4],
            dests=tuple(
                DesiredDest(
                    RealKey(f"203.0.113.{50 + j}", 2000 + i % 50),
                    1 + (i + j) % 7,
                    (LbKind.NAT, LbKind.DR, LbKind.TUN)[j % 3],
                )
                for j in range(6)
            ),
        )
        for i in range(300)
    ]
    owned = {d.key for d in desired}
    t0 = time.monotonic()
    await dp.apply(reconcile(desired, await dp.observe(), owned=owned))
    t1 = time.monotonic()
    obs = [o for o in await dp.observe() if o.key in owned]
    detail = compare_with_ipvsadm(list(await dp.observe()))
    assert len(obs) == 300 and all(len(o.dests) == 6 for o in obs)
    assert reconcile(desired, obs, owned=owned) == []
    # and lvstui's listing of this big table (ipvsadm's sort order) is ipvsadm's, byte for byte
    from lvstui.dataplane.listing import render

    text = ipvsadm("-Ln")
    mine = render(list(await dp.observe()))
    assert mine == text, f"listing differs:\n{_diff(text, mine)}"
    await dp.apply(reconcile([], await dp.observe(), owned=owned))
    assert not [o for o in await dp.observe() if o.key in owned]
    return f"{detail}; programmed in {t1 - t0:.2f}s; listing identical"


async def c_big_service_dump() -> str:
    """A service with 600 real servers (its dump spans several messages) among small ones:
    the pipelined dumps read every real server of every service, like ipvsadm."""
    dp = LAB.dp
    desired = [
        DesiredService(
            svc("192.0.2.90", 3000 + i),
            "wlc",
            dests=tuple(
                DesiredDest(RealKey(f"10.{i}.{j // 250}.{1 + j % 250}", 80), 1 + j % 3)
                for j in range(600 if i == 1 else 3)
            ),
        )
        for i in range(12)
    ]
    owned = {d.key for d in desired}
    await dp.apply(reconcile(desired, await dp.observe(), owned=owned))
    retries = dp.dump_retries
    obs = [o for o in await dp.observe() if o.key in owned]
    assert dp.dump_retries > retries, "the long dump did not make the next ones retry"
    assert sorted(len(o.dests) for o in obs) == [3] * 11 + [600], [len(o.dests) for o in obs]
    assert reconcile(desired, obs, owned=owned) == []
    detail = compare_with_ipvsadm(list(await dp.observe()))
    await dp.apply([DelService(k) for k in owned])
    return f"{detail}; {dp.dump_retries - retries} dumps asked again after EBUSY"


async def c_nat_traffic() -> str:
    dp = LAB.dp
    d = desired_web(VIP_NAT, LbKind.NAT)
    await dp.apply(reconcile([d], await dp.observe(), owned={d.key}))
    seen = await spread(VIP_NAT, 30)
    assert set(seen) == set(RS) and max(seen.values()) - min(seen.values()) <= 1, seen
    return f"NAT rr over 30 connections: {dict(seen)}"


async def c_dr_traffic() -> str:
    dp = LAB.dp
    d = desired_web(VIP_DR, LbKind.DR)
    await dp.apply(reconcile([d], await dp.observe(), owned={d.key}))
    seen = await spread(VIP_DR, 30)
    assert set(seen) == set(RS) and max(seen.values()) - min(seen.values()) <= 1, seen
    text = ipvsadm("-Ln", "-t", f"{VIP_DR}:80")
    assert text.count("Route") == 3, text
    return f"DR rr over 30 connections: {dict(seen)}"


async def c_tun_traffic() -> str:
    dp = LAB.dp
    d = desired_web(VIP_TUN, LbKind.TUN)
    await dp.apply(reconcile([d], await dp.observe(), owned={d.key}))
    seen = await spread(VIP_TUN, 30)
    assert set(seen) == set(RS) and max(seen.values()) - min(seen.values()) <= 1, seen
    text = ipvsadm("-Ln", "-t", f"{VIP_TUN}:80")
    assert text.count("Tunnel") == 3, text
    await dp.apply([DelService(d.key)])
    return f"TUN (IP-in-IP) rr over 30 connections: {dict(seen)}"


async def c_fwmark_traffic() -> str:
    """A fwmark service carries marked traffic (here: a local client with SO_MARK)."""
    dp = LAB.dp
    key = ServiceKey(TCP, "", 0, fwmark=33)
    d = DesiredService(
        key, "rr", dests=tuple(DesiredDest(RealKey(a, PORT), 1, LbKind.NAT) for a in RS.values())
    )
    await dp.apply(reconcile([d], await dp.observe(), owned={key}))
    seen = await spread(VIP_FWM, 15, mark=33)
    assert set(seen) == set(RS) and max(seen.values()) - min(seen.values()) <= 1, seen
    await dp.apply([DelService(key)])
    return f"FWM 33 rr over 15 marked connections: {dict(seen)}"


async def c_weight_change_keeps_connection() -> str:
    dp = LAB.dp
    conn = await Conn.open(VIP_NAT)
    who = await conn.ask()
    LAB.held = conn
    weights = dict.fromkeys(RS, 1)
    weights[who] = 5
    d = desired_web(VIP_NAT, LbKind.NAT, weights)
    ops = reconcile([d], await dp.observe(), owned={d.key})
    assert [type(o).__name__ for o in ops] == ["EditDest"], ops
    await dp.apply(ops)
    again = await conn.ask()
    assert again == who, (who, again)
    # drain it (weight 0): the established connection still works, new ones go elsewhere
    weights[who] = 0
    d0 = desired_web(VIP_NAT, LbKind.NAT, weights)
    await dp.apply(reconcile([d0], await dp.observe(), owned={d.key}))
    assert await conn.ask() == who
    seen = await spread(VIP_NAT, 6)
    assert who not in seen, seen
    weights[who] = 1
    d1 = desired_web(VIP_NAT, LbKind.NAT, weights)
    await dp.apply(reconcile([d1], await dp.observe(), owned={d.key}))
    return f"held connection to {who} answered after weight 5 and weight 0; new ones: {dict(seen)}"


async def c_restart_adopts() -> str:
    """A new dataplane instance (a daemon restart) adopts the table: no op, no drop."""
    assert LAB.held is not None
    who = await LAB.held.ask()
    # a service someone else programmed by hand: not ours, must be left alone
    ipvsadm("-A", "-t", "192.0.2.99:80", "-s", "rr")
    before = ipvsadm("-Ln")
    await LAB.dp.close()
    desired = [desired_web(VIP_NAT, LbKind.NAT), desired_web(VIP_DR, LbKind.DR)]
    dp = IpvsDataplane()
    await dp.start()
    LAB.dp = dp
    ops = reconcile(desired, await dp.observe(), owned={d.key for d in desired})
    assert ops == [], f"restart would change the table: {ops}"
    await dp.apply(ops)
    after = ipvsadm("-Ln")
    assert before == after, f"table changed:\n{before}\n{after}"
    assert await LAB.held.ask() == who
    assert "192.0.2.99:80" in after
    ipvsadm("-D", "-t", "192.0.2.99:80")
    return f"no op on restart; held connection to {who} still answers"


async def c_stats() -> str:
    """Counters and rates from STATS64 agree with ipvsadm --stats/--rate --exact."""
    dp = LAB.dp
    key = svc(VIP_NAT)
    await spread(VIP_NAT, 12)
    deadline = time.monotonic() + 8
    while True:  # the kernel estimator ticks every 2 s
        o = next(s for s in await dp.observe() if s.key == key)
        if o.stats.conns >= 12 and o.stats.inbytes > 0 and o.stats.cps > 0:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"stats did not show up: {o.stats}")
        await asyncio.sleep(0.25)
    for _ in range(5):
        a = ipvsadm("-Ln", "--stats", "--exact")
        o = next(s for s in await dp.observe() if s.key == key)
        b = ipvsadm("-Ln", "--stats", "--exact")
        if a == b:
            break
    line = next(x.split() for x in a.splitlines() if x.startswith(f"TCP  {VIP_NAT}:80 "))
    nums = [int(x) for x in line[2:7]]
    st = o.stats
    assert nums == [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes], (nums, st)
    per_real = sum(d.stats.conns for d in o.dests)
    assert per_real == st.conns, (per_real, st.conns)
    return f"service stats {st}"


BACKUP = "lvt-ipvs-bk"


async def c_sync_replicates() -> str:
    """Master here, backup director in its own namespace (IPVS is per namespace): the
    kernel's sync daemons copy our established connection to the backup's table."""
    sh(
        "\n".join(
            [
                f"ip netns add {BACKUP}",
                f"ip link add sync0 type veth peer name sync1 netns {BACKUP}",
                "ip addr add 192.0.2.251/24 dev sync0",
                "ip link set sync0 up",
                f"ip -n {BACKUP} addr add 192.0.2.252/24 dev sync1",
                f"ip -n {BACKUP} link set sync1 up",
                f"ip -n {BACKUP} link set lo up",
            ]
        )
    )
    # the backup director: same service, programmed by lvstui in that namespace
    with netns(BACKUP):
        bk = IpvsDataplane()
        await bk.start()
    try:
        d = desired_web(VIP_NAT, LbKind.NAT)
        await bk.apply(reconcile([d], await bk.observe()))
        await bk.set_sync_role(SyncRole.BACKUP, "sync1", 9)
        await LAB.dp.set_sync_role(SyncRole.MASTER, "sync0", 9)
        conn = await Conn.open(VIP_NAT)
        try:
            who = await conn.ask()
            deadline = time.monotonic() + 15
            want = f"{RS[who]}:80"
            while True:
                for _ in range(3):  # packets: a connection is synced after a few of them
                    assert await conn.ask() == who
                table = sh(f"ip netns exec {BACKUP} ipvsadm -Lnc")
                rows = [x for x in table.splitlines() if f"{VIP_NAT}:80" in x and want in x]
                if any("ESTABLISHED" in x for x in rows):
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"no synced connection in the backup:\n{table}")
                await asyncio.sleep(0.5)
        finally:
            await conn.close()
        return f"backup holds: {rows[0].strip()}"
    finally:
        await LAB.dp.set_sync_role(SyncRole.NONE)
        await bk.set_sync_role(SyncRole.NONE)
        await bk.close()


async def c_sync_daemon() -> str:
    dp = LAB.dp
    await dp.set_sync_role(SyncRole.MASTER, "d-cli", 5)
    text = ipvsadm("-L", "--daemon")
    assert "master sync daemon (mcast=d-cli, syncid=5," in text, text
    assert [(d.role, d.interface, d.syncid) for d in await dp.daemons()] == [
        (SyncRole.MASTER, "d-cli", 5)
    ]
    await dp.set_sync_role(SyncRole.MASTER, "d-cli", 5)  # idempotent
    await dp.set_sync_role(SyncRole.BACKUP, "d-cli", 6)
    text2 = ipvsadm("-L", "--daemon")
    assert "backup sync daemon (mcast=d-cli, syncid=6," in text2, text2
    assert "master" not in text2, text2
    # keepalived's lvs_sync_daemon options reach the kernel
    await dp.set_sync_role(SyncRole.MASTER, "d-cli", 7, SyncOptions(1200, "239.1.2.3", 8900, 3))
    text4 = ipvsadm("-L", "--daemon")
    want4 = "master sync daemon (mcast=d-cli, syncid=7, maxlen=1200, group=239.1.2.3, port=8900"
    assert want4 in text4 and "ttl=3" in text4, text4
    (d4,) = await dp.daemons()
    assert (d4.maxlen, d4.group, d4.port, d4.ttl) == (1200, "239.1.2.3", 8900, 3), d4
    await dp.set_sync_role(SyncRole.NONE)
    text3 = ipvsadm("-L", "--daemon")
    assert text3.strip() == "", text3
    assert await dp.daemons() == []
    return f"{text.strip()} → {text2.strip()} → (none)"


async def c_lvs_timeouts() -> str:
    """keepalived's lvs_timeouts: ipvsadm --set through netlink, read back by ipvsadm."""
    dp = LAB.dp
    await dp.set_timeouts(7200, 60, 45)
    text = ipvsadm("-L", "--timeout")
    assert "Timeout (tcp tcpfin udp): 7200 60 45" in text, text
    await dp.set_timeouts(None, None, 30)  # the others keep their values
    text2 = ipvsadm("-L", "--timeout")
    assert "Timeout (tcp tcpfin udp): 7200 60 30" in text2, text2
    await dp.set_timeouts(900, 120, 300)  # the kernel's defaults again
    return f"{text.strip()} → {text2.strip()}"


# --- listing: lvstui's renderer against ipvsadm, byte for byte --------------------------------

LISTINGS = {
    "plain": (["-Ln"], {}),
    "stats": (["-Ln", "--stats"], {"stats": True}),
    "rate": (["-Ln", "--rate"], {"rate": True}),
    "exact": (["-Ln", "--stats", "--exact"], {"stats": True, "exact": True}),
    "rate_exact": (["-Ln", "--rate", "--exact"], {"rate": True, "exact": True}),
    "plain_exact": (["-Ln", "--exact"], {"exact": True}),
    "persistent_conn": (["-Ln", "--persistent-conn"], {"persistent_conn": True}),
    "thresholds": (["-Ln", "--thresholds"], {"thresholds": True}),
}


async def listing_setup() -> str:
    dp = LAB.dp
    extra = [
        DesiredService(
            svc("2001:db8::10", 443),
            "wlc",
            dests=(
                DesiredDest(RealKey("2001:db8::11", 443), 3, LbKind.DR),
                DesiredDest(RealKey("2001:db8::12", 8443), 1, LbKind.TUN),
            ),
        ),
        DesiredService(
            ServiceKey(TCP, "", 0, fwmark=21),
            "sh",
            flags=frozenset({"sh-port"}),
            persistence_timeout=120,
            netmask="255.255.0.0",
            dests=(DesiredDest(RealKey("203.0.113.11", 0), 2, LbKind.DR),),
        ),
        DesiredService(
            svc("192.0.2.77", 53, Protocol.UDP),
            "mh",
            flags=frozenset({"ops", "mh-fallback"}),
            dests=(
                DesiredDest(RealKey("203.0.113.12", 53), 1, LbKind.NAT, 50, 5),
                DesiredDest(RealKey("203.0.113.13", 53), 100, LbKind.TUN),
            ),
        ),
        DesiredService(
            svc("10.0.0.1", 8080),
            "rr",
            persistence_timeout=30,
            dests=(DesiredDest(RealKey("10.0.0.2", 8080), 1, LbKind.NAT),),
        ),
    ]
    desired = [desired_web(VIP_NAT, LbKind.NAT), desired_web(VIP_DR, LbKind.DR), *extra]
    await dp.apply(reconcile(desired, await dp.observe(), owned={d.key for d in desired}))
    await spread(VIP_DR, 5)
    # wait for the kernel's rate estimator (2 s ticks) so --rate compares real numbers
    deadline = time.monotonic() + 8
    while not any(o.stats.inbps for o in await dp.observe()):
        if time.monotonic() > deadline:
            raise AssertionError("rates stayed at zero")
        await asyncio.sleep(0.25)
    return f"{len(desired)} services, rates moving"


def _diff(a: str, b: str) -> str:
    import difflib

    return "".join(
        difflib.unified_diff(
            a.splitlines(True), b.splitlines(True), "ipvsadm", "lvstui.dataplane.listing"
        )
    )


def listing_check(mode: str) -> Callable[[], Awaitable[str]]:
    async def run() -> str:
        from lvstui.dataplane.listing import ListOptions, render

        args, opts = LISTINGS[mode]
        diff = ""
        for _ in range(6):  # counters and rates move: compare a stable moment
            a = ipvsadm(*args)
            obs = list(await LAB.dp.observe())
            b = ipvsadm(*args)
            if a != b:
                continue
            mine = render(obs, ListOptions(**opts))
            if mine == a:
                return f"{len(a.splitlines())} lines identical"
            diff = _diff(a, mine)
        raise AssertionError(f"ipvsadm {' '.join(args)} differs:\n{diff}")

    return run


async def c_contract() -> str:
    """The shared dataplane contract suite (tests/dataplane/contract.py) on the kernel."""
    from tests.dataplane.contract import CHECKS as CONTRACT
    from tests.dataplane.contract import ContractContext, run_contract

    async def reopen() -> IpvsDataplane:
        return IpvsDataplane()  # a new instance over the same kernel table

    ctx = ContractContext(
        vip="192.0.2.200", reals=("203.0.113.21", "203.0.113.22", "203.0.113.23"), reopen=reopen
    )
    # the suite expects a dataplane of its own (its reconciles own everything they see)
    ipvsadm("-C")
    failures = await run_contract(LAB.dp, ctx)
    assert not failures, "\n".join(f"{n}:\n{t}" for n, t in failures)
    left = list(await LAB.dp.observe())
    assert left == [], f"the contract suite left services behind: {left}"
    return f"{len(CONTRACT)} contract checks passed on kernel IPVS"


CHECKS: list[tuple[str, Callable[[], Awaitable[str | None]]]] = [
    ("start_adopts_empty", c_start),
    ("all_schedulers_and_flags", c_all_schedulers),
    ("ipv6_udp_sctp_fwmark_persistence", c_families),
    ("edit_keeps_forwarding_method", c_edit_in_place),
    ("errors_name_op_and_service", c_errors),
    ("batch_error_names_failing_op", c_batch_error),
    ("large_table_read_back", c_large_table),
    ("big_service_dump", c_big_service_dump),
    ("nat_traffic_spread", c_nat_traffic),
    ("dr_traffic_spread", c_dr_traffic),
    ("tun_traffic_spread", c_tun_traffic),
    ("fwmark_traffic_spread", c_fwmark_traffic),
    ("weight_change_keeps_connection", c_weight_change_keeps_connection),
    ("restart_adopts_without_drop", c_restart_adopts),
    ("stats_read_back", c_stats),
    ("sync_daemon_start_stop", c_sync_daemon),
    ("sync_daemon_replicates_connections", c_sync_replicates),
    ("lvs_timeouts_set_and_read_back", c_lvs_timeouts),
    ("listing_setup", listing_setup),
    *((f"listing_{m}", listing_check(m)) for m in LISTINGS),
]
NAMES = [n for n, _ in CHECKS] + ["contract_suite"]


async def main() -> int:
    t0 = time.monotonic()
    try:
        build_lab()
        await start_servers()
    except Exception:
        emit("lab", False, traceback.format_exc())
        return 1
    emit("lab", True, f"built in {time.monotonic() - t0:.1f}s")
    for name, fn in CHECKS:
        await check(name, fn)
    if LAB.held is not None:
        await LAB.held.close()
    for s in SERVERS:
        s.close()
        await s.wait_closed()
    await check("contract_suite", c_contract)
    with contextlib.suppress(Exception):
        await LAB.dp.close()
    emit("total_time", True, f"{time.monotonic() - t0:.1f}s")
    return 0 if all(r["ok"] for r in RESULTS) else 1


if __name__ == "__main__":
    if os.geteuid() != 0:
        print(json.dumps({"name": "lab", "ok": False, "detail": "needs root"}))
        sys.exit(1)
    sys.exit(asyncio.run(main()))
