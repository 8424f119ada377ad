"""The director group on the kernel IPVS dataplane, run INSIDE a User-Mode-Linux guest.

Run from the repository: `run-in-ipvs-vm.sh .venv/bin/python tests/group/guest_group.py`
(tests/group/test_group_ipvs_vm.py does it once for the module). Prints one JSON line per
check: `{"name": ..., "ok": true|false, "detail": ...}`; the host turns each into a test.

The lab of tests/e2e/lab.py, inside the guest (IPVS is per network namespace, so each
director has its own kernel table): two `lvstui --daemon` with `dataplane = "ipvs"`,
VRRPv3 at 0.1 s adverts, one group key, direct routing to two real HTTP servers (the VIP on
their loopback), a client through the VIP. A third director namespace runs keepalived
(VRRP only, kept in FAULT: see KEEPALIVED) as the connection-sync peer. Kernel state is
read back with ipvsadm, the reference tool, not with our own code. Checks, in order:

- `group_ipvs_up`: both kernel tables hold the service, lb1 MASTER, lb2 BACKUP, in step;
- `group_ipvs_sync_daemon_options`: `ipvsadm -L --daemon` in each director shows the
  lvs_sync_daemon's maxlen, group, port, ttl (master on lb1, backup on lb2);
- `group_ipvs_keepalived_sync_peer`: keepalived's backup sync daemon, given the same
  options, receives a connection lb1's kernel forwards (so does lb2's);
- `group_ipvs_drain`: a drain sent to lb1 is weight 0 in lb2's kernel table;
- `group_ipvs_failover`: kill -9 lb1: lb2 takes the VIP and, of 200 requests through it
  after the takeover, none reaches the drained server (lb2's kernel still has it at 0);
- `group_ipvs_restart_relearns`: lb1 restarted with an empty state dir learns the drain
  before it goes MASTER, and its kernel table has the server at 0 when it serves again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO))

from lvstui.control.client import SocketClient  # noqa: E402
from lvstui.group.keys import generate  # noqa: E402
from lvstui.model import Drain, RealKey, ServiceKey, Snapshot  # noqa: E402
from tests.e2e.group_timing import call, from_group, time_group_change  # noqa: E402
from tests.e2e.lab import ADDR, CLIENT_LOOP, VIP, VRID, Daemon, Lab, daemon_config  # noqa: E402

PORT = 7946  # the group's
VPORT = 80  # direct routing: the real servers answer on the VIP's own port
SERVICE = f"TCP {VIP}:{VPORT}"
R1, R2 = f"{ADDR['r1']}:80", f"{ADDR['r2']}:80"
D3 = "198.51.100.13"  # keepalived, the third director (not in the group)
# keepalived runs the backup sync daemon as long as its VRRP instance is not MASTER; it
# joins VRID 57 but tracks an interface that stays down, so it stays in FAULT: in a loaded
# guest lb1's 0.1 s adverts can come late, and a keepalived that went MASTER for a moment
# would take the VIP (it has no virtual server: the client's connection would be reset)
SYNC = {"syncid": 9, "maxlen": 1200, "group": "239.1.2.3", "port": 8900, "ttl": 2}
SYNC_SHOWN = "syncid=9, maxlen=1200, group=239.1.2.3, port=8900, ttl=2"
RESULTS: list[dict[str, Any]] = []


def emit(name: str, ok: bool, detail: str) -> None:
    rec = {"name": name, "ok": ok, "detail": detail}
    RESULTS.append(rec)
    print(json.dumps(rec), flush=True)


def sh(*argv: str) -> str:
    proc = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(0.05)


def config(name: str, me: str, peer: str, key: Path, priority: int, state: str) -> str:
    sync = ", ".join(f"{k} = {json.dumps(v)}" for k, v in SYNC.items())
    return daemon_config(
        name,
        priority,
        state,
        dataplane="ipvs",
        lb_kind="DR",
        vport=VPORT,
        global_extra=f'lvs_sync_daemon = {{ interface = "eth0", instance = "web", {sync} }}\n',
        extra=f"""
