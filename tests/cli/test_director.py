"""`lvstui director`: what a NAT, DR or TUN director needs, printed, checked and applied."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lvstui.commands.director import requirements
from lvstui.config.load import load_config_text
from tests.cli.harness import lvstui
from tests.helpers import network_namespace, require_cmd, require_root


def _config(dataplane: str, lb_kind: str, ip: str = "192.0.2.9") -> str:
    return f"""\
[lvstui]
dataplane = "{dataplane}"

[[virtual_server]]
ip = "{ip}"
port = 80
lb_kind = "{lb_kind}"

[[virtual_server.real_server]]
ip = "{"2001:db8::20" if ":" in ip else "198.51.100.20"}"
port = 80
"""


def _commands(dataplane: str, lb_kind: str, ip: str = "192.0.2.9") -> list[str]:
    return [r.command() for r in requirements(load_config_text(_config(dataplane, lb_kind, ip)))]


def test_what_each_director_needs() -> None:
    assert _commands("ipvs", "NAT") == ["modprobe ip_vs", "sysctl -w net.ipv4.ip_forward=1"]
    assert _commands("ipvs", "NAT", "2001:db8::9") == [
        "modprobe ip_vs",
        "sysctl -w net.ipv6.conf.all.forwarding=1",
    ]
    assert _commands("ipvs", "DR") == ["modprobe ip_vs"]
    assert _commands("ipvs", "TUN") == ["modprobe ip_vs"]
    # auto: NAT may fall back to the userspace proxy, so IPVS is not required; its forwarding
    # is, for the day auto picks IPVS; DR and TUN need IPVS
    assert _commands("auto", "NAT") == ["sysctl -w net.ipv4.ip_forward=1"]
    assert _commands("auto", "DR") == ["modprobe ip_vs"]
    # the userspace proxy needs neither IPVS nor forwarding
    assert _commands("userspace", "NAT") == []


def test_plan_names_what_the_real_servers_need(tmp_path: Path) -> None:
    conf = tmp_path / "dr.toml"
    conf.write_text(_config("ipvs", "DR"))
    r = lvstui("director", "-f", str(conf))
    assert r.returncode == 0, r.stderr
    assert "modprobe ip_vs" in r.stdout
    assert "lvstui realserver --mode dr --vip 192.0.2.9 --apply" in r.stdout
    assert "share a link" in r.stdout
    conf.write_text(_config("ipvs", "NAT"))
    r = lvstui("director", "-f", str(conf))
    assert "net.ipv4.ip_forward = 1" in r.stdout and "route back" in r.stdout
    conf.write_text("[[virtual_server]]\nport = 80\n")
    assert lvstui("director", "-f", str(conf)).returncode == 2  # a bad config is an error


@pytest.fixture
def netns() -> Iterator[str]:
    require_root("network namespaces")
    require_cmd("ip")
    with network_namespace(f"lvt-kaparity-dir-{os.getpid()}") as name:
        yield name


def _in_ns(ns: str, *args: str) -> subprocess.CompletedProcess[str]:
    return lvstui(*args, netns=ns, timeout=60)


@pytest.mark.root
@pytest.mark.netns
def test_nat_director_check_apply_and_lint_in_a_namespace(netns: str, tmp_path: Path) -> None:
    """A new namespace starts with forwarding off: check-config says so, --check fails,
    --apply turns it on there (not on the host), and then both are content."""
    conf = tmp_path / "nat.toml"
    conf.write_text(_config("auto", "NAT"))
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        host_before = f.read()
    lint_before = _in_ns(netns, "check-config", "-f", str(conf))
    assert lint_before.returncode == 0  # a finding, not an error
    assert "net.ipv4.ip_forward = 1" in lint_before.stdout
    before = _in_ns(netns, "director", "-f", str(conf), "--check")
    assert before.returncode == 1
    assert "MISSING sysctl -w net.ipv4.ip_forward=1   (is 0)" in before.stdout
    applied = _in_ns(netns, "director", "-f", str(conf), "--apply")
    assert applied.returncode == 0, applied.stderr
    assert "done: sysctl -w net.ipv4.ip_forward=1" in applied.stdout
    after = _in_ns(netns, "director", "-f", str(conf), "--check")
    assert after.returncode == 0 and "ready to direct these services" in after.stdout
    assert "ip_forward" not in _in_ns(netns, "check-config", "-f", str(conf)).stdout
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        assert f.read() == host_before
