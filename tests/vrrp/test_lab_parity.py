"""keepalived parity in the VRRP namespace lab, against keepalived 2.2.7 as the peer (or
on the same segment, one at a time): use_vmac with IPv6 (VRRPv3) and the kernel settings
around a VMAC; a vrrp_script's start state (init_fail) as the priority in the adverts.

lb1 runs keepalived, py the lvstui daemon on the same keepalived.conf imported; IPv6 is on
for eth0 of both (the lab turns it off everywhere, and leaves default.disable_ipv6=1, so the
VMAC gets IPv6 only if the VRRP side turns it on, as keepalived does).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator

import pytest

from tests.helpers import wait_until
from tests.vrrp.lab import Lab, advertised, adverts, imported, lab_up
from tests.vrrp.nsdaemon import daemon

pytestmark = [
    pytest.mark.netns,
    pytest.mark.keepalived,
    pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed"),
]

VMAC6 = "00:00:5e:00:02:33"  # VRID 51, IPv6
PFX = "kaparity-"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab_up(tmp_path_factory.mktemp("vrrp-lab"), f"{PFX}{os.getpid() % 100000}-") as lab:
        for host in ("lb1", "py"):
            lab.exec(
                host, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0",
                "net.ipv6.conf.eth0.disable_ipv6=0", "net.ipv6.conf.eth0.accept_dad=0",
            )  # fmt: skip
        for host in ("lb1", "py"):
            wait_until(lambda h=host: "fe80::" in lab.ip(h, "-6", "addr", "show", "dev", "eth0"))
        yield lab


def vmac6(name: str, priority: int) -> str:
    return (
        f"global_defs {{\n    router_id {name}\n    vrrp_version 3\n}}\n"
        "vrrp_instance VI_6 {\n    state BACKUP\n    interface eth0\n    use_vmac\n"
        f"    virtual_router_id 51\n    priority {priority}\n    advert_int 0.1\n"
        "    virtual_ipaddress {\n        2001:db8::9/64\n    }\n}\n"
    )


def holds(lab: Lab, host: str) -> bool:
    out = lab.ip(host, "-6", "-o", "addr", "show", "dev", "vrrp.51", check=False)
    return " 2001:db8::9/64 " in out


def link_local(lab: Lab, host: str, dev: str) -> list[str]:
    out = lab.ip(host, "-6", "-o", "addr", "show", "dev", dev, "scope", "link", check=False)
    return re.findall(r"inet6 (fe80::[0-9a-f:]+)/64", out)


def ka_states(lab: Lab) -> list[str]:
    return re.findall(r"\(VI_6\) Entering (\w+) STATE", lab.ka_log("lb1"))


def test_ipv6_vmac_with_keepalived_as_peer(lab: Lab) -> None:
    """IPv6 adverts leave from the VMAC (source MAC 00:00:5e:00:02:33) with the VMAC's
    link-local address, which is the base's as on keepalived's VMAC; keepalived hears ours
    (stays BACKUP under our master) and we hear its (it preempts us)."""
    try:
        lab.ka_start("lb1", vmac6("lb1", 150))
        wait_until(lambda: holds(lab, "lb1"), 10)
        assert {mac for mac, _ in adverts(lab, 6)} == {VMAC6}  # keepalived's own behaviour
        # keepalived's VMAC: the base's link-local address, none from the virtual MAC
        assert link_local(lab, "lb1", "vrrp.51") == link_local(lab, "lb1", "eth0")
        lab.ka_stop("lb1")
        wait_until(lambda: not holds(lab, "lb1"), 10)
        py_ll = link_local(lab, "py", "eth0")
        conf = imported(lab, vmac6("py", 100))
        with daemon(lab.ns("py"), conf, prefix=PFX) as (proc, _, err):
            wait_until(lambda: holds(lab, "py"), 15)
            assert link_local(lab, "py", "vrrp.51") == py_ll  # the same choice as keepalived's
            link = lab.ip("py", "-d", "link", "show", "dev", "vrrp.51")
            assert VMAC6 in link and "macvlan mode private" in link
            assert adverts(lab, 6) == {(VMAC6, py_ll[0])}  # ours, from the VMAC
            # keepalived with a lower priority hears us: BACKUP, never MASTER
            lab.ka_start("lb1", vmac6("lb1", 50))
            wait_until(lambda: "BACKUP" in ka_states(lab), 10)
            time.sleep(1.0)  # ten adverts
            assert holds(lab, "py") and not holds(lab, "lb1")
            assert ka_states(lab)[-1] == "BACKUP", lab.ka_log("lb1")
            lab.ka_stop("lb1")
            # keepalived with the higher priority: it preempts, we hear it and step back
            lab.ka_start("lb1", vmac6("lb1", 150))
            wait_until(lambda: holds(lab, "lb1") and not holds(lab, "py"), 10)
            wait_until(lambda: "VI_6: MASTER -> BACKUP" in err.read_text(), 5)
            time.sleep(0.5)
            assert holds(lab, "lb1") and not holds(lab, "py")
            assert proc.poll() is None, err.read_text()
        assert "vrrp.51" not in lab.ip("py", "link", "show")
    finally:
        lab.reset()


def sysctl(lab: Lab, host: str, key: str) -> str:
    return lab.exec(host, "sysctl", "-n", key).stdout.strip()


RP = ("all", "default", "eth0")


def test_ipv4_vmac_moves_rp_filter_off_all_like_keepalived(lab: Lab) -> None:
    """all.rp_filter=1 would override the VMAC's rp_filter=0: both keepalived and lvstui
    move it onto default and eth0 and set all to 0; both put it back at stop."""
    conf = vmac6("{}", 0).replace("2001:db8::9/64", "198.51.100.9/24")  # an IPv4 instance
    try:
        for host in ("lb1", "py"):
            for dev in RP:
                lab.exec(
                    host,
                    "sysctl",
                    "-qw",
                    f"net.ipv4.conf.{dev}.rp_filter=1"
                    if dev == "all"
                    else f"net.ipv4.conf.{dev}.rp_filter=0",
                )
        lab.ka_start("lb1", conf.replace("{}", "lb1").replace("priority 0", "priority 150"))
        wait_until(
            lambda: "198.51.100.9" in lab.ip("lb1", "addr", "show", "dev", "vrrp.51", check=False),
            10,
        )
        ka = {dev: sysctl(lab, "lb1", f"net.ipv4.conf.{dev}.rp_filter") for dev in RP}
        ka_vmac = sysctl(lab, "lb1", "net.ipv4.conf.vrrp/51.rp_filter")
        ka_v6 = sysctl(lab, "lb1", "net.ipv6.conf.vrrp/51.disable_ipv6")
        ka_base = [
            sysctl(lab, "lb1", f"net.ipv4.conf.eth0.{k}") for k in ("arp_ignore", "arp_filter")
        ]
        lab.ka_stop("lb1")
        ka_after = {dev: sysctl(lab, "lb1", f"net.ipv4.conf.{dev}.rp_filter") for dev in RP}
        py_conf = imported(lab, conf.replace("{}", "py").replace("priority 0", "priority 100"))
        with daemon(lab.ns("py"), py_conf, prefix=PFX) as (proc, _, err):
            wait_until(lambda: "vrrp.51" in lab.ip("py", "link", "show"), 15)
            wait_until(lambda: sysctl(lab, "py", "net.ipv4.conf.all.rp_filter") == "0", 5)
            ours = {dev: sysctl(lab, "py", f"net.ipv4.conf.{dev}.rp_filter") for dev in RP}
            ours_vmac = sysctl(lab, "py", "net.ipv4.conf.vrrp/51.rp_filter")
            ours_v6 = sysctl(lab, "py", "net.ipv6.conf.vrrp/51.disable_ipv6")
            ours_base = [
                sysctl(lab, "py", f"net.ipv4.conf.eth0.{k}") for k in ("arp_ignore", "arp_filter")
            ]
            assert proc.poll() is None, err.read_text()
        ours_after = {dev: sysctl(lab, "py", f"net.ipv4.conf.{dev}.rp_filter") for dev in RP}
        assert ka == {"all": "0", "default": "1", "eth0": "1"}
        assert (ours, ours_vmac, ours_v6, ours_base) == (ka, ka_vmac, ka_v6, ka_base)
        assert ka_vmac == "0" and ka_v6 == "1" and ka_base == ["1", "1"]
        assert ours_after == ka_after == {"all": "1", "default": "0", "eth0": "0"}
    finally:
        lab.reset()
        for host in ("lb1", "py"):
            for dev in RP:
                lab.exec(host, "sysctl", "-qw", f"net.ipv4.conf.{dev}.rp_filter=0")


def scripted(name: str, weight: int, init_fail: bool) -> str:
    """Priority 100 and a tracked script that gives no result during the test (a 50 s
    sleep every 60 s): what counts is the state the script starts in."""
    return (
        f"global_defs {{\n    router_id {name}\n    vrrp_version 3\n}}\n"
        'vrrp_script chk {\n    script "/bin/sleep 50"\n    interval 60\n    timeout 55\n'
        f"    weight {weight}\n" + ("    init_fail\n" if init_fail else "") + "}\n"
        "vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n"
        "    virtual_router_id 51\n    priority 100\n    advert_int 0.1\n"
        "    track_script {\n        chk\n    }\n"
        "    virtual_ipaddress {\n        198.51.100.9/24\n    }\n}\n"
    )


def test_script_start_state_as_keepalived(lab: Lab) -> None:
    """Before a tracked script's first result, keepalived and lvstui (on the imported file)
    advertise the same priority: a weight moves nothing, and weight 0 keeps the instance in
    FAULT (no adverts at all). keepalived's init_fail changes nothing on a tracked script
    (documented as "starts failed": -20 would advertise 80), and the import leaves it out."""
    cases = [(20, False, {100}), (-20, False, {100}), (20, True, {100}), (-20, True, {100})]
    cases.append((0, False, set()))
    try:
        for weight, init_fail, want in cases:
            lab.ka_start("lb1", scripted("lb1", weight, init_fail))
            if want:
                wait_until(lambda: lab.has_vip("lb1"), 10)
            else:
                # keepalived's init FAULT is silent (no log line, no advert, no VIP)
                wait_until(lambda: "Startup complete" in lab.ka_log("lb1"), 10)
                time.sleep(1.0)  # past the master-down interval
            theirs = advertised(lab)
            lab.ka_stop("lb1")
            wait_until(lambda: not lab.has_vip("lb1"), 10)
            conf = imported(lab, scripted("py", weight, init_fail))
            with daemon(lab.ns("py"), conf, prefix=PFX) as (proc, _, err):
                if want:
                    wait_until(lambda: lab.has_vip("py"), 15)
                else:
                    wait_until(lambda: "VI_1: INIT -> FAULT" in err.read_text(), 15)
                ours = advertised(lab)
                assert proc.poll() is None, err.read_text()
            assert theirs == ours == want, (weight, init_fail, theirs, ours)
    finally:
        lab.reset()