[lvstui.group]
name = "{name}"
listen = "{ADDR[me]}:{PORT}"
peers = ["{ADDR[peer]}:{PORT}"]
key_file = "{key}"
startup_wait = 10.0
""",
    )


KEEPALIVED = f"""global_defs {{
    router_id ka3
    vrrp_version 3
    lvs_sync_daemon eth0 web id {SYNC["syncid"]} maxlen {SYNC["maxlen"]} port {SYNC["port"]} \
ttl {SYNC["ttl"]} group {SYNC["group"]}
}}
vrrp_instance web {{
    state BACKUP
    interface eth0
    virtual_router_id {VRID}
    priority 50
    advert_int 0.1
    track_interface {{
        ka-down
    }}
    virtual_ipaddress {{
        {VIP}/24 dev eth0
    }}
}}
"""

# Runs in the client namespace: one TCP connection to the VIP, kept open for `secs` seconds,
# one byte every 0.2 s (an unfinished request line: the real server keeps waiting), so the
# director's kernel sees a live connection with packets to sync.
HOLD = """
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print("open", flush=True)
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    s.sendall(b"G")
    time.sleep(0.2)
s.close()
"""


class Lab2:
    """The lab, the group key, the two directors (set by the first check)."""

    lab: Lab
    key: Path
    lb1: Daemon
    lb2: Daemon
    started = False


L = Lab2()


def ns(host: str) -> str:
    return L.lab.ns(host)


def in_ns(host: str, *argv: str) -> str:
    return sh("ip", "netns", "exec", ns(host), *argv)


def kernel_weights(host: str) -> dict[str, int]:
    """`ipvsadm -Ln` in a director's namespace: the service's real servers and weights."""
    out: dict[str, int] = {}
    current = ""
    for line in in_ns(host, "ipvsadm", "-Ln").splitlines():
        parts = line.split()
        if parts and parts[0] in ("TCP", "UDP"):
            current = f"{parts[0]} {parts[1]}"
        elif parts[:1] == ["->"] and current == SERVICE and parts[1] != "RemoteAddress:Port":
            out[parts[1]] = int(parts[3])
    return out


def snapshot(d: Daemon) -> Snapshot | None:
    """The daemon's snapshot through its control socket (no CLI start: Python is slow here)."""

    async def read() -> Snapshot:
        c = SocketClient(d.sock, timeout=5)
        try:
            await c.connect()
            return await c.snapshot()
        finally:
            await c.close()

    if not d.sock.exists() or d.proc.poll() is not None:
        return None
    try:
        return asyncio.run(read())
    except Exception:  # not answering yet
        return None


def vrrp_state(d: Daemon) -> str | None:
    snap = snapshot(d)
    return snap.vrrp[0].state.value if snap is not None and snap.vrrp else None


def synced(d: Daemon) -> bool:
    snap = snapshot(d)
    g = snap.group if snap is not None else None
    return g is not None and bool(g.peers) and all(p.synced for p in g.peers)


def vip_on(host: str) -> bool:
    return f"inet {VIP}/" in sh("ip", "-n", ns(host), "-4", "addr", "show", "dev", "eth0")


def real_server_vip() -> None:
    """Direct routing: each real server holds the VIP on lo (and answers no ARP for it: the
    lab sets arp_ignore=1 / arp_announce=2) and serves HTTP on :80."""
    for r in ("r1", "r2"):
        sh("ip", "-n", ns(r), "addr", "add", f"{VIP}/32", "dev", "lo")
        L.lab.http(r)


def third_director() -> None:
    """d3 on the LAN (tests/e2e/lab.py's topology has two directors)."""
    n = ns("d3")
    sh("ip", "netns", "add", n)
    L.lab.namespaces.append(n)
    sh("ip", "-n", n, "link", "set", "lo", "up")
    lan = ns("lan")
    sh("ip", "-n", lan, "link", "add", "p-d3", "type", "veth", "peer", "name", "eth0", "netns", n)
    sh("ip", "-n", lan, "link", "set", "p-d3", "master", "br0", "up")
    sh("ip", "-n", n, "addr", "add", f"{D3}/24", "dev", "eth0")
    sh("ip", "-n", n, "link", "set", "eth0", "up")
    # left down (see KEEPALIVED); a veth pair: the guest kernel has no dummy driver
    sh("ip", "-n", n, "link", "add", "ka-down", "type", "veth", "peer", "name", "ka-down-peer")


