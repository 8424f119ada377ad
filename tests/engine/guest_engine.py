"""The engine on the kernel IPVS dataplane, run INSIDE a User-Mode-Linux guest (root, ip_vs).

Run from the repository: `run-in-ipvs-vm.sh .venv/bin/python tests/engine/guest_engine.py`
(tests/engine/test_engine_ipvs_vm.py does it once for the module). Prints one JSON line per
check: `{"name": ..., "ok": true|false, "detail": ...}`; the host turns each into a test.
The kernel table is read back with `ipvsadm -Ln` (the reference tool), not with our own code.
Health transitions are fed by hand (`Engine.set_health`): what is checked here is what the
engine programs into a real kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO))

from lvstui.clock import FakeClock  # noqa: E402
from lvstui.config.schema import (  # noqa: E402
    Config,
    GlobalDefs,
    LbKind,
    RealServer,
    SorryServer,
    SyncDaemon,
    TcpCheck,
    VirtualServer,
)
from lvstui.dataplane.ipvs import IpvsDataplane  # noqa: E402
from lvstui.engine.engine import Engine  # noqa: E402
from lvstui.errors import ConfigError  # noqa: E402
from lvstui.model import (  # noqa: E402
    Drain,
    DrainState,
    Event,
    Health,
    RealKey,
    Reload,
    ServiceKey,
    Undrain,
    VrrpChanged,
    VrrpRunState,
    VrrpView,
)

VIP = "198.51.100.10"
SK = ServiceKey.parse(f"TCP {VIP}:80")
REALS = [RealKey(f"203.0.113.{i}", 80) for i in (11, 12, 13)]
SORRY = RealKey("203.0.113.55", 80)
FOREIGN = "203.0.113.200:22"
TMP = Path(tempfile.mkdtemp(prefix="lvt-eng-"))
LOG = TMP / "notify.log"
RESULTS: list[dict[str, Any]] = []


def emit(name: str, ok: bool, detail: str) -> None:
    rec = {"name": name, "ok": ok, "detail": detail}
    RESULTS.append(rec)
    print(json.dumps(rec), flush=True)


def sh(*argv: str) -> str:
    proc = subprocess.run(argv, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def ipvsadm_table() -> dict[str, dict[str, tuple[str, int]]]:
    """`ipvsadm -Ln` → {"TCP 198.51.100.10:80": {"203.0.113.11:80": ("Masq", 2)}}."""
    out: dict[str, dict[str, tuple[str, int]]] = {}
    current = ""
    for line in sh("ipvsadm", "-Ln").splitlines():
        parts = line.split()
        if parts and parts[0] in ("TCP", "UDP", "SCTP", "FWM"):
            current = f"{parts[0]} {parts[1]}"
            out[current] = {}
        elif parts and parts[0] == "->" and current and parts[1] != "RemoteAddress:Port":
            out[current][parts[1]] = (parts[2], int(parts[3]))
    return out


def ours() -> dict[str, tuple[str, int]]:
    return ipvsadm_table().get(str(SK), {})


def recorder() -> str:
    script = TMP / "record.py"
    script.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"open({str(LOG)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def make_config() -> Config:
    rec = recorder()
    vs = VirtualServer(
        ip=VIP,
        port=80,
        lb_algo="wrr",
        lb_kind=LbKind.NAT,
        quorum=4,
        hysteresis=1,
        quorum_up=f"{rec} quorum_up",
        quorum_down=f"{rec} quorum_down",
        sorry_server=SorryServer(SORRY.addr, SORRY.port),
        real_servers=tuple(
            RealServer(r.addr, r.port, weight=2, checks=(TcpCheck(),)) for r in REALS
        ),
    )
    return Config(
        path=str(TMP / "config.toml"),
        global_defs=GlobalDefs(lvs_sync_daemon=SyncDaemon("lvt-eng-a", "vi", syncid=9)),
        virtual_servers=(vs,),
    )


class FakeVrrp:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.state = VrrpRunState.BACKUP
        self.stopped: list[bool] = []

    async def start(self) -> None:
        pass

    async def stop(self, graceful: bool = True) -> None:
        self.stopped.append(graceful)

    async def reload(self, config: object) -> list[str]:
        return []  # VRRP settings are not what these tests change

    def views(self) -> tuple[VrrpView, ...]:
        return (VrrpView("vi", "lvt-eng-a", 51, self.state, 100, 100, 3, 0.1),)

    def drops(self) -> dict[str, int]:
        return {}

    async def events(self) -> Any:
        while True:
            yield await self.queue.get()


async def wait_for(cond: Callable[[], bool], timeout: float = 30.0) -> None:
    # generous: the guest is a UML kernel, which a loaded 2-core host slows down a lot
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


class Lab:
    engine: Engine
    vrrp: FakeVrrp
    config: Config


LAB = Lab()


def w(real: RealKey) -> str:
    return str(real)


def setup_lab() -> None:
    for mod in ("veth", "ip_vs", "ip_vs_rr", "ip_vs_wrr"):
        subprocess.run(["modprobe", "-q", mod], check=False)
    sh("ip", "link", "add", "lvt-eng-a", "type", "veth", "peer", "name", "lvt-eng-b")
    sh("ip", "link", "set", "lvt-eng-a", "up")
    sh("ip", "link", "set", "lvt-eng-b", "up")
    sh("ipvsadm", "-A", "-t", FOREIGN, "-s", "rr")  # someone else's service: never touched


def broken_file(path: str) -> Config:
    """The engine's config loader: the file reads as broken (a reload given no config)."""
    raise ConfigError("bad value", file=path, line=3, key="virtual_server[0].port")


