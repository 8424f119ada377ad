"""A VRRP lab driver for tests and benchmarks: the shared vrrp-lab.sh (isolated with PFX)
plus our own `python -m lvstui.vrrp.run_instance` processes inside its namespaces."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import wait_until

REPO = Path(__file__).resolve().parents[2]
VIP = "198.51.100.9"
ADDR = {"lb1": "198.51.100.11", "lb2": "198.51.100.12", "py": "198.51.100.13"}
HOSTS = ("lb1", "lb2", "py", "client")


def ka_conf(
    name: str,
    priority: int,
    *,
    version: int = 3,
    advert_int: float = 0.1,
    state: str = "BACKUP",
    nopreempt: bool = False,
    auth_pass: str | None = None,
    unicast: tuple[str, list[str]] | None = None,
    track_interface: str = "",
) -> str:
    auth = (
        f"    authentication {{\n        auth_type PASS\n        auth_pass {auth_pass}\n    }}\n"
        if auth_pass
        else ""
    )
    return (
        f"global_defs {{\n    router_id {name}\n    vrrp_version {version}\n"
        "    vrrp_garp_master_delay 5\n    vrrp_garp_master_repeat 5\n}\n"
        f"vrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n"
        f"    virtual_router_id 51\n    priority {priority}\n    advert_int {advert_int:g}\n"
        + ("    nopreempt\n" if nopreempt else "")
        + auth
        + (f"    track_interface {{\n        {track_interface}\n    }}\n" * bool(track_interface))
        + (
            f"    unicast_src_ip {unicast[0]}\n    unicast_peer {{\n"
            + "".join(f"        {p}\n" for p in unicast[1])
            + "    }\n"
            if unicast
            else ""
        )
        + f"    virtual_ipaddress {{\n        {VIP}/24 dev eth0\n    }}\n}}\n"
    )


class Ours:
    """One of our VRRP processes in a namespace."""

    def __init__(self, lab: Lab, host: str, args: list[str]) -> None:
        self.host = host
        self.status_path = lab.dir / f"ours-{host}-{time.monotonic_ns()}.json"
        self.log_path = lab.dir / f"ours-{host}.log"
        cmd = [
            "ip",
            "netns",
            "exec",
            lab.ns(host),
            sys.executable,
            "-m",
            "lvstui.vrrp.run_instance",
            "--interface",
            "eth0",
            "--vrid",
            "51",
            "--vip",
            f"{VIP}/24",
            "--status",
            str(self.status_path),
            *args,
        ]
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT)

    def status(self) -> dict[str, object]:
        try:
            data: dict[str, object] = json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return {}
        return data

    def state(self) -> str:
        return str(self.status().get("state", ""))

    def drops(self) -> dict[str, int]:
        d = self.status().get("drops", {})
        return dict(d) if isinstance(d, dict) else {}

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """A crash: SIGKILL, no priority-0 advert, the VIP stays where it was."""
        if self.alive():
            self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        """Graceful: SIGTERM (priority 0, VIPs removed)."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


