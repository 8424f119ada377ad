"""track_process against keepalived's own, INSIDE the User-Mode-Linux guest on our kernel.

Run from the repository: `run-in-ipvs-vm.sh .venv/bin/python tests/vrrp/guest_track_process.py`
(tests/vrrp/test_track_process_guest.py does it in a guest of tests/vm/build-uml-kernel's
kernel). keepalived's track_process listens to the kernel's process events (the netlink
connector, CONFIG_PROC_EVENTS), which reach the initial network namespace only: on the host
the lab's keepalived runs in a namespace and cannot use it, and Debian's UML kernel has no
PROC_EVENTS. Here keepalived runs in the guest's initial namespace.

The lab: keepalived on `lvtk0` in the guest's initial namespace (198.51.100.11, priority
150, `track_process` of the processes named `lvtkaproc`, weight -60) and our VRRP
(lvstui.vrrp.run_instance) in namespace `lvtk-py` on the veth's other end (198.51.100.13,
priority 120, `--track-process lvtpyproc:-60`), VRRPv3 at 0.1 s, one VIP. The tracked
processes are copies of sleep (a process's name is its file's). Check
`track_process_moves_priorities_like_keepalived`, step by step:

1. both processes run: keepalived MASTER at 150, ours BACKUP at 120;
2. lvtkaproc killed: keepalived logs its effective priority going 150 -> 90 and ours (120)
   takes the VIP;
3. lvtpyproc killed: ours drops to 60 and keepalived (90) takes the VIP back;
4. both started again: keepalived back to 150 (logged), ours to 120, keepalived MASTER.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers import stop_process  # noqa: E402
from tests.vm.guestcheck import Skip, check  # noqa: E402

NS = "lvtk-py"
KA_ADDR, PY_ADDR, VIP = "198.51.100.11", "198.51.100.13", "198.51.100.9"
KA_PROC, PY_PROC = "lvtkaproc", "lvtpyproc"
WORK = Path(tempfile.mkdtemp(prefix="lvtk-"))
BUILD = "tests/vm/build-uml-kernel builds a kernel with it"

KEEPALIVED_CONF = f"""global_defs {{
    router_id lvtk-ka
    vrrp_version 3
}}
vrrp_track_process ka_proc {{
    process {KA_PROC}
    weight -60
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface lvtk0
    virtual_router_id 51
    priority 150
    advert_int 0.1
    track_process {{
        ka_proc
    }}
    virtual_ipaddress {{
        {VIP}/24 dev lvtk0
    }}
}}
"""


def sh(*argv: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip()}")
    return proc.stdout


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until `cond` held; AssertionError naming `what` after `timeout`."""
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.05)
    return time.monotonic() - start


def proc_events_missing() -> str:
    """Why this kernel sends no process events; "" when it does. Listens on the netlink
    connector's process-events group and starts a process: its fork must be reported."""
    netlink_connector, cn_idx_proc, cn_val_proc, listen = 11, 1, 1, 1
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, netlink_connector)
    except OSError as exc:
        return f"no netlink connector in this kernel (CONFIG_CONNECTOR): {exc}; {BUILD}"
    with sock:
        sock.bind((os.getpid(), cn_idx_proc))
        op = struct.pack("=I", listen)
        cn_msg = struct.pack("=IIIIHH", cn_idx_proc, cn_val_proc, 0, 0, len(op), 0) + op
        sock.send(struct.pack("=IHHII", 16 + len(cn_msg), 3, 0, 0, os.getpid()) + cn_msg)
        sock.settimeout(2.0)
        subprocess.run(["true"], check=True)
        try:
            sock.recv(4096)
        except TimeoutError:
            return f"this kernel sends no process events (no CONFIG_PROC_EVENTS); {BUILD}"
    return ""