async def c_start() -> str:
    setup_lab()
    LAB.config = make_config()
    LAB.vrrp = FakeVrrp()
    LAB.engine = Engine(
        LAB.config,
        dataplane=IpvsDataplane(),
        clock=FakeClock(),
        vrrp=LAB.vrrp,
        state_dir=TMP / "state",
        config_loader=broken_file,
    )
    await LAB.engine.start()
    table = ours()
    assert table == {w(r): ("Masq", 2) for r in REALS}, table
    assert f"TCP {FOREIGN}" in ipvsadm_table()
    return sh("ipvsadm", "-Ln")


async def c_sync_daemon_follows_vrrp() -> str:
    text = sh("ipvsadm", "-L", "--daemon")
    assert "backup sync daemon (mcast=lvt-eng-a, syncid=9" in text, text
    LAB.vrrp.state = VrrpRunState.MASTER
    await LAB.vrrp.queue.put(
        VrrpChanged(1.0, "vi", VrrpRunState.BACKUP, VrrpRunState.MASTER, "test")
    )
    await wait_for(lambda: "master sync daemon" in sh("ipvsadm", "-L", "--daemon"))
    text2 = sh("ipvsadm", "-L", "--daemon")
    assert "backup" not in text2, text2
    return f"{text.strip()} → {text2.strip()}"


async def c_sync_daemon_reload_options() -> str:
    """A reload that changes lvs_sync_daemon's options restarts the kernel's daemon at once,
    in the role it has (MASTER since the check before), and the kernel reports them."""
    e = LAB.engine
    sd = LAB.config.global_defs.lvs_sync_daemon
    assert sd is not None
    tuned = replace(sd, maxlen=1200, group="239.1.2.3", port=8900, ttl=3)
    res = await e.reload(replace(LAB.config, global_defs=GlobalDefs(lvs_sync_daemon=tuned)))
    assert res.ok, res
    text = sh("ipvsadm", "-L", "--daemon")  # no wait: applied by the time reload returns
    want = "master sync daemon (mcast=lvt-eng-a, syncid=9, maxlen=1200, group=239.1.2.3, port=8900"
    assert want in text and "ttl=3" in text, text
    assert "backup" not in text, text
    res = await e.reload(LAB.config)  # the options taken out: the kernel's defaults again
    assert res.ok, res
    text2 = sh("ipvsadm", "-L", "--daemon")
    assert "group=224.0.0.81, port=8848" in text2 and "ttl=1" in text2, text2
    assert "master sync daemon (mcast=lvt-eng-a, syncid=9" in text2, text2
    return f"{text.strip()} → {text2.strip()}"


async def set_health(real: RealKey, h: Health) -> None:
    e = LAB.engine
    e.set_health(SK, real, h, reason="test")
    await wait_for(
        lambda: next(r for r in e.snapshot().services[0].real_servers if r.key == real).health is h
    )