def c_up() -> str:
    for mod in ("ip_vs", "ip_vs_wrr", "veth", "bridge"):
        subprocess.run(["modprobe", "-q", mod], check=False)
    L.lab = Lab(f"group{os.getpid() % 10000}-")
    L.started = True
    L.lab.up()
    real_server_vip()
    third_director()
    L.key = L.lab.dir / "group.pem"
    L.key.write_text(generate())
    L.key.chmod(0o600)
    L.lb1 = L.lab.daemon("d1", config("lb1", "d1", "d2", L.key, 150, "MASTER"))
    L.lb2 = L.lab.daemon("d2", config("lb2", "d2", "d1", L.key, 100, "BACKUP"))
    try:
        wait_for(lambda: vrrp_state(L.lb1) == "MASTER", 90, "lb1 MASTER")
        wait_for(lambda: vrrp_state(L.lb2) == "BACKUP", 60, "lb2 BACKUP")
        wait_for(lambda: synced(L.lb1) and synced(L.lb2), 60, "the group in step")
    except AssertionError as e:
        logs = f"--- lb1\n{L.lb1.log()[-3000:]}\n--- lb2\n{L.lb2.log()[-3000:]}"
        raise AssertionError(f"{e}\n{logs}") from None
    for host in ("d1", "d2"):
        w = kernel_weights(host)
        assert w == {R1: 1, R2: 1}, (host, w, in_ns(host, "ipvsadm", "-Ln"))
    return in_ns("d2", "ipvsadm", "-Ln")


def c_sync_daemon_options() -> str:
    shown = {}
    for host, role in (("d1", "master"), ("d2", "backup")):
        try:
            shown[host] = daemon_shown(host, f"{role} sync daemon (mcast=eth0, {SYNC_SHOWN})")
        except AssertionError as e:  # the director's own words on why (its log)
            daemon = L.lb1 if host == "d1" else L.lb2
            raise AssertionError(f"{e}\n--- {host}\n{daemon.log()[-3000:]}") from None
    return f"lb1: {shown['d1']}; lb2: {shown['d2']}"


def daemon_shown(host: str, want: str) -> str:
    """`ipvsadm -L --daemon` in `host` once it shows `want`."""
    wait_for(lambda: want in in_ns(host, "ipvsadm", "-L", "--daemon"), 30, f"{want} in {host}")
    return in_ns(host, "ipvsadm", "-L", "--daemon").strip()


def synced_conns(host: str) -> list[str]:
    table = in_ns(host, "ipvsadm", "-Lnc")
    return [x for x in table.splitlines() if f"{VIP}:{VPORT}" in x]


