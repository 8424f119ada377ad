"""VRRP in a real network-namespace LAN: lvstui ↔ lvstui and lvstui ↔ keepalived 2.2.7.

One lab (the shared vrrp-lab.sh, isolated by a prefix) serves every test of this module;
each test leaves it idle (our processes killed, keepalived stopped, no VIP anywhere).
VRRPv3 with 0.1 s adverts keeps failovers under half a second; one test runs VRRPv2 with
PASS authentication at 1 s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.vrrp.lab import ADDR, VIP, Lab, ka_conf, lab_up

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]

V3 = ["--version", "3", "--advert-int", "0.1"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab_up(tmp_path_factory.mktemp("vrrp-lab"), f"lvt-vrrp-{os.getpid() % 100000}-") as lab:
        yield lab


@pytest.fixture
def idle(lab: Lab) -> Iterator[Lab]:
    try:
        yield lab
    finally:
        lab.reset()


def only(lab: Lab, host: str) -> bool:
    return lab.vip_hosts() == {host}


def test_keepalived_master_lvstui_backup(idle: Lab) -> None:
    lab = idle
    lab.ka_start("lb1", ka_conf("lb1", 150, state="MASTER"))
    wait_until(lambda: only(lab, "lb1"), 5)
    ours = lab.start_ours("py", "--priority", "100", *V3)
    wait_until(lambda: ours.status().get("master_addr") == ADDR["lb1"], 10)
    assert ours.state() == "BACKUP" and only(lab, "lb1")  # our adverts never won
    # a real crash of keepalived: no priority-0 advert; we take over after 3×0.1 + skew
    lab.ka_kill9("lb1")
    wait_until(lambda: ours.state() == "MASTER" and lab.has_vip("py"), 3)
    lab.clear_vip("lb1")  # a crashed keepalived leaves its VIP behind
    assert only(lab, "py")
    # keepalived comes back with the higher priority and preempts us
    lab.ka_start("lb1", ka_conf("lb1", 150, state="MASTER"))
    wait_until(lambda: ours.state() == "BACKUP" and only(lab, "lb1"), 5)
    # graceful stop of keepalived (priority 0): we take over in about the skew time
    t0 = time.monotonic()
    lab.ka_stop("lb1")
    wait_until(lambda: ours.state() == "MASTER", 3)
    assert time.monotonic() - t0 < 2.0
    wait_until(lambda: only(lab, "py"), 2)
    assert ours.drops().keys() <= {"vrid_mismatch"}  # keepalived's adverts were all valid
    assert ours.status()["split_brains"] == 0


def test_lvstui_master_keepalived_backup(idle: Lab) -> None:
    lab = idle
    ours = lab.start_ours("py", "--priority", "150", "--state", "MASTER", *V3)
    wait_until(lambda: ours.state() == "MASTER", 10)
    lab.ka_start("lb2", ka_conf("lb2", 100))
    time.sleep(0.5)  # keepalived's own master-down interval (0.36 s) passes: it stays backup
    assert only(lab, "py")
    assert "Entering MASTER STATE" not in lab.ka_log("lb2")
    # crash of our process: keepalived takes the VIP
    ours.kill()
    wait_until(lambda: lab.has_vip("lb2"), 3)
    lab.clear_vip("py")
    # we come back with 150 and preempt keepalived (our startup clears the stale VIP too)
    ours = lab.start_ours("py", "--priority", "150", *V3)
    wait_until(lambda: ours.state() == "MASTER" and only(lab, "py"), 10)
    # graceful stop: priority 0, keepalived takes over within its skew
    t0 = time.monotonic()
    ours.stop()
    wait_until(lambda: only(lab, "lb2"), 3)
    assert time.monotonic() - t0 < 2.0
    log = lab.ka_log("lb2")
    assert "Entering MASTER STATE" in log
    for bad in ("Invalid VRRPv3 checksum", "invalid TTL", "wrong version", "not present"):
        assert bad not in log  # keepalived found nothing wrong with our adverts


def test_nopreempt_both_ways(idle: Lab) -> None:
    lab = idle
    # keepalived is master alone; our higher-priority nopreempt instance stays backup
    lab.ka_start("lb2", ka_conf("lb2", 100))
    wait_until(lambda: only(lab, "lb2"), 5)
    ours = lab.start_ours("py", "--priority", "150", "--nopreempt", *V3)
    wait_until(lambda: ours.state() == "BACKUP", 10)
    time.sleep(0.6)
    assert ours.state() == "BACKUP" and only(lab, "lb2")
    ours.stop()
    lab.ka_stop("lb2")
    # we are master alone; keepalived with a higher priority and nopreempt stays backup
    ours = lab.start_ours("py", "--priority", "100", *V3)
    wait_until(lambda: ours.state() == "MASTER" and only(lab, "py"), 10)
    lab.ka_start("lb1", ka_conf("lb1", 150, nopreempt=True))
    time.sleep(0.8)
    assert ours.state() == "MASTER" and only(lab, "py")


def test_unicast_peers_with_keepalived(idle: Lab) -> None:
    lab = idle
    conf = ka_conf("lb1", 150, state="MASTER", unicast=(ADDR["lb1"], [ADDR["py"]]))
    lab.ka_start("lb1", conf)
    wait_until(lambda: only(lab, "lb1"), 5)
    ours = lab.start_ours(
        "py",
        "--priority",
        "100",
        "--unicast-src-ip",
        ADDR["py"],
        "--unicast-peer",
        ADDR["lb1"],
        *V3,
    )
    wait_until(lambda: ours.status().get("master_addr") == ADDR["lb1"], 10)
    lab.ka_kill9("lb1")
    wait_until(lambda: ours.state() == "MASTER" and lab.has_vip("py"), 3)
    lab.clear_vip("lb1")
    lab.ka_start("lb1", conf)
    wait_until(lambda: ours.state() == "BACKUP" and only(lab, "lb1"), 5)
    log = lab.ka_log("lb1")
    assert "received lower priority (100) advert from 198.51.100.13" in log  # ours, unicast
    assert "Invalid VRRPv3 checksum" not in log  # the pseudo-header used the peer address


def test_lvstui_pair(idle: Lab) -> None:
    lab = idle
    a = lab.start_ours("py", "--priority", "150", *V3)
    b = lab.start_ours("lb2", "--priority", "100", *V3)
    wait_until(lambda: a.state() == "MASTER" and b.state() == "BACKUP", 10)
    wait_until(lambda: only(lab, "py"), 2)
    a.kill()
    wait_until(lambda: b.state() == "MASTER" and lab.has_vip("lb2"), 3)
    lab.clear_vip("py")
    a = lab.start_ours("py", "--priority", "150", *V3)
    wait_until(lambda: a.state() == "MASTER" and only(lab, "py"), 10)
    # b drops the VIP before its status file says BACKUP: wait for the file, boundedly.
    wait_until(lambda: b.state() == "BACKUP", 2)
    a.stop()
    wait_until(lambda: b.state() == "MASTER" and only(lab, "lb2"), 3)
    assert b.drops().keys() <= {"vrid_mismatch"}


def test_v2_pass_authentication(idle: Lab) -> None:
    lab = idle
    lab.ka_start(
        "lb1", ka_conf("lb1", 150, version=2, advert_int=1, state="MASTER", auth_pass="1111")
    )
    wait_until(lambda: only(lab, "lb1"), 5)
    v2 = ["--version", "2", "--advert-int", "1"]
    ours = lab.start_ours("py", "--priority", "100", "--auth-pass", "1111", *v2)
    wait_until(lambda: ours.status().get("master_addr") == ADDR["lb1"], 10)
    assert ours.state() == "BACKUP"
    # a wrong password in our config: keepalived rejects our adverts, we reject its
    ours.stop()
    bad = lab.start_ours("py", "--priority", "200", "--auth-pass", "2222", *v2)
    wait_until(lambda: bad.drops().get("bad_auth", 0) >= 2, 10)
    # ours becomes master (it heard no valid advert) and its adverts reach keepalived
    wait_until(lambda: "received an invalid passwd" in lab.ka_log("lb1"), 10)
    wait_until(lambda: bad.state() == "MASTER", 2)
    assert lab.has_vip("lb1")  # keepalived did not yield to our priority 200
    bad.stop()
    # interval mismatch (v2): rejected by keepalived
    lab.craft("py", "good", "--version", "2", "--advert-int", "2", "--auth-pass", "1111")
    assert "advertisement interval mismatch" in lab.ka_log("lb1")
    # a crash moves the VIP to a right-password backup after 3 s + skew
    ours = lab.start_ours("py", "--priority", "100", "--auth-pass", "1111", *v2)
    wait_until(lambda: ours.status().get("master_addr") == ADDR["lb1"], 10)
    lab.ka_kill9("lb1")
    wait_until(lambda: ours.state() == "MASTER" and lab.has_vip("py"), 6)


def test_bad_adverts_from_our_side_are_rejected_by_keepalived(idle: Lab) -> None:
    lab = idle
    lab.ka_start("lb1", ka_conf("lb1", 150, state="MASTER"))
    wait_until(lambda: only(lab, "lb1"), 5)
    # priority 200 adverts would make keepalived yield if it accepted any of them
    for kind in ("bad_checksum", "ttl", "wrong_vips", "v2"):
        lab.craft("py", kind, "--priority", "200", "--count", "3")
    log = lab.ka_log("lb1")
    assert "Invalid VRRPv3 checksum" in log
    assert "invalid TTL/HL. Received 254" in log
    assert "not present in MASTER advert" in log
    assert "wrong version" in log
    assert only(lab, "lb1") and "Entering BACKUP STATE (init)" in log
    assert log.count("Entering BACKUP STATE") == 1  # never went back to backup
    # and the control: a valid priority-200 advert does make it yield
    lab.craft("py", "good", "--priority", "200", "--count", "3")
    assert log.count("Entering BACKUP STATE") < lab.ka_log("lb1").count("Entering BACKUP STATE")


def test_bad_adverts_from_keepalived_side_are_rejected_by_us(idle: Lab) -> None:
    lab = idle
    ours = lab.start_ours("py", "--priority", "100", *V3)
    wait_until(lambda: ours.state() == "MASTER", 10)
    for kind in ("bad_checksum", "ttl", "wrong_vips", "v2"):
        lab.craft("lb1", kind, "--priority", "200", "--count", "3")
    want = {"bad_checksum", "ttl", "addr_mismatch", "version_mismatch"}
    wait_until(lambda: want <= ours.drops().keys(), 3)
    assert all(ours.drops()[k] == 3 for k in want), ours.drops()
    assert ours.state() == "MASTER" and only(lab, "py")
    lab.craft("lb1", "good", "--priority", "200", "--count", "3")
    wait_until(lambda: ours.state() == "BACKUP", 3)


CLIENT = r"""
import json, socket, sys, time
end = time.monotonic() + float(sys.argv[2])
out = []
while time.monotonic() < end:
    t = time.monotonic()
    try:
        with socket.create_connection((sys.argv[1], 80), timeout=0.2) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            body = b""
            while chunk := s.recv(4096):
                body += chunk
        out.append((t, body.rsplit(b"\r\n\r\n", 1)[-1].decode()))
    except OSError as e:
        out.append((t, "error"))
    time.sleep(0.02)
