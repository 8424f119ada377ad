"""The daemon in bgp mode across a reload and a seamless restart, in a namespace of ours: a
reload that switches a VIP to bgp announces it (the tun device opened on demand), a reload
back to vrrp withdraws it and closes the device, and `SIGUSR2` hands the device over so the
route stays in the table while the new process takes over; kill -9 of the new process still
takes the route with it (fate sharing survives the handover). The same with the address
handoff (FRR's): the VIP an address on the device instead of a route in the table."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import BinaryIO

import pytest

from tests.announce.test_daemon_bgp import listen, reap, start_daemon
from tests.announce.test_kernel_table import FATE_BOUND_S, link_exists, ns  # noqa: F401
from tests.announce.test_kernel_table import routes as table_routes
from tests.announce.test_tun_address import addresses
from tests.helpers import process_alive, wait_until

pytestmark = [pytest.mark.root, pytest.mark.netns]

VIP = "198.51.100.41"
DEV = "bgptun0"  # routes() reads table 245, protocol 245: the defaults


def config(mode: str, handoff: str = "route") -> str:
    return f"""
[lvstui]
dataplane = "userspace"
[lvstui.announce]
device = "{DEV}"
handoff = "{handoff}"

[[virtual_server]]
ip = "{VIP}"
port = 18081
lb_algo = "mh"
delay_loop = 0.2
announce = "{mode}"

[[virtual_server.real_server]]
ip = "127.0.0.1"
port = 18080

[[virtual_server.real_server.tcp_check]]
connect_timeout = 0.5
"""


def start_on_vip(
    netns: str, tmp_path: Path, mode: str, handoff: str = "route"
) -> tuple[Path, subprocess.Popen[bytes], BinaryIO, subprocess.Popen[str]]:
    """The VIP on lo, the config in `mode`, the daemon and its real server started: the
    config's path, the daemon, its log file, the real server."""
    subprocess.run(["ip", "-n", netns, "addr", "add", f"{VIP}/32", "dev", "lo"], check=True)
    cfg = tmp_path / "bgp.toml"
    cfg.write_text(config(mode, handoff))
    daemon, log = start_daemon(netns, cfg, tmp_path)
    return cfg, daemon, log, listen(netns)


@pytest.mark.parametrize("handoff", ["route", "address"])
def test_reload_switches_announcing_and_upgrade_keeps_the_route(
    ns: str,  # noqa: F811
    tmp_path: Path,
    handoff: str,
) -> None:
    cfg, daemon, log, listener = start_on_vip(ns, tmp_path, "vrrp", handoff)
    log_path = tmp_path / "daemon.log"
    new_pid = 0
    ours = {f"{VIP} {DEV}"}

    def announced(ns: str) -> set[str]:
        """What is announced, as `table route` strings: the route handoff's routes, or the
        address handoff's addresses (its table stays empty)."""
        if handoff == "route":
            return table_routes(ns)
        assert table_routes(ns) == set()
        return {f"{a.split('/')[0]} {DEV}" for a in addresses(ns)}

    try:
        wait_until(lambda: "ready:" in log_path.read_text(errors="replace"), timeout=30)
        assert announced(ns) == set() and not link_exists(ns, DEV)
        cfg.write_text(config("bgp", handoff))
        daemon.send_signal(signal.SIGHUP)
        wait_until(lambda: announced(ns) == ours, timeout=30)  # announced without a restart
        cfg.write_text(config("vrrp", handoff))
        daemon.send_signal(signal.SIGHUP)
        wait_until(lambda: announced(ns) == set() and not link_exists(ns, DEV), timeout=30)
        cfg.write_text(config("bgp", handoff))
        daemon.send_signal(signal.SIGHUP)
        wait_until(lambda: announced(ns) == ours, timeout=30)

        daemon.send_signal(signal.SIGUSR2)  # the seamless restart
        seen: list[set[str]] = []
        end = time.monotonic() + 60
        while daemon.poll() is None and time.monotonic() < end:
            seen.append(announced(ns))
        assert daemon.poll() == 0, "the old daemon did not hand over and exit"
        found = re.search(r"handed over to pid (\d+)", log_path.read_text(errors="replace"))
        assert found, "no handover in the log"
        new_pid = int(found.group(1))
        assert process_alive(new_pid)
        assert seen and all(s == ours for s in seen), f"the route left during the handover: {seen}"
        time.sleep(1.5)  # a few ticks of the new daemon's loop: it keeps the route
        assert announced(ns) == ours
        os.kill(new_pid, signal.SIGKILL)  # the adopted device still shares the new one's fate
        wait_until(lambda: announced(ns) == set(), timeout=FATE_BOUND_S, interval=0.005)
    except AssertionError:
        print(log_path.read_text(errors="replace")[-4000:])
        raise
    finally:
        if new_pid and process_alive(new_pid):
            os.kill(new_pid, signal.SIGKILL)
        reap(daemon, listener)
        log.close()
