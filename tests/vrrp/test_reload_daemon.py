"""The real daemon in a network namespace: a VIP added to the config and SIGHUP puts it on
the interface without a state change; removing the instance releases every VIP."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from lvstui.commands.upgrade import daemon_pid
from tests.helpers import require_cmd, require_root, wait_until
from tests.vrrp.nsdaemon import daemon, sh, veth_netns

pytestmark = [pytest.mark.netns, pytest.mark.root]


def config(*vips: str, instance: bool = True) -> str:
    head = '[global_defs]\nrouter_id = "lvt-vrrp-reload"\n\n[lvstui]\ndataplane = "userspace"\n'
    if not instance:
        return head
    listed = ", ".join(f'"{v}"' for v in vips)
    return head + (
        "\n[vrrp_instance.VI_1]\n"
        'interface = "eth0"\n'
        "virtual_router_id = 61\n"
        "priority = 150\n"
        "version = 3\n"
        "advert_int = 0.1\n"
        f"virtual_ipaddress = [{listed}]\n"
    )


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    require_root("namespace tests")
    require_cmd("ip")
    with veth_netns(f"lvt-vrrp-r{os.getpid() % 100000}") as ns:
        yield ns


def addrs(ns: str) -> str:
    return sh("ip", "-n", ns, "-4", "-o", "addr", "show", "dev", "eth0").stdout


def test_sighup_adds_a_vip_in_place_and_removal_releases_it(netns: str) -> None:
    with daemon(netns, config("198.51.100.9/24")) as (proc, cfg, err):
        # alone on its link it becomes MASTER and takes the VIP
        wait_until(lambda: "198.51.100.9/24" in addrs(netns), 15)
        cfg.write_text(config("198.51.100.9/24", "198.51.100.10/24"))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "198.51.100.10/24" in addrs(netns), 10)
        assert "198.51.100.9/24" in addrs(netns)
        log = err.read_text()
        assert "vrrp reload: vrrp_instance VI_1: added 198.51.100.10 (MASTER)" in log
        # the reload changed the addresses, not the state: one takeover in the log
        assert log.count("VI_1: BACKUP -> MASTER") == 1, log
        assert "-> STOP" not in log and "MASTER -> BACKUP" not in log
        # the instance removed: a graceful stop releases both VIPs
        cfg.write_text(config(instance=False))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "198.51.100.9/" not in addrs(netns), 10)
        assert "198.51.100.10/" not in addrs(netns)
        wait_until(lambda: "VI_1: MASTER -> STOP" in err.read_text(), 5)
        assert proc.poll() is None  # still serving


def test_sighup_adding_the_first_instance_starts_it(netns: str) -> None:
    """A daemon started without VRRP runs the instance a reload adds (it used to report
    success and do nothing). On asyncio's loop it starts in place; on uvloop (the default
    for a userspace director without VRRP, which cannot open netlink sockets) the daemon
    hands over to a new one, as `lvstui ctl upgrade` does, which runs it."""
    env = {"LVSTUI_EVENT_LOOP": "asyncio"}
    with daemon(netns, config(instance=False), env) as (proc, cfg, err):
        wait_until(lambda: " ready: " in err.read_text() or proc.poll() is not None, 15)
        assert proc.poll() is None, err.read_text()
        cfg.write_text(config("198.51.100.9/24"))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "198.51.100.9/24" in addrs(netns), 15)
        wait_until(lambda: "VI_1: BACKUP -> MASTER" in err.read_text(), 5)
        assert proc.poll() is None
    wait_until(lambda: "198.51.100.9/" not in addrs(netns), 10)  # released at stop
    with daemon(netns, config(instance=False)) as (proc, cfg, err):
        wait_until(lambda: " ready: " in err.read_text() or proc.poll() is not None, 15)
        assert "event loop uvloop" in err.read_text()
        sock = str(cfg.parent / "control.sock")
        old = daemon_pid(sock)
        cfg.write_text(config("198.51.100.9/24"))
        proc.send_signal(signal.SIGHUP)
        try:
            wait_until(lambda: "198.51.100.9/24" in addrs(netns), 30)
            new = daemon_pid(sock)
            assert new != old and proc.wait(30) == 0  # the old one left once the new served
            log = err.read_text()  # the new daemon writes to the same stderr
            assert "seamless restart" in log and "event loop asyncio" in log
            assert "VI_1: BACKUP -> MASTER" in log
        finally:
            try:
                new = daemon_pid(sock)
            except OSError:
                new = old  # nobody serves: nothing to stop here
            if new != old:
                os.kill(new, signal.SIGTERM)
                wait_until(lambda: not os.path.exists(f"/proc/{new}"), 15)
    wait_until(lambda: "198.51.100.9/" not in addrs(netns), 10)  # the new one released it
