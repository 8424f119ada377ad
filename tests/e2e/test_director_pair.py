"""An operator's director pair, for real: two directors on a bridged LAN in network
namespaces, a VRRPv3 instance (0.1 s adverts) carrying the VIP 198.51.100.9, the virtual
server 198.51.100.9:8080 on the userspace dataplane in front of two real HTTP servers, and a
client that keeps asking the VIP while the master crashes (kill -9, no goodbye advert).

- two `lvstui --daemon`: the backup takes the VIP and serves; then, on the new master,
  SIGHUP with a changed weight and SIGHUP with a broken config under load lose nothing;
- a planned switchover (a failing `track_script` lowers the master's priority) and back,
  under load, loses nothing;
- a real keepalived (VRRP only) as the peer, both ways: keepalived master and lvstui backup
  (lvstui accepts its adverts, listens on the VIP before owning it, serves right after the
  takeover), then lvstui master and keepalived backup (keepalived accepts ours and takes over
  on lvstui's graceful stop).

One lab for the module; every process and namespace goes away even on failure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.e2e.lab import (
    ADDR,
    VIP,
    VPORT,
    Lab,
    daemon_config,
    keepalived_config,
)
from tests.helpers import require_cmd, require_root, wait_until

pytestmark = [pytest.mark.root, pytest.mark.netns]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_root("network namespaces, veths and raw VRRP sockets")
    require_cmd("ip")
    lab = Lab(f"lvt-qa{os.getpid() % 10000}-")
    try:
        lab.up()
        for host in ("r1", "r2"):
            lab.http(host)
        for host in ("r1", "r2"):
            wait_until(lambda h=host: _listening(lab, h, 80), timeout=10)  # type: ignore[misc]
        yield lab
    finally:
        lab.close()


def _listening(lab: Lab, host: str, port: int, addr: str = "") -> bool:
    out = subprocess.run(
        ["ip", "netns", "exec", lab.ns(host), "ss", "-Hltn", f"sport = :{port}"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout
    return bool(out.strip()) and (not addr or f"{addr}:{port}" in out)


def _forget_vip(lab: Lab, host: str) -> None:
    """A crashed director leaves the VIP on its interface (so does keepalived)."""
    subprocess.run(
        ["ip", "-n", lab.ns(host), "addr", "del", f"{VIP}/24", "dev", "eth0"],
        capture_output=True,
        timeout=10,
        check=False,
    )


def _results(loop: subprocess.Popen[bytes]) -> list[dict[str, object]]:
    out, _ = loop.communicate(timeout=60)
    return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]


def _assert_served_through(results: list[dict[str, object]], t_kill: float) -> None:
    """Failures only in one window right after the crash; from the first success after it,
    every request is answered, by both real servers in turn."""
    assert results, "no request made"
    after = [r for r in results if float(r["t"]) > t_kill]  # type: ignore[arg-type]
    first_ok = next((i for i, r in enumerate(after) if r["ok"]), None)
    assert first_ok is not None, f"nothing served after the crash: {after[-3:]}"
    tail = after[first_ok:]
    assert all(r["ok"] for r in tail), [r for r in tail if not r["ok"]][:3]
    assert {r["body"] for r in tail} == {"r1", "r2"}, tail[-4:]
    assert all(r["ok"] for r in results if float(r["t"]) < t_kill - 0.3)  # type: ignore[arg-type]


def _assert_at_most_one_lost_in_the_switch(results: list[dict[str, object]]) -> None:
    """A switchover loses nothing but a request caught in the instant both directors change
    roles: the old master drops the VIP while the client may still send to its MAC (an ARP
    reply it gave during the ~0.1 s overlap), until the new master's next gratuitous ARPs —
    as with keepalived. So: at most one, and every other request answered."""
    failed = [r for r in results if not r["ok"]]
    assert len(failed) <= 1, failed[:3]


def test_lvstui_pair_backup_takes_over_a_crashed_master_and_reloads_under_load(lab: Lab) -> None:
    d1 = lab.daemon("d1", daemon_config("lb1", 150, "MASTER"))
    d2 = lab.daemon("d2", daemon_config("lb2", 100, "BACKUP"))
    try:
        d1.wait_state("MASTER", timeout=30)
        d2.wait_state("BACKUP", timeout=30)
        wait_until(lambda: lab.vip_on("d1") and not lab.vip_on("d2"), timeout=10)
        # the VIP serves, round robin over both real servers
        wait_until(lambda: lab.get() is not None, timeout=10)
        assert {lab.get() for _ in range(4)} == {"r1", "r2"}
        listing = d1.cli("list").stdout
        assert f"TCP  {VIP}:{VPORT} wrr" in listing
        assert f"{ADDR['r1']}:80" in listing and f"{ADDR['r2']}:80" in listing

        # the master crashes under load
        loop = lab.client_loop(count=60, gap=0.05)
        time.sleep(0.4)  # some requests before the crash (a bounded prelude, not a wait)
        t_kill = time.monotonic()
        d1.proc.send_signal(signal.SIGKILL)
        d1.proc.wait(10)
        d2.wait_state("MASTER", timeout=10)
        wait_until(lambda: lab.vip_on("d2"), timeout=5)
        _assert_served_through(_results(loop), t_kill)
        _forget_vip(lab, "d1")
        wait_until(lambda: lab.get() is not None, timeout=10)

        # SIGHUP with a changed weight under load: nothing lost, the new weight applies
        loop = lab.client_loop(count=40, gap=0.02)
        d2.cfg.write_text(daemon_config("lb2", 100, "BACKUP", weight1=3))
        d2.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "weight 1 → 3" in d2.log(), timeout=10)
        results = _results(loop)
        assert all(r["ok"] for r in results), [r for r in results if not r["ok"]][:3]
        wait_until(lambda: f"{ADDR['r1']}:80             Masq    3" in d2.cli("list").stdout, 5)
        bodies = [lab.get() for _ in range(8)]
        assert bodies.count("r1") == 6 and bodies.count("r2") == 2, bodies  # wrr 3:1

        # SIGHUP with a broken config under load: error logged, the old config keeps serving
        loop = lab.client_loop(count=30, gap=0.02)
        d2.cfg.write_text(daemon_config("lb2", 100, "BACKUP") + 'lb_algo = "wrrr"\n[[x\n')
        d2.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "configuration rejected" in d2.log(), timeout=10)
        results = _results(loop)
        assert all(r["ok"] for r in results), [r for r in results if not r["ok"]][:3]
        assert f"{ADDR['r1']}:80             Masq    3" in d2.cli("list").stdout
        assert d2.proc.poll() is None and d2.vrrp_state() == "MASTER"
    finally:
        for d in (d1, d2):
            if d.proc.poll() is None:
                d.proc.send_signal(signal.SIGTERM)
                d.proc.wait(20)
        _forget_vip(lab, "d1")
        _forget_vip(lab, "d2")
    assert d2.proc.returncode == 0, d2.log()[-2000:]


def test_planned_switchover_by_track_script_loses_nothing(lab: Lab) -> None:
    """The maintenance move of a VIP: a `track_script` (weight -100) starts failing on the
    master (a flag file), its priority drops below the backup's, the backup preempts; and
    back when the flag goes. Clients asking all along see no failure."""
    flag = lab.dir / "maintenance"
    script = (
        f"[vrrp_script.chk_maint]\nscript = \"/bin/sh -c 'test ! -e {flag}'\"\n"
        "interval = 0.2\nweight = -100\nfall = 1\nrise = 1\n\n[vrrp_instance.web]"
    )
    cfg = daemon_config("lb1", 150, "MASTER").replace("[vrrp_instance.web]", script)
    cfg = cfg.replace(
        "virtual_ipaddress = [", 'track_script = ["chk_maint"]\nvirtual_ipaddress = ['
    )
    d1 = lab.daemon("d1", cfg)
    d2 = lab.daemon("d2", daemon_config("lb2", 100, "BACKUP"))
    try:
        d1.wait_state("MASTER", timeout=30)
        d2.wait_state("BACKUP", timeout=30)
        wait_until(lambda: lab.get() is not None, timeout=10)

        loop = lab.client_loop(count=60, gap=0.05)
        flag.touch()
        d2.wait_state("MASTER", timeout=10)
        d1.wait_state("BACKUP", timeout=10)
        wait_until(lambda: lab.vip_on("d2") and not lab.vip_on("d1"), timeout=5)
        assert "prio 50/150" in d1.cli("status").stdout
        results = _results(loop)
        _assert_at_most_one_lost_in_the_switch(results)
        assert {r["body"] for r in results if r["ok"]} == {"r1", "r2"}

        loop = lab.client_loop(count=40, gap=0.05)
        flag.unlink()  # maintenance over: the master preempts back
        d1.wait_state("MASTER", timeout=10)
        wait_until(lambda: lab.vip_on("d1") and not lab.vip_on("d2"), timeout=5)
        results = _results(loop)
        _assert_at_most_one_lost_in_the_switch(results)
    finally:
        for d in (d1, d2):
            if d.proc.poll() is None:
                d.proc.send_signal(signal.SIGTERM)
                d.proc.wait(20)
        _forget_vip(lab, "d1")
        _forget_vip(lab, "d2")
    assert d1.proc.returncode == 0 and d2.proc.returncode == 0


@pytest.mark.keepalived
def test_keepalived_peer_both_ways(lab: Lab) -> None:
    require_cmd("keepalived", "ss")
    # keepalived master, lvstui backup
    ka = lab.keepalived("d1", keepalived_config("ka1", 150, "MASTER"))
    d2 = lab.daemon("d2", daemon_config("lb2", 100, "BACKUP"))
    try:
        wait_until(lambda: lab.vip_on("d1"), timeout=10)
        d2.wait_state("BACKUP", timeout=30)
        # the backup already listens on the VIP it does not hold (IP_FREEBIND)
        wait_until(lambda: _listening(lab, "d2", VPORT, VIP), timeout=10)
        time.sleep(0.5)  # five master-down intervals: keepalived's adverts keep it backup
        assert d2.vrrp_state() == "BACKUP" and not lab.vip_on("d2")
        assert lab.get() is None  # keepalived holds the VIP and serves nothing on :8080

        loop = lab.client_loop(count=40, gap=0.05)
        time.sleep(0.3)
        t_kill = time.monotonic()
        ka.kill9()
        d2.wait_state("MASTER", timeout=10)
        results = _results(loop)
        after = [r for r in results if float(r["t"]) > t_kill]  # type: ignore[arg-type]
        first_ok = next(i for i, r in enumerate(after) if r["ok"])
        assert all(r["ok"] for r in after[first_ok:]), after
        assert {r["body"] for r in after[first_ok:]} == {"r1", "r2"}
        _forget_vip(lab, "d1")

        # lvstui master, keepalived backup: keepalived accepts our adverts...
        ka2 = lab.keepalived("d1", keepalived_config("ka1", 50, "BACKUP"))
        wait_until(lambda: "Entering BACKUP STATE" in ka2.log(), timeout=10)
        time.sleep(0.5)
        assert "Entering MASTER STATE" not in ka2.log(), ka2.log()
        assert not lab.vip_on("d1") and lab.vip_on("d2") and lab.get() in {"r1", "r2"}
        # ...and takes over when lvstui stops gracefully (priority-0 advert)
        d2.proc.send_signal(signal.SIGTERM)
        assert d2.proc.wait(20) == 0
        wait_until(lambda: lab.vip_on("d1") and not lab.vip_on("d2"), timeout=5)
        assert ka2.proc.poll() is None
    finally:
        if d2.proc.poll() is None:
            d2.proc.send_signal(signal.SIGTERM)
            d2.proc.wait(20)
        _forget_vip(lab, "d1")
        _forget_vip(lab, "d2")