async def c_quorum_hysteresis_and_sorry() -> str:
    # weights 2+2+2, quorum 4, hysteresis 1: down below 3, up again at 5 or more
    await set_health(REALS[0], Health.DOWN)
    # the snapshot shows the new plan while the kernel is being written: wait for the table
    await wait_for(lambda: ours() == {w(REALS[1]): ("Masq", 2), w(REALS[2]): ("Masq", 2)})
    await set_health(REALS[1], Health.DOWN)
    await wait_for(lambda: ours() == {w(SORRY): ("Masq", 1)})
    await set_health(REALS[0], Health.UP)  # live 4 < 5: still the sorry server
    assert ours() == {w(SORRY): ("Masq", 1)}, ours()
    await set_health(REALS[1], Health.UP)
    await wait_for(lambda: ours() == {w(r): ("Masq", 2) for r in REALS})
    # the engine submits quorum_up after the table is written (and saved): wait for it to
    # have run, bounded, rather than join a queue it may not have reached yet
    await wait_for(lambda: LOG.exists() and len(LOG.read_text().split()) >= 2)
    await LAB.engine.notifier.join()
    lines = LOG.read_text().split()
    assert lines == ["quorum_down", "quorum_up"], lines
    return "sorry in at live weight 2, out at 6; scripts: " + ", ".join(lines)


async def c_drain_weight_zero_and_safe() -> str:
    e = LAB.engine
    res = await e.call(Drain(SK, REALS[0]), who="guest")
    assert res.ok, res
    assert ours()[w(REALS[0])] == ("Masq", 0), ours()
    await e.tick()
    view = e.snapshot().services[0].real_servers[0]
    assert view.drain is DrainState.SAFE, view.drain  # no connection: idle at once
    assert (await e.call(Undrain(SK, REALS[0]))).ok
    assert ours()[w(REALS[0])] == ("Masq", 2), ours()
    return "weight 0 in the kernel, safe, back to 2"


async def c_reload_applies_only_difference() -> str:
    e = LAB.engine
    vs = LAB.config.virtual_servers[0]
    new = replace(
        LAB.config,
        virtual_servers=(
            replace(vs, real_servers=(replace(vs.real_servers[0], weight=5), *vs.real_servers[1:])),
        ),
    )
    dry = await e.reload(new, dry_run=True)
    assert dry.ok and dry.detail == f"~ {SK} real {REALS[0]} weight 2 → 5", dry.detail
    assert ours()[w(REALS[0])] == ("Masq", 2)
    res = await e.reload(new)
    assert res.ok, res
    assert ours() == {
        w(REALS[0]): ("Masq", 5),
        w(REALS[1]): ("Masq", 2),
        w(REALS[2]): ("Masq", 2),
    }, ours()

    bad = await e.call(Reload())  # reading the file fails (`broken_file`, given at start)
    assert not bad.ok and "bad value" in bad.message, bad
    assert ours()[w(REALS[0])] == ("Masq", 5), ours()
    LAB.config = new
    return f"{res.message}; broken: {bad.message}"


async def c_restart_adopts_without_change() -> str:
    e = LAB.engine
    await e.call(Drain(SK, REALS[2]))
    before = sh("ipvsadm", "-Ln")
    await e.stop(release=False)  # like keepalived --dont-release-ipvs
    assert sh("ipvsadm", "-Ln") == before
    dp = IpvsDataplane()
    applied: list[Any] = []
    real_apply = dp.apply

    async def spy(ops: Any) -> None:
        applied.extend(ops)
        await real_apply(ops)

    dp.apply = spy  # type: ignore[method-assign]
    LAB.vrrp = FakeVrrp()
    LAB.engine = Engine(
        LAB.config, dataplane=dp, clock=FakeClock(), vrrp=LAB.vrrp, state_dir=TMP / "state"
    )
    await LAB.engine.start()
    assert applied == [], applied  # the drain came back from the state file: nothing to do
    assert sh("ipvsadm", "-Ln") == before
    return "restart: 0 operations, table identical, drain kept"


async def c_stop_releases_like_keepalived() -> str:
    await LAB.engine.stop()
    table = ipvsadm_table()
    assert str(SK) not in table and f"TCP {FOREIGN}" in table, table
    assert LAB.vrrp.stopped == [True]
    assert sh("ipvsadm", "-L", "--daemon").strip() == ""
    return sh("ipvsadm", "-Ln")


# --- drain timeout with a real connection through the kernel ---------------------------------

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
VIP_T = "198.51.100.30"
SK_T = ServiceKey.parse(f"TCP {VIP_T}:80")
RS_T = RealKey("203.0.113.11", 80)


