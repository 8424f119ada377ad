"""The director group, for real: two `lvstui --daemon` on a bridged LAN in network
namespaces (VRRPv3, 0.1 s adverts, userspace dataplane, two real HTTP servers, a client
through the VIP), holding one group key and peering over mutual TLS.

One lab for the module, checks in order:
- a drain sent to lb1's control socket is weight 0 in lb2's dataplane within 1 s (issue
  12's bound; measured to lb2's own report that it applied it, group_timing.py; the
  figures with percentiles are bench/group_sync.py's);
- kill -9 lb1: lb2 becomes MASTER and, of 200 requests through the VIP after the takeover,
  none reaches the drained server;
- lb1 restarted with an empty state dir relearns the drain before it takes the VIP back
  (its log says so before its VRRP instance goes MASTER), and serves without the server;
- a partition (lb2's link down) with a weight change on each side heals to one table
  within 2 s of the link coming up (issue 12's bound, measured the same way);
- a peer holding another group's key is refused (logged with its address), changes nothing;
- a config drift (lb2 reloads a changed virtual_server) is shown with its section;
- `ctl --director lb2` and `list --director lb2` typed on lb1 act on and read lb2.

Every process and namespace goes away even on failure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from lvstui.group.keys import generate
from lvstui.model import Drain, RealKey, ServiceKey
from tests.e2e.group_timing import call, from_group, time_group_change
from tests.e2e.lab import ADDR, VIP, VPORT, Daemon, Lab, daemon_config
from tests.helpers import REPO, require_cmd, require_root, wait_until

pytestmark = [pytest.mark.root, pytest.mark.netns]

PORT = 7946
SERVICE = f"{VIP}:{VPORT}"
R1 = f"{ADDR['r1']}:80"
R2 = f"{ADDR['r2']}:80"


def group_extra(name: str, me: str, peer: str, key: Path) -> str:
    return f"""
