"""`lvstui realserver`: the plan, and --check / --apply inside a network namespace."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from lvstui.commands.realserver import requirements
from tests.cli.harness import lvstui
from tests.helpers import network_namespace, require_cmd, require_root

VIP = "192.0.2.10"


def test_dr_plan() -> None:
    reqs = requirements([VIP], "dr", "eth1")
    assert [r.command() for r in reqs] == [
        "sysctl -w net.ipv4.conf.all.arp_ignore=1",
        "sysctl -w net.ipv4.conf.all.arp_announce=2",
        "sysctl -w net.ipv4.conf.eth1.arp_ignore=1",
        "sysctl -w net.ipv4.conf.eth1.arp_announce=2",
        f"ip addr add {VIP}/32 dev lo",
    ]


def test_tun_plan_and_vlan_names() -> None:
    cmds = [r.command() for r in requirements([VIP], "tun", "eth0.100")]
    assert "sysctl -w net.ipv4.conf.eth0/100.arp_ignore=1" in cmds
    assert "ip link set tunl0 up" in cmds
    assert "sysctl -w net.ipv4.conf.tunl0.rp_filter=0" in cmds
    assert "sysctl -w net.ipv4.conf.all.rp_filter=0" in cmds
    assert cmds[-1] == f"ip addr add {VIP}/32 dev tunl0"


def test_print_mode_and_bad_vip() -> None:
    r = lvstui("realserver", "--vip", VIP, "--interface", "eth9")
    assert r.returncode == 0
    assert f"ip addr add {VIP}/32 dev lo" in r.stdout
    assert "net.ipv4.conf.eth9.arp_announce = 2" in r.stdout
    r = lvstui("realserver", "--vip", "999.1.1.1")
    assert r.returncode == 2


@pytest.fixture
def netns() -> Iterator[str]:
    require_root("network namespaces")
    require_cmd("ip")
    with network_namespace(f"lvt-ctl-rs-{os.getpid()}", ("lvtrs0", "lvtrs1")) as name:
        yield name


def in_ns(ns: str, *args: str) -> subprocess.CompletedProcess[str]:
    return lvstui("realserver", *args, netns=ns, timeout=60)


@pytest.mark.root
@pytest.mark.netns
def test_dr_check_apply_check_in_a_namespace(netns: str) -> None:
    args = ("--vip", VIP, "--interface", "lvtrs0")
    host_proc = "/proc/sys/net/ipv4/conf/all/arp_ignore"
    with open(host_proc) as f:
        host_before = f.read()
    before = in_ns(netns, *args, "--check")
    assert before.returncode == 1
    assert "MISSING sysctl -w net.ipv4.conf.all.arp_ignore=1   (is 0)" in before.stdout
    assert f"MISSING ip addr add {VIP}/32 dev lo   (not on lo)" in before.stdout
    applied = in_ns(netns, *args, "--apply")
    assert applied.returncode == 0, applied.stderr
    assert f"done: ip addr add {VIP}/32 dev lo" in applied.stdout
    after = in_ns(netns, *args, "--check")
    assert after.returncode == 0, after.stdout
    assert "MISSING" not in after.stdout and "ready for DR" in after.stdout
    # it really is there, seen by iproute2 and /proc inside the namespace
    shown = subprocess.run(
        ["ip", "-n", netns, "-4", "addr", "show", "dev", "lo"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    assert f"inet {VIP}/32" in shown.stdout
    sysctl = subprocess.run(
        ["ip", "netns", "exec", netns, "cat", "/proc/sys/net/ipv4/conf/lvtrs0/arp_announce"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    assert sysctl.stdout.strip() == "2"
    # idempotent
    again = in_ns(netns, *args, "--apply")
    assert again.returncode == 0 and "nothing to do" in again.stdout
    # the host's own settings were not touched
    with open(host_proc) as f:
        assert f.read() == host_before


def _have_ipip() -> bool:
    r = subprocess.run(["modprobe", "-n", "ipip"], capture_output=True, timeout=10, check=False)
    return r.returncode == 0 or os.path.exists("/sys/module/ipip")


@pytest.mark.root
@pytest.mark.netns
def test_tun_apply_in_a_namespace(netns: str) -> None:
    args = ("--vip", VIP, "--interface", "lvtrs0", "--mode", "tun")
    r = in_ns(netns, *args, "--apply")
    if not _have_ipip():
        # This kernel has no ipip: the command must say so clearly, and change nothing.
        assert r.returncode == 1
        assert "no tunl0: this kernel has no ipip module" in r.stderr
        pytest.skip(
            "no ipip module on this kernel: the TUN apply path runs in the IPVS guest "
            "(tests/cli/test_cli_ipvs_vm.py)"
        )
    assert r.returncode == 0, r.stderr
    assert in_ns(netns, *args, "--check").returncode == 0