@contextlib.contextmanager
def netns(name: str) -> Iterator[None]:
    """Create sockets inside a namespace (setns affects this thread only)."""
    me = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {name}")
        yield
    finally:
        libc.setns(me, CLONE_NEWNET)
        os.close(fd)
        os.close(me)


def traffic_lab() -> None:
    if Path("/run/netns/lvt-eng-rs").exists():
        return  # built by an earlier check of this guest
    for line in (
        "sysctl -qw net.ipv4.ip_forward=1",
        "ip netns add lvt-eng-rs",
        "ip netns add lvt-eng-cli",
        "ip link add e-rs type veth peer name r0 netns lvt-eng-rs",
        "ip link add e-cli type veth peer name c0 netns lvt-eng-cli",
        "ip addr add 203.0.113.1/24 dev e-rs",
        "ip addr add 198.51.100.1/24 dev e-cli",
        f"ip addr add {VIP_T}/32 dev e-cli",
        "ip link set e-rs up",
        "ip link set e-cli up",
        "ip -n lvt-eng-rs link set lo up",
        "ip -n lvt-eng-rs addr add 203.0.113.11/24 dev r0",
        "ip -n lvt-eng-rs link set r0 up",
        "ip -n lvt-eng-rs route add default via 203.0.113.1",
        "ip -n lvt-eng-cli link set lo up",
        "ip -n lvt-eng-cli addr add 198.51.100.2/24 dev c0",
        "ip -n lvt-eng-cli link set c0 up",
        "ip -n lvt-eng-cli route add default via 198.51.100.1",
    ):
        sh(*line.split())


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(100):
            writer.write(data)
            await writer.drain()
    writer.close()


async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    with netns("lvt-eng-cli"):
        sock = socket.socket()
    sock.setblocking(False)
    await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (VIP_T, 80)), 5)
    return await asyncio.open_connection(sock=sock)


async def roundtrip(r: asyncio.StreamReader, w: asyncio.StreamWriter, data: bytes) -> bytes:
    w.write(data)
    await w.drain()
    try:
        return await asyncio.wait_for(r.read(100), 1.5)
    except (TimeoutError, ConnectionError):
        return b""


async def c_drain_timeout_expires_connections() -> str:
    traffic_lab()
    with netns("lvt-eng-rs"):
        lsock = socket.socket()
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("203.0.113.11", 80))
    lsock.listen(16)
    server = await asyncio.start_server(echo, sock=lsock)
    cfg = Config(
        virtual_servers=(
            VirtualServer(
                ip=VIP_T, port=80, lb_algo="rr", real_servers=(RealServer(RS_T.addr, RS_T.port),)
            ),
        )
    )
    clock = FakeClock()
    e = Engine(cfg, dataplane=IpvsDataplane(), clock=clock)
    await e.start()
    try:
        r1, w1 = await connect()
        assert await roundtrip(r1, w1, b"one") == b"one"
        assert (await e.call(Drain(SK_T, RS_T, timeout=5))).ok
        await e.tick()
        view = e.snapshot().services[0].real_servers[0]
        assert view.drain is DrainState.DRAINING and view.active_conns == 1, view
        assert await roundtrip(r1, w1, b"two") == b"two"  # drained: it still works
        clock.advance(6)
        await e.tick()
        assert e.snapshot().services[0].real_servers[0].drain is DrainState.EXPIRED
        table = ipvsadm_table()[str(SK_T)]
        assert table == {}, table
        after = await roundtrip(r1, w1, b"three")
        assert after != b"three", after
        w1.close()
        # undrain: the server is back, new connections work
        assert (await e.call(Undrain(SK_T, RS_T))).ok
        r2, w2 = await connect()
        assert await roundtrip(r2, w2, b"four") == b"four"
        # why the engine does not re-add at weight 0 right away: the kernel restores a
        # deleted destination from its trash, and its connections with it
        from lvstui.dataplane.base import AddDest, DelDest, DesiredDest

        await e.dataplane.apply([DelDest(SK_T, RS_T), AddDest(SK_T, DesiredDest(RS_T, 0))])
        restored = await roundtrip(r2, w2, b"five")
        assert restored == b"five", restored  # the kernel fact the design rests on
        w2.close()
        return (
            f"expired connection answered {after!r}; after delete + re-add a connection "
            f"answered {restored!r}"
        )
    finally:
        await e.stop()
        server.close()


# --- slow start: the kernel's weights step up ------------------------------------------------