[lvstui.group]
name = "{name}"
listen = "{ADDR[me]}:{PORT}"
peers = ["{ADDR[peer]}:{PORT}"]
key_file = "{key}"
startup_wait = 5.0
"""


def config(name: str, me: str, peer: str, key: Path, priority: int, state: str) -> str:
    return daemon_config(name, priority, state, extra=group_extra(name, me, peer, key))


class Pair:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.key = lab.dir / "group.pem"
        self.key.write_text(generate())
        self.key.chmod(0o600)
        self.lb1: Daemon | None = None
        self.lb2: Daemon | None = None

    def start_lb1(self, state_dir: str = "") -> Daemon:
        d = self.lab.daemon("d1", config("lb1", "d1", "d2", self.key, 150, "MASTER"), state_dir)
        self.lb1 = d
        return d

    def start_lb2(self) -> Daemon:
        d = self.lab.daemon("d2", config("lb2", "d2", "d1", self.key, 100, "BACKUP"))
        self.lb2 = d
        return d


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    require_root("network namespaces, veths and raw VRRP sockets")
    require_cmd("ip")
    lab = Lab(f"group{os.getpid() % 10000}-")
    try:
        lab.up()
        for host in ("r1", "r2"):
            lab.http(host)
        p = Pair(lab)
        p.start_lb1()
        p.start_lb2()
        assert p.lb1 is not None and p.lb2 is not None
        p.lb1.wait_state("MASTER", timeout=30)
        p.lb2.wait_state("BACKUP", timeout=30)
        wait_until(lambda: _peer(p.lb1).get("synced") is True, timeout=20, interval=0.1)
        wait_until(lambda: _peer(p.lb2).get("synced") is True, timeout=20, interval=0.1)
        yield p
    finally:
        lab.close()


def _group(d: Daemon | None) -> dict[str, object]:
    st = d.status() if d is not None else None
    g = st.get("group") if st else None
    return g if isinstance(g, dict) else {}


def _peer(d: Daemon | None) -> dict[str, object]:
    peers = _group(d).get("peers")
    return peers[0] if isinstance(peers, list) and peers else {}


def _weight(d: Daemon, real: str) -> int | None:
    st = d.status()
    if st is None:
        return None
    services = st["services"]
    assert isinstance(services, list), st
    for s in services:
        for r in s["real_servers"]:
            if r["real"] == real:
                return int(r["weight"])
    return None


def _ok(r: subprocess.CompletedProcess[str]) -> None:
    assert r.returncode == 0, f"{r.args}: {r.stdout}{r.stderr}"


def test_a_drain_on_lb1_is_weight_0_in_lb2s_dataplane(pair: Pair) -> None:
    lb1, lb2 = pair.lb1, pair.lb2
    assert lb1 is not None and lb2 is not None
    assert _weight(lb2, R1) == 1

    async def drain() -> None:
        res = await call(lb1.sock, Drain(ServiceKey.parse(f"TCP {SERVICE}"), RealKey.parse(R1)))
        assert res.ok, res.message

    took = time_group_change(drain, [(lb2.sock, from_group("drain", R1))])
    # the figure against issue 12's 1 s is bench/group_sync.py's to judge: here, printed
    print(f"drain on lb1 -> weight 0 in lb2's dataplane: {took:.3f} s")
    wait_until(lambda: _weight(lb2, R1) == 0, timeout=10, interval=0.05)  # its snapshot too
    audit = (lb2.state_dir / "audit.log").read_text().splitlines()
    last = json.loads(audit[-1])
    assert last["origin"] == "lb1" and last["command"].startswith("drain ")
    assert _weight(lb2, R2) == 1


def test_kill_9_lb1_lb2_takes_over_without_the_drained_server(pair: Pair) -> None:
    lb1, lb2 = pair.lb1, pair.lb2
    assert lb1 is not None and lb2 is not None
    lb1.proc.send_signal(signal.SIGKILL)
    lb1.proc.wait(10)
    subprocess.run(
        ["ip", "-n", pair.lab.ns("d1"), "addr", "del", f"{VIP}/24", "dev", "eth0"],
        capture_output=True,
        timeout=10,
        check=False,
    )
    lb2.wait_state("MASTER", timeout=10)
    wait_until(lambda: pair.lab.vip_on("d2"), timeout=10, interval=0.05)
    loop = pair.lab.client_loop(200, 0.01)
    out, _ = loop.communicate(timeout=120)
    results = [json.loads(x) for x in out.decode().splitlines() if x.startswith("{")]
    bodies = [r.get("body") for r in results if r["ok"]]
    assert len(results) == 200
    assert "r1" not in bodies, "the drained server got traffic after the takeover"
    assert bodies.count("r2") >= 190, results[:5]


def test_lb1_restarted_with_an_empty_state_dir_relearns_the_drain_first(pair: Pair) -> None:
    lb2 = pair.lb2
    assert lb2 is not None
    lb1 = pair.start_lb1(state_dir="-wiped")
    lb1.wait_state("MASTER", timeout=30)  # priority 150: it takes the VIP back
    log = lb1.log()
    learned = log.find("learned the group's overrides")
    master = log.find("MASTER")
    assert learned >= 0, log[-2000:]
    assert master < 0 or learned < master, "went MASTER before learning the group"
    ov = tomllib.loads((lb1.state_dir / "overrides.toml").read_text())
    assert [d["real"] for d in ov["drain"]] == [R1]
    assert _weight(lb1, R1) == 0
    wait_until(lambda: pair.lab.vip_on("d1"), timeout=10, interval=0.05)
    bodies = [pair.lab.get() for _ in range(20)]
    assert "r1" not in bodies and bodies.count("r2") >= 18


def test_a_partition_with_changes_on_each_side_heals_to_one_table(pair: Pair) -> None:
    lb1, lb2 = pair.lb1, pair.lb2
    assert lb1 is not None and lb2 is not None
    lan = pair.lab.ns("lan")

    def link(state: str) -> None:
        subprocess.run(["ip", "-n", lan, "link", "set", "p-d2", state], check=True, timeout=10)

    link("down")
    try:
        wait_until(lambda: _peer(lb1).get("reachable") is False, timeout=15, interval=0.1)
        _ok(lb1.cli("ctl", "weight", SERVICE, R2, "5"))
        _ok(lb2.cli("ctl", "weight", SERVICE, R1, "3"))
        # status reads the published snapshot (refreshed every second): wait for it
        wait_until(lambda: _peer(lb1).get("pending") == 1, timeout=5, interval=0.1)

        async def heal() -> None:
            link("up")

        # from the link coming up until both dataplanes hold the other side's change
        took = time_group_change(
            heal, [(lb1.sock, from_group("weight", R1)), (lb2.sock, from_group("weight", R2))]
        )
    finally:
        link("up")  # idempotent; restores the LAN for the checks after this one
    # (the figure against issue 12's 2 s is bench/group_sync.py's to judge)
    print(f"partition healed: both dataplanes hold one table {took:.3f} s after link up")

    def one_table() -> bool:
        a, b = lb1.status(), lb2.status()
        return (
            a is not None
            and b is not None
            and _weights(a) == _weights(b)
            and _weights(a).get(R2) == 5
        )

    wait_until(one_table, timeout=15, interval=0.05)  # their snapshots say the same
    wait_until(lambda: _peer(lb1).get("pending") == 0, timeout=10, interval=0.1)
    wait_until(lambda: lb1.vrrp_state() == "MASTER" and lb2.vrrp_state() == "BACKUP", 15)


def _weights(st: dict[str, object]) -> dict[str, int]:
    return {
        r["real"]: int(r["weight"])
        for s in st["services"]  # type: ignore[attr-defined]
        for r in s["real_servers"]
    }


INTRUDER = """
import asyncio, sys
from lvstui.clock import SystemClock
from lvstui.config.state import Overrides
from lvstui.group import keys
from lvstui.group.channel import Dialer
from lvstui.group.member import Member
from lvstui.model import RealKey, ServiceKey

