"""The daemon with a real VRRP instance, in a network namespace: the wiring of the raw
transport, addresses and announcer, the VIP taken and given back, status showing it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.harness import NotifyListener
from tests.helpers import REPO, require_cmd, require_root, wait_until

VIP = "198.51.100.9"


@pytest.fixture
def ns() -> Iterator[str]:
    require_root("network namespaces and raw VRRP sockets")
    require_cmd("ip")
    name = f"lvt-ctl-vr-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
    try:
        for cmd in (
            ["link", "add", "lvtv0", "type", "veth", "peer", "name", "lvtv1"],
            ["addr", "add", "198.51.100.2/24", "dev", "lvtv0"],
            ["link", "set", "lvtv0", "up"],
            ["link", "set", "lvtv1", "up"],
            ["link", "set", "lo", "up"],
        ):
            subprocess.run(["ip", "-n", name, *cmd], check=True, timeout=10)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=10)


# Runs inside the namespace: prints the priority of every VRRP advert seen on lvtv1 (the
# peer end of the daemon's link) until a priority-0 one, or 30 s.
LISTENER = """
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
s.bind(("lvtv1", 0))
s.settimeout(0.5)
print("listening", flush=True)
end = time.monotonic() + 30
while time.monotonic() < end:
    try:
        pkt = s.recv(2048)
    except TimeoutError:
        continue
    if pkt[9] != 112:
        continue
    vrrp = pkt[(pkt[0] & 15) * 4:]
    print(vrrp[2], flush=True)
    if vrrp[2] == 0:
        break
"""


def vip_present(ns: str) -> bool:
    out = subprocess.run(
        ["ip", "-n", ns, "-4", "addr", "show", "dev", "lvtv0"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    return f"inet {VIP}/" in out


@pytest.mark.root
@pytest.mark.netns
def test_daemon_runs_vrrp_takes_and_releases_the_vip(ns: str) -> None:
    d = Path(tempfile.mkdtemp(prefix="lvt-ctl-vr-"))
    notify = NotifyListener(d / "notify.sock")
    cfg = d / "config.toml"
    cfg.write_text(
        f"""
[global_defs]
router_id = "lb-test"

[lvstui]
dataplane = "userspace"

[vrrp_instance.web]
state = "MASTER"
interface = "lvtv0"
virtual_router_id = 61
priority = 150
version = 3
advert_int = 0.1
virtual_ipaddress = ["{VIP}/24"]
"""
    )
    sock = d / "c.sock"
    log = (d / "daemon.log").open("wb")
    proc = subprocess.Popen(
        [
            *("ip", "netns", "exec", ns, sys.executable, "-m", "lvstui", "--daemon"),
            *("-f", str(cfg), "--socket", str(sock), "--state-dir", str(d / "state")),
        ],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "NOTIFY_SOCKET": str(notify.path)},
    )
    listener = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-c", LISTENER],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert listener.stdout is not None
        assert listener.stdout.readline().strip() == "listening"
        notify.wait_for("READY=1", timeout=30)

        def state() -> str:
            r = subprocess.run(
                [sys.executable, "-m", "lvstui", "status", "--json", "--socket", str(sock)],
                capture_output=True,
                text=True,
                timeout=30,
                cwd=REPO,
                check=False,
            )
            assert r.returncode == 0, r.stderr
            (inst,) = json.loads(r.stdout)["vrrp"]
            assert inst["name"] == "web" and inst["vrid"] == 61
            return str(inst["state"])

        # alone on its link, it becomes master (after the master-down interval) and adds the VIP
        wait_until(lambda: state() == "MASTER", timeout=20, interval=0.1)
        wait_until(lambda: vip_present(ns), timeout=10)
        text = subprocess.run(
            [sys.executable, "-m", "lvstui", "status", "--socket", str(sock)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=REPO,
            check=True,
        ).stdout
        assert "  web              MASTER  prio 150" in text
        assert f"vips {VIP}" in text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert not vip_present(ns)  # a graceful stop gives the VIP back
        adverts, _ = listener.communicate(timeout=40)
        priorities = [int(p) for p in adverts.split()]
        # adverts at priority 150 while master, then the priority-0 advert of a graceful stop
        assert priorities[-1] == 0 and 150 in priorities[:-1], priorities
    finally:
        for p in (proc, listener):
            if p.poll() is None:
                p.kill()
                p.wait(10)
        if listener.stdout is not None:
            listener.stdout.close()
        log.close()
        notify.close()
        out = (d / "daemon.log").read_text(errors="replace")
        shutil.rmtree(d, ignore_errors=True)
    assert "stopped" in out, out