VIP_S = "198.51.100.40"
SK_S = ServiceKey.parse(f"TCP {VIP_S}:80")
RS_S = RealKey("203.0.113.21", 80)


async def c_slow_start_kernel_weights() -> str:
    """A server back in service ramps 2, 4, 6, 8, 10 (slow_start 5 s, weight 10), one
    kernel weight change a tick, read back with ipvsadm."""
    vs = VirtualServer(
        VIP_S,
        80,
        lb_algo="wrr",
        slow_start=5.0,
        real_servers=(RealServer(RS_S.addr, 80, weight=10, checks=(TcpCheck(),)),),
    )
    clock = FakeClock()
    e = Engine(Config(virtual_servers=(vs,)), dataplane=IpvsDataplane(), clock=clock)
    await e.start()

    def kernel() -> int | None:
        dest = ipvsadm_table().get(str(SK_S), {}).get(str(RS_S))
        return dest[1] if dest else None

    try:
        assert kernel() == 10, kernel()  # serving at start: no ramp
        e.set_health(SK_S, RS_S, Health.DOWN)
        await wait_for(lambda: kernel() is None)
        e.set_health(SK_S, RS_S, Health.UP)
        await wait_for(lambda: kernel() is not None)
        seen = [kernel()]
        for _ in range(5):
            clock.advance(1.0)
            await e.tick()
            want = min(10, 2 * (len(seen) + 1))
            await wait_for(lambda want=want: kernel() == want)  # type: ignore[misc]
            seen.append(kernel())
        assert seen == [2, 4, 6, 8, 10, 10], seen
        return "kernel weights after coming back: " + ", ".join(str(x) for x in seen)
    finally:
        await e.stop()


# --- source NAT: a real server with no route back through the director ------------------------

VIP_N = "198.51.100.60"
SK_N = ServiceKey.parse(f"TCP {VIP_N}:8080")
RS_N = [RealKey("203.0.113.11", 8080), RealKey("203.0.113.12", 8080)]


def snat_config(on: bool) -> Config:
    vs = VirtualServer(
        ip=VIP_N,
        port=8080,
        lb_algo="rr",
        source_nat=on,
        real_servers=(RealServer(RS_N[0].addr, RS_N[0].port),),
    )
    return Config(virtual_servers=(vs,))


async def try_once() -> bytes:
    """One connection from the client to the VIP: what the server echoed, b"" when none."""
    with netns("lvt-eng-cli"):
        sock = socket.socket()
    sock.setblocking(False)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (VIP_N, 8080)), 2)
    except (TimeoutError, OSError):
        sock.close()
        return b""
    r, w = await asyncio.open_connection(sock=sock)
    got = await roundtrip(r, w, b"hello")
    w.close()
    return got


def nft_table() -> str:
    proc = subprocess.run(
        ["nft", "list", "table", "inet", "lvstui_snat"], capture_output=True, text=True
    )
    return proc.stdout if proc.returncode == 0 else ""


class Skip(Exception):
    """This kernel cannot run the check (the host test skips it, saying why)."""


def nft_nat_missing() -> str:
    """Why nftables cannot masquerade IPv4 in this kernel; "" when it can."""
    for mod in ("nf_tables", "nft_masq"):
        subprocess.run(["modprobe", mod], capture_output=True, check=False)
    probe = (
        '{"nftables": [{"add": {"table": {"family": "ip", "name": "lvt_probe"}}}, '
        '{"add": {"chain": {"family": "ip", "table": "lvt_probe", "name": "p", '
        '"type": "nat", "hook": "postrouting", "prio": 100}}}]}'
    )
    proc = subprocess.run(["nft", "-j", "-f", "-"], input=probe, capture_output=True, text=True)
    if proc.returncode != 0:
        return (
            "this guest kernel has no IPv4 nftables NAT (Debian's UML kernel is built "
            "without CONFIG_NF_TABLES_IPV4 / CONFIG_NFT_NAT; tests/vm/build-uml-kernel builds "
            f"one with them): {proc.stderr.strip()[:120]}"
        )
    sh("nft", "delete", "table", "ip", "lvt_probe")
    return ""