async def main():
    cred = keys.load(sys.argv[1])
    m = Member("intruder", [sys.argv[2]], SystemClock())
    pair = (ServiceKey.parse(sys.argv[3]), RealKey.parse(sys.argv[4]))
    await m.local_change(Overrides(), Overrides().drain(pair, None), "mallory")
    d = Dialer(sys.argv[2], cred, m.run_link)
    d.start()
    await asyncio.sleep(3)
    print("reachable" if m.peers()[0].reachable else "refused", flush=True)
    await d.close()

asyncio.run(main())
"""


def test_another_groups_key_is_refused_and_changes_nothing(pair: Pair) -> None:
    lb1 = pair.lb1
    assert lb1 is not None
    other = pair.lab.dir / "other.pem"
    other.write_text(generate())
    other.chmod(0o600)
    before = _weights(lb1.status() or {})
    r = subprocess.run(
        [
            *("ip", "netns", "exec", pair.lab.ns("cl"), sys.executable, "-c", INTRUDER),
            *(str(other), f"{ADDR['d1']}:{PORT}", f"TCP {SERVICE}", R2),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    assert r.stdout.strip() == "refused", r.stdout + r.stderr
    assert f"refused peer {ADDR['cl']}:" in lb1.log()
    assert _weights(lb1.status() or {}) == before


def test_config_drift_is_shown_with_its_section(pair: Pair) -> None:
    lb1, lb2 = pair.lb1, pair.lb2
    assert lb1 is not None and lb2 is not None
    r = lb1.cli("group", "diff")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "same configuration" in r.stdout
    text = lb2.cfg.read_text().replace("delay_loop = 1", "delay_loop = 2")
    lb2.cfg.write_text(text)
    _ok(lb2.cli("ctl", "reload"))
    wait_until(lambda: lb1.cli("group", "diff").returncode == 1, timeout=15, interval=0.2)
    out = lb1.cli("group", "diff").stdout
    assert f"differs in virtual_server TCP {SERVICE}" in out, out
    st = lb1.status() or {}
    assert _peer(lb1).get("differing") == [f"virtual_server TCP {SERVICE}"], st.get("group")


def test_ctl_and_list_through_the_other_director(pair: Pair) -> None:
    lb1, lb2 = pair.lb1, pair.lb2
    assert lb1 is not None and lb2 is not None
    _ok(lb1.cli("ctl", "weight", SERVICE, R2, "4", "--director", "lb2"))
    wait_until(lambda: _weight(lb2, R2) == 4, timeout=10, interval=0.05)
    # lb2, which ran it, audited it naming the director and the operator it came from
    lines = [json.loads(x) for x in (lb2.state_dir / "audit.log").read_text().splitlines()]
    ran = [a for a in lines if isinstance(a.get("command"), dict) and a.get("origin") == "lb1"]
    assert ran and ran[-1]["command"]["kind"] == "weight", lines[-3:]
    assert ran[-1]["operator"].startswith("root (uid 0"), ran[-1]
    r = lb1.cli("list", "--json", "--director", "lb2")
    _ok(r)
    assert '"weight": 4' in r.stdout, r.stdout
    r = lb1.cli("list", "--director", "lb9")
    assert r.returncode == 1 and "no director named 'lb9' in group" in r.stderr, r.stderr