class Lab:
    def __init__(self, tool: Path, workdir: Path, prefix: str) -> None:
        self.tool = tool
        self.dir = workdir
        self.prefix = prefix
        self.env = {**os.environ, "PFX": prefix, "VRRPLAB_DIR": str(workdir)}
        self.ours: list[Ours] = []
        self.running_ka: set[str] = set()

    def ns(self, host: str) -> str:
        return f"{self.prefix}{host}"

    def sh(self, *args: str, check: bool = True) -> str:
        r = subprocess.run(
            ["bash", str(self.tool), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and r.returncode != 0:
            raise RuntimeError(f"vrrp-lab {args}: {r.stdout}{r.stderr}")
        return r.stdout

    def up(self) -> None:
        self.sh("down", check=False)
        self.sh("up")

    def down(self) -> None:
        self.reset()
        self.sh("down", check=False)

    def ka_start(self, host: str, conf: str) -> None:
        path = self.dir / f"ka-{host}.conf"
        path.write_text(conf)
        # one log per start, so a test only reads what its own keepalived said
        log = self.dir / "run" / self.prefix / host / "keepalived.log"
        if log.exists():
            with open(log.with_suffix(".old"), "a") as old:
                old.write(log.read_text(errors="replace"))
            log.unlink()
        self.sh("ka-start", host, str(path))
        self.running_ka.add(host)

    def ka_stop(self, host: str) -> None:
        self.sh("ka-stop", host, "TERM", check=False)
        self.running_ka.discard(host)

    def ka_kill9(self, host: str) -> None:
        self.sh("ka-kill9", host)
        self.running_ka.discard(host)

    def ka_log(self, host: str) -> str:
        p = self.dir / "run" / self.prefix / host / "keepalived.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def start_ours(self, host: str, *args: str) -> Ours:
        o = Ours(self, host, list(args))
        self.ours.append(o)
        return o

    def ip(self, host: str, *args: str, check: bool = True) -> str:
        r = subprocess.run(
            ["ip", "-n", self.ns(host), *args], capture_output=True, text=True, timeout=10
        )
        if check and r.returncode != 0:
            raise RuntimeError(f"ip -n {host} {args}: {r.stderr}")
        return r.stdout

    def has_vip(self, host: str) -> bool:
        return f" {VIP}/" in self.ip(host, "-4", "-o", "addr", "show", "dev", "eth0")

    def vip_hosts(self) -> set[str]:
        return {h for h in ("lb1", "lb2", "py") if self.has_vip(h)}

    def clear_vip(self, host: str) -> None:
        """After a crash the VIP stays on the dead director's interface: take it off."""
        self.ip(host, "addr", "del", f"{VIP}/24", "dev", "eth0", check=False)

    def exec(self, host: str, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.ns(host), *cmd],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def craft(self, host: str, kind: str, *args: str) -> None:
        r = self.exec(
            host,
            sys.executable,
            str(REPO / "tests" / "vrrp" / "craft.py"),
            "--kind",
            kind,
            "--src",
            ADDR[host],
            *args,
        )
        if r.returncode != 0:
            raise RuntimeError(f"craft {kind}: {r.stderr}")

    def reset(self) -> None:
        """Back to an idle LAN: our processes and keepalived stopped, no VIP anywhere."""
        for o in self.ours:
            with contextlib.suppress(Exception):
                o.kill()
            with contextlib.suppress(Exception):
                o.log.close()
        self.ours.clear()
        for h in ("lb1", "lb2", "py"):
            self.sh("ka-stop", h, "KILL", check=False)
            self.clear_vip(h)
        self.running_ka.clear()


def imported(lab: Lab, conf: str) -> str:
    """A keepalived.conf through `lvstui import-keepalived`, for the daemon (userspace
    dataplane: the host has no IPVS)."""
    path = lab.dir / "import.conf"
    path.write_text(conf)
    r = subprocess.run(
        [sys.executable, "-m", "lvstui", "import-keepalived", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return r.stdout + '\n[lvstui]\ndataplane = "userspace"\n'


def adverts(lab: Lab, family: int) -> set[tuple[str, str]]:
    """(source MAC, source address) of the adverts of the family that a client on the
    segment sees (five of them, by tcpdump)."""
    r = lab.exec(
        "client", "timeout", "5", "tcpdump", "-e", "-n", "-t", "-l", "-c", "5",
        "-i", "eth0", "ip proto 112" if family == 4 else "ip6 proto 112",
    )  # fmt: skip
    group = r"224\.0\.0\.18" if family == 4 else "ff02::12"
    src = r"[\d.]+" if family == 4 else "[0-9a-f:]+"
    found = set(re.findall(rf"^([0-9a-f:]{{17}}) > .*?: ({src}) > {group}", r.stdout, re.M))
    assert found, r.stdout + r.stderr
    return found


def advertised(lab: Lab) -> set[int]:
    """The priorities in the adverts a client on the segment sees within 3 s (none: nobody
    is MASTER)."""
    r = lab.exec(
        "client", "timeout", "3", "tcpdump", "-n", "-t", "-l", "-c", "5", "-i", "eth0",
        "ip proto 112",
    )  # fmt: skip
    return {int(p) for p in re.findall(r"vrid 51, prio (\d+)", r.stdout)}


def settled(lab: Lab, want: int) -> set[int]:
    """The advertised priorities once the script's result has moved the priority (the first
    adverts can carry the one before any result)."""
    seen: list[set[int]] = []

    def moved() -> bool:
        seen.append(advertised(lab))
        return seen[-1] == {want}

    with contextlib.suppress(AssertionError):  # the caller compares what was seen last
        wait_until(moved, 20, interval=0.5)
    return seen[-1]


@contextlib.contextmanager
def lab_up(workdir: Path, prefix: str) -> Iterator[Lab]:
    """A lab for a test module (skipped where root, ip, keepalived or the tool are missing),
    torn down on the way out."""
    from tests.helpers import require_cmd, require_root, require_shared_tool

    require_root("the VRRP namespace lab")
    require_cmd("ip", "keepalived")
    lab = Lab(require_shared_tool("vrrp-lab/vrrp-lab.sh"), workdir, prefix)
    lab.up()
    try:
        yield lab
    finally:
        lab.down()
