"""`lvstui --daemon` on the kernel IPVS dataplane, run INSIDE a User-Mode-Linux guest.

Run from the repository: `run-in-ipvs-vm.sh .venv/bin/python tests/cli/guest_cli.py`
(tests/cli/test_cli_ipvs_vm.py does it once for the module). Prints one JSON line per check:
`{"name": ..., "ok": true|false, "detail": ...}`. The reference is `ipvsadm -Ln` itself:
`lvstui list` must print the same bytes, before and after operator commands.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO))  # run by path in the guest

from tests.vm.guestcheck import check  # noqa: E402

PY = sys.executable

CONFIG = """
[lvstui]
dataplane = "ipvs"

[[virtual_server]]
ip = "10.0.0.1"
port = 80
lb_algo = "rr"
lb_kind = "NAT"
[[virtual_server.real_server]]
ip = "10.0.0.3"
port = 8080
weight = 3
[[virtual_server.real_server]]
ip = "10.0.0.2"
port = 8080

[[virtual_server]]
ip = "10.0.0.1"
port = 443
lb_algo = "wlc"
lb_kind = "DR"
persistence_timeout = 300
[[virtual_server.real_server]]
ip = "10.0.0.2"
port = 443
weight = 5

[[virtual_server]]
ip = "10.0.0.1"
port = 53
protocol = "UDP"
lb_algo = "sh"
lb_flags = ["sh-port"]
lb_kind = "TUN"
[[virtual_server.real_server]]
ip = "10.0.0.4"
port = 53
"""


def rows(listing: str) -> list[list[str]]:
    return [line.split() for line in listing.splitlines()]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=REPO, check=False)


def main() -> int:
    d = Path(tempfile.mkdtemp(prefix="lvt-cli-vm-"))
    cfg = d / "config.toml"
    cfg.write_text(CONFIG)
    sock = d / "c.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(d / "notify"))
    notify.settimeout(60)
    env = {**os.environ, "NOTIFY_SOCKET": str(d / "notify")}

    def start(*extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [PY, "-m", "lvstui", "--daemon", "-f", str(cfg), "--socket", str(sock),
             "--state-dir", str(d / "state"), *extra],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip

    daemons = [start("--dont-release-ipvs")]

    def lvstui(*args: str) -> subprocess.CompletedProcess[str]:
        return run(PY, "-m", "lvstui", *args, "--socket", str(sock))

    def same(*flags: str) -> str:
        ours = lvstui("list", *flags)
        ref = run("ipvsadm", "-L", "-n", *flags)
        if ours.returncode != 0 or ours.stdout != ref.stdout:
            raise AssertionError(
                f"lvstui list:\n{ours.stdout}{ours.stderr}\nipvsadm:\n{ref.stdout}"
            )
        return ref.stdout

    def ready() -> str:
        while True:
            msg = notify.recv(4096).decode()
            if "READY=1" in msg.split("\n"):
                return msg

    def sigterm() -> str:
        daemons[-1].send_signal(signal.SIGTERM)
        rc = daemons[-1].wait(60)
        if rc != 0:
            raise AssertionError(f"exit {rc}")
        left = run("ipvsadm", "-L", "-n").stdout
        if "10.0.0.1" in left:
            raise AssertionError(f"services left behind:\n{left}")
        return "exit 0, table released"

    def dont_release() -> str:
        before = run("ipvsadm", "-L", "-n").stdout
        daemons[-1].send_signal(signal.SIGTERM)
        rc = daemons[-1].wait(60)
        after = run("ipvsadm", "-L", "-n").stdout
        if rc != 0 or after != before:
            raise AssertionError(f"exit {rc}; before:\n{before}after:\n{after}")
        return after

    def restart_adopts() -> str:
        before = run("ipvsadm", "-L", "-n").stdout
        daemons.append(start())
        ready()
        out = same()
        if out != before:  # adopted as is: overrides re-applied, nothing added twice
            raise AssertionError(f"before:\n{before}after:\n{out}")
        return out

    try:
        check("cli_daemon_ready", ready)
        time.sleep(0.2)
        check("cli_list_matches_ipvsadm", lambda: same())
        check("cli_list_exact_stats_matches", lambda: same("--stats", "--exact"))
        check("cli_list_persistent_conn_matches", lambda: same("--persistent-conn"))

        def weight() -> str:
            r = lvstui("ctl", "weight", "10.0.0.1:80", "10.0.0.2:8080", "7")
            if r.returncode != 0:
                raise AssertionError(r.stderr)
            out = same()
            if ["->", "10.0.0.2:8080", "Masq", "7", "0", "0"] not in rows(out):
                raise AssertionError(out)
            return out

        check("cli_ctl_weight_reaches_the_kernel", weight)

        def drain() -> str:
            r = lvstui("ctl", "drain", "-u", "10.0.0.1:53", "-r", "10.0.0.4:53", "--wait",
                       "--wait-timeout", "30")  # fmt: skip
            if r.returncode != 0 or "safe for maintenance" not in r.stdout:
                raise AssertionError(r.stdout + r.stderr)
            out = same()
            if ["->", "10.0.0.4:53", "Tunnel", "0", "0", "0"] not in rows(out):
                raise AssertionError(out)
            return r.stdout

        check("cli_ctl_drain_reaches_the_kernel", drain)
        check("cli_dont_release_keeps_the_table", dont_release)
        check("cli_restart_adopts_the_table", restart_adopts)
        check("cli_sigterm_releases", sigterm)

        def realserver_tun() -> str:
            # This guest kernel has ipip (the host has not): TUN's whole apply path runs here.
            rs = (PY, "-m", "lvstui", "realserver", "--vip", "192.0.2.10", "--mode", "tun")
            before = run(*rs, "--interface", "lo", "--check")
            if before.returncode != 1 or "MISSING ip link set tunl0 up" not in before.stdout:
                raise AssertionError(before.stdout + before.stderr)
            applied = run(*rs, "--interface", "lo", "--apply")
            if applied.returncode != 0:
                raise AssertionError(applied.stdout + applied.stderr)
            after = run(*rs, "--interface", "lo", "--check")
            if after.returncode != 0 or "ready for TUN" not in after.stdout:
                raise AssertionError(after.stdout + after.stderr)
            shown = run("ip", "-4", "addr", "show", "dev", "tunl0").stdout
            rp = Path("/proc/sys/net/ipv4/conf/tunl0/rp_filter").read_text().strip()
            if "inet 192.0.2.10/32" not in shown or "UP" not in shown or rp != "0":
                raise AssertionError(f"{shown}\nrp_filter {rp}")
            return applied.stdout

        check("cli_realserver_tun_apply_and_check", realserver_tun)
    finally:
        out = ""
        for daemon in daemons:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait(10)
            out += daemon.stdout.read() if daemon.stdout else ""
        print(json.dumps({"name": "daemon_log", "ok": True, "detail": out[-3000:]}), flush=True)
        notify.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