print(json.dumps(out))
"""


def test_client_keeps_reaching_the_vip_across_failover(idle: Lab) -> None:
    lab = idle
    import subprocess

    lab.sh("http-start", "lb1")
    lab.sh("http-start", "lb2")
    ours = lab.start_ours("lb1", "--priority", "150", "--state", "MASTER", *V3)
    wait_until(lambda: ours.state() == "MASTER", 10)
    lab.ka_start("lb2", ka_conf("lb2", 100))
    wait_until(lambda: only(lab, "lb1"), 3)
    client = subprocess.Popen(
        ["ip", "netns", "exec", lab.ns("client"), sys.executable, "-c", CLIENT, VIP, "4"],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    ours.kill()  # crash of our master; keepalived takes over
    out, _ = client.communicate(timeout=20)
    replies = json.loads(out)
    served = [b for _, b in replies]
    assert "lb1" in served and "lb2" in served
    first_lb2 = served.index("lb2")
    assert "lb1" not in served[first_lb2:]  # once moved, it stays moved
    gaps = [t for t, b in replies if b == "error"]
    # a crash costs ~0.36 s of master-down interval; nothing else may fail
    assert (max(gaps) - min(gaps) if gaps else 0) < 1.0
    assert served[-1] == "lb2"


def test_track_interface_weights_move_priorities_alike(idle: Lab) -> None:
    """`track_interface { lvtk0 weight -60 }` on both sides: a tracked link going down
    lowers that side's priority by 60 (no FAULT), and each side yields to the other the same
    way: keepalived 150 → 90 below our 100, then ours 100 → 40 below keepalived's 90."""
    lab = idle
    for host in ("lb1", "py"):
        lab.ip(host, "link", "add", "lvtk0", "type", "veth", "peer", "name", "lvtk1")
        lab.ip(host, "link", "set", "lvtk0", "up")
        lab.ip(host, "link", "set", "lvtk1", "up")
    try:
        lab.ka_start("lb1", ka_conf("lb1", 150, track_interface="lvtk0 weight -60"))
        wait_until(lambda: only(lab, "lb1"), 5)
        ours = lab.start_ours("py", "--priority", "100", "--track-interface", "lvtk0:-60", *V3)
        wait_until(lambda: ours.status().get("master_addr") == ADDR["lb1"], 10)
        lab.ip("lb1", "link", "set", "lvtk0", "down")  # keepalived: 150 - 60 = 90
        wait_until(lambda: only(lab, "py") and ours.state() == "MASTER", 10)
        lab.ip("py", "link", "set", "lvtk0", "down")  # ours: 100 - 60 = 40
        wait_until(lambda: only(lab, "lb1"), 10)
        wait_until(lambda: ours.state() == "BACKUP", 5)  # BACKUP, not FAULT
        assert "FAULT" not in lab.ka_log("lb1")
    finally:
        for host in ("lb1", "py"):
            lab.ip(host, "link", "del", "lvtk0", check=False)