def hold_connection() -> subprocess.Popen[str]:
    """A connection from the client to the VIP, held open (HOLD) for up to 40 s."""
    hold = subprocess.Popen(
        [*("ip", "netns", "exec", ns("cl"), sys.executable, "-c", HOLD), VIP, str(VPORT), "40"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    L.lab.procs.append(hold)  # type: ignore[arg-type]
    assert hold.stdout is not None and hold.stdout.readline().strip() == "open"
    return hold


def c_keepalived_sync_peer() -> str:
    ka = L.lab.keepalived("d3", KEEPALIVED)
    try:
        daemon_shown("d3", f"backup sync daemon (mcast=eth0, {SYNC_SHOWN})")
        wait_for(lambda: "FAULT" in ka.log(), 30, "keepalived in FAULT (never MASTER)")
        hold = hold_connection()
        try:
            wait_for(lambda: bool(synced_conns("d1")), 10, "the connection in lb1's kernel")
            wait_for(lambda: bool(synced_conns("d3")), 30, "lb1's connection synced to keepalived")
            wait_for(lambda: bool(synced_conns("d2")), 20, "lb1's connection synced to lb2")
        except AssertionError as e:
            hold.kill()
            _, err = hold.communicate(timeout=10)
            tail = ka.log()[-1500:]
            raise AssertionError(f"{e}\nclient: {err[-500:]}\nkeepalived: {tail}") from None
        hold.kill()
        hold.wait(10)
        assert vrrp_state(L.lb1) == "MASTER", "lb1 lost MASTER"
        return (
            f"keepalived: {in_ns('d3', 'ipvsadm', '-L', '--daemon').strip()}; "
            f"its table: {synced_conns('d3')[0].strip()}; lb2's: {synced_conns('d2')[0].strip()}"
        )
    finally:
        ka.kill9()


def c_drain() -> str:
    async def drain() -> None:
        res = await call(L.lb1.sock, Drain(ServiceKey.parse(SERVICE), RealKey.parse(R1)))
        assert res.ok, res.message

    took = time_group_change(drain, [(L.lb2.sock, from_group("drain", R1))], timeout=30)
    w = kernel_weights("d2")
    assert w == {R1: 0, R2: 1}, w  # lb2's event is published after its kernel write
    assert kernel_weights("d1") == {R1: 0, R2: 1}
    return f"weight 0 in lb2's kernel {took:.3f} s after the drain reached lb1 (UML guest)"


def requests(count: int, gap: float) -> list[dict[str, Any]]:
    out = in_ns("cl", sys.executable, "-c", CLIENT_LOOP, VIP, str(VPORT), str(count), str(gap))
    return [json.loads(x) for x in out.splitlines() if x.startswith("{")]


def c_failover() -> str:
    L.lb1.proc.send_signal(signal.SIGKILL)
    L.lb1.proc.wait(10)
    # a real crash takes the address with the host; the namespace outlives the process here
    subprocess.run(
        ["ip", "-n", ns("d1"), "addr", "del", f"{VIP}/24", "dev", "eth0"],
        capture_output=True,
        timeout=10,
        check=False,
    )
    wait_for(lambda: vip_on("d2"), 20, "the VIP on lb2")
    wait_for(lambda: vrrp_state(L.lb2) == "MASTER", 20, "lb2 MASTER")
    assert kernel_weights("d2") == {R1: 0, R2: 1}, kernel_weights("d2")
    results = requests(200, 0.01)
    bodies = [r.get("body") for r in results if r["ok"]]
    assert len(results) == 200, results[-3:]
    assert "r1" not in bodies, "the drained server got traffic after the takeover"
    assert bodies.count("r2") >= 190, results[:5]
    return f"{bodies.count('r2')} of 200 requests to r2, none to the drained r1"


def c_restart_relearns() -> str:
    lb1 = L.lab.daemon("d1", config("lb1", "d1", "d2", L.key, 150, "MASTER"), "-wiped")
    L.lb1 = lb1
    wait_for(lambda: vip_on("d1"), 90, "lb1 back with the VIP")
    log = lb1.log()
    learned = log.find("learned the group's overrides")
    master = log.find("MASTER")
    assert learned >= 0, log[-3000:]
    assert master < 0 or learned < master, "went MASTER before learning the group"
    w = kernel_weights("d1")
    assert w == {R1: 0, R2: 1}, w
    results = requests(20, 0.05)
    bodies = [r.get("body") for r in results if r["ok"]]
    assert "r1" not in bodies and bodies.count("r2") >= 18, results[:5]
    return f"learned before MASTER; lb1's kernel: {w}; 20 requests, none to r1"


CHECKS: list[tuple[str, Callable[[], str]]] = [
    ("group_ipvs_up", c_up),
    ("group_ipvs_sync_daemon_options", c_sync_daemon_options),
    ("group_ipvs_keepalived_sync_peer", c_keepalived_sync_peer),
    ("group_ipvs_drain", c_drain),
    ("group_ipvs_failover", c_failover),
    ("group_ipvs_restart_relearns", c_restart_relearns),
]


def main() -> int:
    try:
        for name, fn in CHECKS:
            try:
                emit(name, True, fn())
            except Exception:
                emit(name, False, traceback.format_exc())
                if name in ("group_ipvs_up", "group_ipvs_drain"):
                    break  # the ones after need it
    finally:
        if L.started:
            L.lab.close()
    return 0 if all(r["ok"] for r in RESULTS) else 1


if __name__ == "__main__":
    if os.geteuid() != 0:
        print(json.dumps({"name": "group_ipvs_up", "ok": False, "detail": "needs root"}))
        sys.exit(1)
    sys.exit(main())
