"""The real daemon in a network namespace, started before its VRRP interface exists (a VLAN
or bond created later): it keeps running with the instance in FAULT, and once the
interface is created with an address the instance opens on it and becomes MASTER."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from tests.helpers import require_cmd, require_root, wait_until
from tests.vrrp.nsdaemon import REPO, daemon, sh

pytestmark = [pytest.mark.netns, pytest.mark.root]

CONFIG = """\
[global_defs]
router_id = "lvt-vrrp-iface"

[lvstui]
dataplane = "userspace"

[vrrp_instance.VI_1]
interface = "eth0"
virtual_router_id = 62
priority = 150
version = 3
advert_int = 0.1
virtual_ipaddress = ["198.51.100.9/24"]
"""


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    require_root("namespace tests")
    require_cmd("ip")
    ns = f"lvt-vrrp-i{os.getpid() % 100000}"
    sh("ip", "netns", "del", ns, check=False)
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")  # no eth0 yet
        yield ns
    finally:
        sh("ip", "netns", "del", ns, check=False)


def addrs(ns: str) -> str:
    return sh("ip", "-n", ns, "-4", "-o", "addr", "show", check=False).stdout


def vrrp_state(sock: str) -> dict[str, object] | None:
    r = subprocess.run(
        [sys.executable, "-m", "lvstui", "status", "--json", "--socket", sock],
        capture_output=True,
        text=True,
        timeout=10,
        cwd=REPO,
    )
    if r.returncode != 0:
        return None
    vrrp: list[dict[str, object]] = json.loads(r.stdout)["vrrp"]
    return vrrp[0] if vrrp else None


def test_daemon_waits_in_fault_for_a_missing_interface_then_elects(netns: str) -> None:
    with daemon(netns, CONFIG, prefix="lvt-vrrp-iface-") as (proc, cfg, err):
        sock = str(cfg.parent / "control.sock")
        # serving, with the instance in FAULT (it used to exit with status 1)
        wait_until(lambda: (vrrp_state(sock) or {}).get("state") == "FAULT", 15)
        assert proc.poll() is None, err.read_text()
        view = vrrp_state(sock)
        assert view is not None and "eth0" in str(view["reason"]), view
        assert "interface 'eth0' not found" in err.read_text()
        # the interface appears (with an address): the instance opens on it, is
        # alone on the link, becomes MASTER and takes the VIP
        sh("ip", "-n", netns, "link", "add", "eth0", "type", "veth", "peer", "eth0p")
        sh("ip", "-n", netns, "addr", "add", "198.51.100.11/24", "dev", "eth0")
        sh("ip", "-n", netns, "link", "set", "eth0p", "up")
        sh("ip", "-n", netns, "link", "set", "eth0", "up")
        wait_until(lambda: "198.51.100.9/24" in addrs(netns), 10)
        wait_until(lambda: (vrrp_state(sock) or {}).get("state") == "MASTER", 5)
        log = err.read_text()
        assert "VI_1: FAULT -> BACKUP" in log and "VI_1: BACKUP -> MASTER" in log, log
        # deleted again: FAULT, and the daemon still serves
        sh("ip", "-n", netns, "link", "del", "eth0")
        wait_until(lambda: (vrrp_state(sock) or {}).get("state") == "FAULT", 5)
        wait_until(lambda: "interface 'eth0' gone" in err.read_text(), 5)
        # its VIP went with it: releasing it is no error
        assert "ERROR lvstui.vrrp: VI_1: interface 'eth0' not found" not in err.read_text()
        assert proc.poll() is None


def test_link_monitor_sees_links_created_deleted_and_created_again(netns: str) -> None:
    """The kernel edges the waiting relies on: PyrouteLinks' ifindex follows RTM_NEWLINK /
    RTM_DELLINK (a link created again has a new one), and removing a VIP from a deleted
    interface is a no-op (the kernel removed it with the link)."""
    script = textwrap.dedent(
        """
        import asyncio, json, subprocess
        from lvstui.config.schema import VipAddress
        from lvstui.vrrp.addresses import PyrouteAddresses
        from lvstui.vrrp.track import PyrouteLinks

        def ip(*args):
            subprocess.run(["ip", *args], check=True)

        async def until(links, pred):
            for _ in range(300):
                idx = await links.index("vlan7")
                if pred(idx):
                    return idx
                await asyncio.sleep(0.01)
            raise SystemExit("link monitor did not follow")

        async def main():
            links, addrs = PyrouteLinks(), PyrouteAddresses()
            res = {"before": await links.index("vlan7")}
            ip("link", "add", "vlan7", "type", "veth", "peer", "vlan7p")
            first = await until(links, lambda i: i is not None)
            ip("link", "del", "vlan7")
            res["deleted"] = await until(links, lambda i: i is None)
            await addrs.remove(VipAddress("198.51.100.77", 24), "vlan7")  # no error
            ip("link", "add", "vlan7", "type", "veth", "peer", "vlan7p")
            second = await until(links, lambda i: i is not None)
            res["new_index"] = second != first
            ip("link", "del", "vlan7")
            await links.close()
            await addrs.close()
            print(json.dumps(res))

        asyncio.run(main())
        """
    )
    r = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"before": None, "deleted": None, "new_index": True}