def keepalived_priorities(log: Path) -> list[tuple[int, int]]:
    """keepalived's "Changing effective priority from A to B" lines, in order."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if "Changing effective priority from" in line:
            words = line.split()
            i = words.index("from")
            out.append((int(words[i + 1]), int(words[i + 3])))
    return out


def vip_on(ns: str | None, dev: str) -> bool:
    argv = ["ip", *(("-n", ns) if ns else ()), "-4", "-o", "addr", "show", "dev", dev]
    return f" {VIP}/" in sh(*argv)


class Lab:
    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.keepalived: subprocess.Popen[bytes] | None = None
        self.ours: subprocess.Popen[bytes] | None = None
        self.status = WORK / "ours.json"
        self.ka_log = WORK / "keepalived.log"

    def up(self) -> None:
        sh("ip", "netns", "add", NS)
        sh("ip", "link", "add", "lvtk0", "type", "veth", "peer", "name", "eth0", "netns", NS)
        sh("ip", "addr", "add", f"{KA_ADDR}/24", "dev", "lvtk0")
        sh("ip", "link", "set", "lvtk0", "up")
        sh("ip", "-n", NS, "addr", "add", f"{PY_ADDR}/24", "dev", "eth0")
        sh("ip", "-n", NS, "link", "set", "eth0", "up")
        sh("ip", "-n", NS, "link", "set", "lo", "up")
        for name in (KA_PROC, PY_PROC):
            shutil.copy("/bin/sleep", WORK / name)

    def start_proc(self, name: str) -> None:
        self.procs[name] = subprocess.Popen([str(WORK / name), "600"])

    def kill_proc(self, name: str) -> None:
        p = self.procs.pop(name)
        p.kill()
        p.wait(10)

    def start_keepalived(self) -> None:
        conf = WORK / "keepalived.conf"
        conf.write_text(KEEPALIVED_CONF)
        vrrp_pid = WORK / "vrrp.pid"
        argv = ["keepalived", "-P", "-n", "-l", "-D", "-G", "-f", str(conf)]
        argv += ["-p", str(WORK / "ka.pid"), "-r", str(vrrp_pid)]
        argv += ["-c", str(WORK / "checkers.pid"), "-b", str(WORK / "bfd.pid")]
        with open(self.ka_log, "ab") as log:
            self.keepalived = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: vrrp_pid.exists() and vrrp_pid.read_text().strip() != "", 10, "vrrp.pid")

    def start_ours(self) -> None:
        argv = ["ip", "netns", "exec", NS, sys.executable, "-m", "lvstui.vrrp.run_instance"]
        argv += ["--interface", "eth0", "--vrid", "51", "--priority", "120", "--version", "3"]
        argv += ["--advert-int", "0.1", "--vip", f"{VIP}/24", "--status", str(self.status)]
        argv += ["--track-process", f"{PY_PROC}:-60"]
        with open(WORK / "ours.log", "ab") as log:
            self.ours = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)

    def our(self, key: str) -> object:
        try:
            return json.loads(self.status.read_text()).get(key)
        except (OSError, ValueError):
            return None

    def down(self) -> None:
        for p in (self.ours, self.keepalived):
            if p is not None:
                stop_process(p)
        for name in list(self.procs):
            self.kill_proc(name)
        subprocess.run(["ip", "link", "del", "lvtk0"], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", NS], capture_output=True, check=False)

    def logs(self) -> str:
        ours = (WORK / "ours.log").read_text(errors="replace")[-1500:]
        return f"\nkeepalived:\n{self.ka_log.read_text(errors='replace')[-2500:]}\nours:\n{ours}"


def c_track_process() -> str:
    reason = proc_events_missing()
    if reason:
        raise Skip(reason)
    lab = Lab()
    try:
        lab.up()
        lab.start_proc(KA_PROC)
        lab.start_proc(PY_PROC)
        lab.start_keepalived()
        lab.start_ours()
        steps = []

        def step(what: str, cond: Callable[[], bool]) -> None:
            steps.append(f"{what} in {wait_for(cond, 15, what):.1f} s")

        def ka_master() -> bool:
            return vip_on(None, "lvtk0") and not vip_on(NS, "eth0")

        def ours_master() -> bool:
            return vip_on(NS, "eth0") and not vip_on(None, "lvtk0")

        step(
            "1 keepalived MASTER, ours BACKUP at 120",
            lambda: ka_master() and lab.our("state") == "BACKUP" and lab.our("priority") == 120,
        )
        lab.kill_proc(KA_PROC)
        step(
            "2 keepalived 150->90, ours MASTER",
            lambda: (
                (150, 90) in keepalived_priorities(lab.ka_log)
                and lab.our("state") == "MASTER"
                and ours_master()
            ),
        )
        lab.kill_proc(PY_PROC)
        step(
            "3 ours 120->60, keepalived MASTER",
            lambda: lab.our("priority") == 60 and lab.our("state") == "BACKUP" and ka_master(),
        )
        lab.start_proc(KA_PROC)
        lab.start_proc(PY_PROC)
        step(
            "4 keepalived 90->150, ours 120",
            lambda: (
                (90, 150) in keepalived_priorities(lab.ka_log)
                and lab.our("priority") == 120
                and ka_master()
            ),
        )
        assert keepalived_priorities(lab.ka_log) == [(150, 90), (90, 150)], lab.logs()
        return "; ".join(steps)
    except AssertionError as exc:
        raise AssertionError(f"{exc}{lab.logs()}") from None
    finally:
        lab.down()


def main() -> int:
    check("track_process_moves_priorities_like_keepalived", c_track_process)
    shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
