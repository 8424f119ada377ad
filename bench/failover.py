"""VRRP failover time, lvstui vs keepalived, in one namespace lab (driver of failover.sh).

Master: keepalived on lb1 (priority 150). Backup (priority 100), one at a time: keepalived
on lb2, or lvstui on py. Both backups run a tiny HTTP server that answers with its name.
For each case the client namespace probes VIP:80 every 2 ms and listens to the adverts:

- crash: the master is frozen and SIGKILLed (no priority-0 advert); figure = time from the
  master's last advert to the first reply from the backup, and from the kill itself;
- graceful: the master is stopped with SIGTERM (priority-0 advert); figure = time from that
  priority-0 advert to the first reply from the backup.

VRRPv2 with 1 s adverts and VRRPv3 with 0.1 s adverts; each case `RUNS` times, median.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.vrrp.lab import ADDR, VIP, Lab, ka_conf  # noqa: E402

RUNS = int(os.environ.get("RUNS", "3"))


def wait(cond, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise RuntimeError("timed out")
        time.sleep(0.02)


def pid(lab: Lab, host: str, name: str) -> int:
    return int((lab.dir / "run" / lab.prefix / host / name).read_text().strip())


def one(lab: Lab, version: int, backup: str, mode: str) -> tuple[float, float]:
    adv = 1.0 if version == 2 else 0.1
    auth = "1111" if version == 2 else None
    lab.ka_start(
        "lb1", ka_conf("lb1", 150, version=version, advert_int=adv, state="MASTER", auth_pass=auth)
    )
    wait(lambda: lab.has_vip("lb1"), 10)
    if backup == "keepalived":
        host = "lb2"
        lab.ka_start("lb2", ka_conf("lb2", 100, version=version, advert_int=adv, auth_pass=auth))
    else:
        host = "py"
        args = ["--priority", "100", "--version", str(version), "--advert-int", f"{adv:g}"]
        if auth:
            args += ["--auth-pass", auth]
        ours = lab.start_ours("py", *args)
        wait(lambda: ours.status().get("master_addr") == ADDR["lb1"], 15)
    time.sleep(3 * adv + 0.5)  # settled: the backup has heard several adverts
    ready = lab.dir / "probe.ready"
    ready.unlink(missing_ok=True)
    probe = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            lab.ns("client"),
            sys.executable,
            str(REPO / "bench" / "failover_probe.py"),
            VIP,
            str(8 * adv + 2.5),
            str(ready),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    wait(ready.exists, 10)
    time.sleep(max(0.5, 1.5 * adv))
    t_kill = time.monotonic()
    if mode == "crash":
        parent, child = pid(lab, "lb1", "keepalived.pid"), pid(lab, "lb1", "vrrp.pid")
        os.kill(parent, signal.SIGSTOP)
        os.kill(child, signal.SIGKILL)
        t_kill = time.monotonic()
        os.kill(parent, signal.SIGKILL)
        lab.ka_kill9("lb1")  # bookkeeping only (pid files)
    else:
        lab.ka_stop("lb1")
    out, _ = probe.communicate(timeout=60)
    data = json.loads(out)
    master = [(t, p) for t, src, p in data["adverts"] if src == ADDR["lb1"]]
    first = next(t for t, body in data["replies"] if body == host and t > t_kill - 0.05)
    if mode == "crash":
        last = max(t for t, p in master if t <= t_kill + 0.001)
        result = (first - last, first - t_kill)
    else:
        zero = min(t for t, p in master if p == 0)
        result = (first - zero, first - t_kill)
    lab.reset()
    return result


def main() -> int:
    tool = Path(os.environ.get("VRRPLAB", REPO.parent / "shared/tools/vrrp-lab/vrrp-lab.sh"))
    work = Path(os.environ.get("VRRPLAB_DIR", "/tmp/lvt-vrrp-bench"))
    work.mkdir(parents=True, exist_ok=True)
    lab = Lab(tool, work, "lvt-vrrp-b-")
    lab.up()
    try:
        for h in ("lb2", "py"):
            lab.sh("http-start", h)
        print(f"VRRP failover, median of {RUNS} (seconds; lower is better)")
        print(f"{'case':44} {'keepalived':>11} {'lvstui':>11} {'ratio':>7}")
        for version, mode in ((2, "crash"), (3, "crash"), (2, "graceful"), (3, "graceful")):
            res: dict[str, list[tuple[float, float]]] = {"keepalived": [], "lvstui": []}
            for _ in range(RUNS):
                for who in ("keepalived", "lvstui"):
                    res[who].append(one(lab, version, who, mode))
            ref = "last advert" if mode == "crash" else "priority-0 advert"
            k = statistics.median(r[0] for r in res["keepalived"])
            o = statistics.median(r[0] for r in res["lvstui"])
            label = f"v{version} {'1 s' if version == 2 else '0.1 s'} {mode} (from {ref})"
            print(f"{label:44} {k:11.3f} {o:11.3f} {o / k:7.2f}")
            for who in ("keepalived", "lvstui"):
                runs = " ".join(f"{r[0]:.3f}" for r in res[who])
                print(f"    {who:11} runs: {runs}")
            if mode == "crash":
                k2 = statistics.median(r[1] for r in res["keepalived"])
                o2 = statistics.median(r[1] for r in res["lvstui"])
                label = f"v{version} {mode} (from the kill; phase-dependent)"
                print(f"{label:44} {k2:11.3f} {o2:11.3f} {o2 / k2:7.2f}")
            sys.stdout.flush()
    finally:
        lab.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
