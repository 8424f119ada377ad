"""The daemon in bgp mode, in a namespace of ours (userspace dataplane): the VIP's route
appears in the table while its real server passes its check, leaves when quorum is lost,
comes back, and leaves with the process on kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

import pytest

from tests.announce.test_kernel_table import FATE_BOUND_S, NS, ns, routes  # noqa: F401
from tests.helpers import REPO, wait_until

pytestmark = [pytest.mark.root, pytest.mark.netns]

VIP = "198.51.100.40"
LISTENER = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 18080)); s.listen(16); print("listening", flush=True)
s.settimeout(0.2)
end = time.monotonic() + 120
while time.monotonic() < end:
    try:
        c, _ = s.accept(); c.close()
    except OSError:
        pass
"""


def start_daemon(netns: str, cfg: Path, tmp_path: Path) -> tuple[subprocess.Popen[bytes], BinaryIO]:
    """`lvstui --daemon` in the namespace, its output in tmp_path/daemon.log."""
    log = (tmp_path / "daemon.log").open("wb")
    daemon = subprocess.Popen(
        [
            *("ip", "netns", "exec", netns, sys.executable, "-m", "lvstui", "--daemon"),
            *("-f", str(cfg), "--socket", str(tmp_path / "c.sock")),
            *("--state-dir", str(tmp_path / "state")),
        ],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return daemon, log


def listen(netns: str) -> subprocess.Popen[str]:
    """The real server: a listener on 127.0.0.1:18080 in the namespace."""
    p = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-c", LISTENER],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "listening"
    return p


def reap(*procs: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)
        if p.stdout is not None:
            p.stdout.close()


def test_daemon_announces_while_quorum_and_withdraws(ns: str, tmp_path: Path) -> None:  # noqa: F811
    subprocess.run(["ip", "-n", ns, "addr", "add", f"{VIP}/32", "dev", "lo"], check=True)
    cfg = tmp_path / "bgp.toml"
    cfg.write_text(
        f"""
[lvstui]
dataplane = "userspace"
[lvstui.announce]
mode = "bgp"
device = "bgptun0"

[[virtual_server]]
ip = "{VIP}"
port = 18081
lb_algo = "mh"
delay_loop = 0.2

[[virtual_server.real_server]]
ip = "127.0.0.1"
port = 18080

[[virtual_server.real_server.tcp_check]]
connect_timeout = 0.5
"""
    )
    daemon, log = start_daemon(ns, cfg, tmp_path)
    listener = listen(ns)
    try:
        ours = {f"{VIP} bgptun0"}
        wait_until(lambda: routes(ns) == ours, timeout=30)
        listener.kill()
        listener.wait(timeout=10)
        assert listener.stdout is not None
        listener.stdout.close()
        wait_until(lambda: routes(ns) == set(), timeout=30)  # quorum lost: withdrawn
        listener = listen(ns)
        wait_until(lambda: routes(ns) == ours, timeout=30)
        os.kill(daemon.pid, signal.SIGKILL)
        wait_until(lambda: routes(ns) == set(), timeout=FATE_BOUND_S, interval=0.005)
    except AssertionError:
        print((tmp_path / "daemon.log").read_text(errors="replace")[-3000:])
        raise
    finally:
        reap(daemon, listener)
        log.close()