async def c_source_nat_refused_clearly() -> str:
    """Where nftables cannot do it, source_nat says so once and the service still runs."""
    from lvstui.engine.snat import CONNTRACK, SourceNat
    from lvstui.hostsetup import read_sysctl
    from lvstui.netfilter.nft import NftCommand
    from lvstui.netfilter.sysctl import ProcSysctls

    if not nft_nat_missing():
        raise Skip("nftables NAT works in this kernel: engine_source_nat_without_route_back runs")
    errors: list[str] = []
    e = Engine(
        snat_config(True),
        dataplane=IpvsDataplane(),
        clock=FakeClock(),
        source_nat=SourceNat(NftCommand(), ProcSysctls()),
    )

    class Errors(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                errors.append(record.getMessage())

    handler = Errors()
    logging.getLogger("lvstui").addHandler(handler)
    await e.start()
    try:
        assert str(SK_N) in ipvsadm_table(), ipvsadm_table()
        assert read_sysctl(CONNTRACK) == "0"  # a refused rule leaves the sysctl alone
    finally:
        await e.stop()
        logging.getLogger("lvstui").removeHandler(handler)
    assert len(errors) == 1 and errors[0].startswith("source_nat: nftables refused"), errors
    return errors[0]


async def c_source_nat_without_route_back() -> str:
    from lvstui.engine.snat import CONNTRACK, SourceNat
    from lvstui.hostsetup import read_sysctl
    from lvstui.model import AddReal
    from lvstui.netfilter.nft import NftCommand
    from lvstui.netfilter.sysctl import ProcSysctls

    reason = nft_nat_missing()
    if reason:
        raise Skip(reason)
    traffic_lab()
    sh("ip", "-n", "lvt-eng-rs", "route", "del", "default")  # no way back to the client
    sh("ip", "-n", "lvt-eng-rs", "addr", "add", "203.0.113.12/24", "dev", "r0")
    sh("ip", "addr", "add", f"{VIP_N}/32", "dev", "e-cli")
    peers: list[str] = []

    async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        peers.append(w.get_extra_info("peername")[0])
        await echo(r, w)

    servers = []
    for rs in RS_N:
        with netns("lvt-eng-rs"):
            lsock = socket.socket()
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lsock.bind((rs.addr, rs.port))
        lsock.listen(16)
        servers.append(await asyncio.start_server(serve, sock=lsock))
    try:
        plain = Engine(snat_config(False), dataplane=IpvsDataplane(), clock=FakeClock())
        await plain.start()
        try:
            without = await try_once()
        finally:
            await plain.stop()
        assert without == b"", f"without source_nat the server answered: {without!r}"
        before = read_sysctl(CONNTRACK)
        snat = SourceNat(NftCommand(), ProcSysctls())
        e = Engine(snat_config(True), dataplane=IpvsDataplane(), clock=FakeClock(), source_nat=snat)
        await e.start()
        try:
            assert read_sysctl(CONNTRACK) == "1"
            assert "203.0.113.11" in nft_table() and "203.0.113.12" not in nft_table()
            with_it = await try_once()
            assert with_it == b"hello", with_it
            assert peers == ["203.0.113.1"], peers  # the server saw the director
            assert (await e.call(AddReal(SK_N, RS_N[1], 1))).ok  # ctl add: the rule follows
            assert "203.0.113.12" in nft_table(), nft_table()
            answers = [await try_once() for _ in range(4)]  # rr: both servers, both answer
            assert answers == [b"hello"] * 4, answers
            served = set(peers[1:])
            assert served == {"203.0.113.1"}, peers
        finally:
            await e.stop()
        assert nft_table() == "", nft_table()  # removed on stop
        assert read_sysctl(CONNTRACK) == before == "0", before
        return (
            f"without source_nat: no answer; with it: {len(peers)} connections answered, the "
            f"servers saw {sorted(set(peers))}; stop removed the table, {CONNTRACK}={before}"
        )
    finally:
        for srv in servers:
            srv.close()


async def c_lvs_flush_start_and_stop() -> str:
    """lvs_flush empties the kernel table at start (someone's service too); lvs_flush_on_stop
    "full" empties it on stop; without them a foreign service is adopted around and kept."""
    other = "203.0.113.201:23"
    sh("ipvsadm", "-A", "-t", other, "-s", "rr")
    before = set(ipvsadm_table())
    assert f"TCP {other}" in before, before
    gd = GlobalDefs(lvs_flush=True, lvs_flush_on_stop="full")
    e = Engine(replace(snat_config(False), global_defs=gd), dataplane=IpvsDataplane())
    await e.start()
    try:
        at_start = set(ipvsadm_table())
        assert at_start == {str(SK_N)}, at_start
        sh("ipvsadm", "-A", "-t", other, "-s", "rr")  # added while we run: gone at stop too
    finally:
        await e.stop()
    after = sh("ipvsadm", "-Ln")
    assert not ipvsadm_table(), after
    return f"before: {sorted(before)}; at start: {sorted(at_start)}; after stop: empty"


async def c_net_namespace_holds_ipvs() -> str:
    return await asyncio.to_thread(net_namespace_holds_ipvs)  # a daemon process: blocking


def net_namespace_holds_ipvs() -> str:
    """keepalived's net_namespace: the daemon, started in the guest's own namespace, programs
    IPVS in the named one (the kernel's IPVS table is per namespace) and releases it there on
    stop; the initial namespace's table is not touched."""
    ns, svc, real = "lvt-eng-nsd", "198.51.100.77:80", "203.0.113.77:80"
    sh("ip", "netns", "add", ns)
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    cfg = TMP / "netns.toml"
    cfg.write_text(
        f'[global_defs]\nnet_namespace = "{ns}"\n\n[lvstui]\ndataplane = "ipvs"\n\n'
        f'[[virtual_server]]\nip = "198.51.100.77"\nport = 80\nlb_algo = "rr"\n'
        f'lb_kind = "NAT"\n\n[[virtual_server.real_server]]\nip = "203.0.113.77"\nport = 80\n'
    )
    host_before = sh("ipvsadm", "-Ln")
    err = (TMP / "netns.err").open("wb")
    run = [sys.executable, "-m", "lvstui", "--daemon", "-f", str(cfg)]
    daemon = subprocess.Popen(
        [*run, "--socket", str(TMP / "netns.sock"), "--state-dir", str(TMP / "netns-state")],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=err,
    )
    try:
        inside = ""
        for _ in range(400):  # bounded: 40 s
            inside = sh("ip", "netns", "exec", ns, "ipvsadm", "-Ln")
            if real in inside or daemon.poll() is not None:
                break
            time.sleep(0.1)
        assert svc in inside and real in inside, (inside, (TMP / "netns.err").read_text())
        assert sh("ipvsadm", "-Ln") == host_before, "the initial namespace's table changed"
        daemon.terminate()
        assert daemon.wait(30) == 0, (TMP / "netns.err").read_text()
        after = sh("ip", "netns", "exec", ns, "ipvsadm", "-Ln")
        assert svc not in after, after
        return f"{svc} -> {real} in {ns} only; removed there on stop"
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(10)
        err.close()
        subprocess.run(["ip", "netns", "del", ns], check=False)


CHECKS: list[tuple[str, Callable[[], Awaitable[str]]]] = [
    ("engine_start", c_start),
    ("engine_sync_daemon_follows_vrrp", c_sync_daemon_follows_vrrp),
    ("engine_sync_daemon_reload_options", c_sync_daemon_reload_options),
    ("engine_quorum_hysteresis_sorry", c_quorum_hysteresis_and_sorry),
    ("engine_drain", c_drain_weight_zero_and_safe),
    ("engine_reload", c_reload_applies_only_difference),
    ("engine_restart_adopts", c_restart_adopts_without_change),
    ("engine_stop_releases", c_stop_releases_like_keepalived),
    ("engine_drain_timeout_expires", c_drain_timeout_expires_connections),
    ("engine_slow_start_kernel_weights", c_slow_start_kernel_weights),
    ("engine_source_nat_without_route_back", c_source_nat_without_route_back),
    ("engine_source_nat_refused_clearly", c_source_nat_refused_clearly),
    ("engine_net_namespace_holds_ipvs", c_net_namespace_holds_ipvs),
    ("engine_lvs_flush_start_and_stop", c_lvs_flush_start_and_stop),  # last: empties the table
]


async def main() -> int:
    for name, fn in CHECKS:
        try:
            emit(name, True, await asyncio.wait_for(fn(), 60))
        except Skip as skip:
            print(json.dumps({"name": name, "ok": True, "detail": "", "skip": str(skip)}))
        except Exception:
            emit(name, False, traceback.format_exc())
            if name == "engine_start":
                break
    return 0 if all(r["ok"] for r in RESULTS) else 1


if __name__ == "__main__":
    if os.geteuid() != 0:
        print(json.dumps({"name": "engine_start", "ok": False, "detail": "needs root"}))
        sys.exit(1)
    sys.exit(asyncio.run(main()))