def test_track_process_weight_moves_our_priority_against_keepalived(
    idle: Lab, tmp_path: Path
) -> None:
    """`vrrp_track_process` with weight -60 on our side: with the process running our 150
    beats keepalived's 100; the process killed, ours drops to 90 and keepalived takes the
    VIP (we go BACKUP, not FAULT); started again, ours preempts back. keepalived's own
    track_process is not compared here: it needs the kernel's process events, which reach
    the initial network namespace only (in a lab namespace keepalived logs "Failed to
    set/clear process event listen" and counts the process as gone): the IPVS guest does it,
    tests/vrrp/test_track_process_guest.py."""
    lab = idle
    name = f"lvtp{os.getpid() % 100000}"  # the comm of a copy of sleep: its file name
    sleeper = tmp_path / name
    shutil.copy("/bin/sleep", sleeper)
    proc = subprocess.Popen([str(sleeper), "300"])
    try:
        lab.ka_start("lb1", ka_conf("lb1", 100))
        ours = lab.start_ours("py", "--priority", "150", "--track-process", f"{name}:-60", *V3)
        wait_until(lambda: only(lab, "py") and ours.state() == "MASTER", 10)
        proc.kill()
        proc.wait(5)
        wait_until(lambda: only(lab, "lb1"), 10)  # polled once a second: within ~1.5 s
        wait_until(lambda: ours.state() == "BACKUP", 5)
        proc = subprocess.Popen([str(sleeper), "300"])
        wait_until(lambda: only(lab, "py") and ours.state() == "MASTER", 10)
    finally:
        proc.kill()
        proc.wait(5)
