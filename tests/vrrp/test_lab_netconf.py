"""keepalived's routes and rules in the VRRP namespace lab, against keepalived 2.2.7 itself.

One keepalived.conf with virtual_routes, virtual_rules, static_routes and static_rules runs on
lb1 under keepalived and, imported by `lvstui import-keepalived`, under the lvstui daemon on
py: the virtual ones are on whichever side is MASTER and only there, the static ones on
every running side, and each side takes its own off when it stops (checked on keepalived
too, so the comparison is with what it does, not with what we think it does).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator

import pytest

from tests.helpers import wait_until
from tests.vrrp.lab import Lab, adverts, imported, lab_up
from tests.vrrp.nsdaemon import daemon

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab_up(tmp_path_factory.mktemp("vrrp-lab"), f"kanet-{os.getpid() % 100000}-") as lab:
        yield lab


def netconf(name: str, priority: int) -> str:
    return (
        f"global_defs {{\n    router_id {name}\n    vrrp_version 3\n}}\n"
        "static_routes {\n    192.0.2.0/24 dev eth0 table 101\n}\n"
        "static_rules {\n    from 192.0.2.0/24 table 101 preference 201\n}\n"
        "vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n"
        f"    virtual_router_id 51\n    priority {priority}\n    advert_int 0.1\n"
        "    virtual_ipaddress {\n        198.51.100.9/24 dev eth0\n    }\n"
        "    virtual_routes {\n"
        "        203.0.113.0/24 via 198.51.100.1 dev eth0 src 198.51.100.9 table 100\n"
        "    }\n"
        "    virtual_rules {\n        from 198.51.100.9 table 100 preference 200\n    }\n"
        "}\n"
    )


def virtual_on(lab: Lab, host: str) -> tuple[bool, bool]:
    """(the virtual route, the virtual rule) present on `host`."""
    route = "203.0.113.0/24 via 198.51.100.1" in lab.ip(
        host, "route", "show", "table", "100", check=False
    )
    rule = "200:\tfrom 198.51.100.9 lookup 100" in lab.ip(host, "rule", "show")
    return route, rule


def static_on(lab: Lab, host: str) -> tuple[bool, bool]:
    route = "192.0.2.0/24 dev eth0" in lab.ip(host, "route", "show", "table", "101", check=False)
    rule = "201:\tfrom 192.0.2.0/24 lookup 101" in lab.ip(host, "rule", "show")
    return route, rule


def test_routes_and_rules_follow_the_state_as_keepalived_does(lab: Lab) -> None:
    both, neither = (True, True), (False, False)
    try:
        lab.ka_start("lb1", netconf("lb1", 150))
        wait_until(lambda: lab.vip_hosts() == {"lb1"} and virtual_on(lab, "lb1") == both, 10)
        assert static_on(lab, "lb1") == both
        with daemon(lab.ns("py"), imported(lab, netconf("py", 100)), prefix="kanet-") as (
            proc,
            _,
            err,
        ):
            # BACKUP: the static ones from the start, no virtual one
            wait_until(lambda: static_on(lab, "py") == both, 15)
            assert virtual_on(lab, "py") == neither
            # keepalived stops gracefully: we take over, with the routes and rules
            lab.ka_stop("lb1")
            wait_until(lambda: lab.vip_hosts() == {"py"} and virtual_on(lab, "py") == both, 10)
            # keepalived took its own off on the way out, static ones included
            assert virtual_on(lab, "lb1") == neither and static_on(lab, "lb1") == neither
            # keepalived back with 150 preempts: ours leave with the VIP, statics stay
            lab.ka_start("lb1", netconf("lb1", 150))
            wait_until(lambda: lab.vip_hosts() == {"lb1"} and virtual_on(lab, "py") == neither, 10)
            assert virtual_on(lab, "lb1") == both and static_on(lab, "py") == both
            assert proc.poll() is None, err.read_text()
        # our daemon stopped: its static ones are gone, keepalived's still there
        assert static_on(lab, "py") == neither and virtual_on(lab, "py") == neither
        assert static_on(lab, "lb1") == both
    finally:
        lab.reset()
        for host in ("lb1", "py"):
            lab.ip(host, "route", "flush", "table", "100", check=False)
            lab.ip(host, "route", "flush", "table", "101", check=False)
            lab.ip(host, "rule", "del", "preference", "200", check=False)
            lab.ip(host, "rule", "del", "preference", "201", check=False)


def strict(name: str, priority: int, *, accept: bool = False) -> str:
    return (
        f"global_defs {{\n    router_id {name}\n    vrrp_version 3\n    vrrp_strict\n}}\n"
        "vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n"
        f"    virtual_router_id 51\n    priority {priority}\n    advert_int 0.1\n"
        + ("    accept\n" if accept else "")
        + "    virtual_ipaddress {\n        198.51.100.9/24 dev eth0\n    }\n}\n"
    )


GET = r"""
import socket, sys
try:
    with socket.create_connection(("198.51.100.9", 80), timeout=1) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        print(s.recv(4096).rsplit(b"\r\n\r\n", 1)[-1].decode())
except OSError as e:
    print("error", e)
"""


def answers(lab: Lab) -> str:
    """Who answers the client's HTTP request to the VIP ("error ..." when nobody does)."""
    return lab.exec("client", sys.executable, "-c", GET).stdout.strip()


def test_strict_mode_drops_vip_traffic_like_keepalived(lab: Lab) -> None:
    """vrrp_strict on both sides: one master; whichever side is MASTER holds the VIP, answers
    ARP for it, and drops what is sent to it (keepalived's no_accept); with `accept` the VIP
    answers."""
    lab.sh("http-start", "lb1")
    lab.sh("http-start", "py")
    try:
        lab.ka_start("lb1", strict("lb1", 150))
        wait_until(lambda: lab.vip_hosts() == {"lb1"}, 10)
        assert "timed out" in answers(lab)  # keepalived's drop, in its nftables table
        assert "keepalived" in lab.exec("lb1", "nft", "list", "tables").stdout
        with daemon(lab.ns("py"), imported(lab, strict("py", 100)), prefix="kanet-") as (
            proc,
            _,
            err,
        ):
            wait_until(lambda: "VI_1: INIT -> BACKUP" in err.read_text(), 15)
            time.sleep(0.5)  # a few adverts: keepalived stays master, we stay backup
            assert lab.vip_hosts() == {"lb1"} and "MASTER" not in err.read_text()
            assert "lvstui_vrrp" not in lab.exec("py", "nft", "list", "tables").stdout
            lab.ka_stop("lb1")
            wait_until(lambda: lab.vip_hosts() == {"py"}, 10)
            wait_until(lambda: "lvstui_vrrp" in lab.exec("py", "nft", "list", "tables").stdout, 5)
            assert "timed out" in answers(lab)  # ours drops it the same way
            # ...but the VIP answered ARP: the client knows py's MAC for it
            mac = lab.ip("py", "-br", "link", "show", "dev", "eth0").split()[2]
            assert mac in lab.ip("client", "neigh", "show"), lab.ip("client", "neigh", "show")
            assert proc.poll() is None, err.read_text()
        # stopped: the table went with the VIP
        assert "lvstui_vrrp" not in lab.exec("py", "nft", "list", "tables").stdout
        with daemon(lab.ns("py"), imported(lab, strict("py", 100, accept=True)), prefix="kanet-"):
            wait_until(lambda: lab.vip_hosts() == {"py"}, 10)
            wait_until(lambda: answers(lab) == "py", 5)  # accept: the VIP answers
    finally:
        lab.reset()


def vmac(name: str, priority: int, *, xmit_base: bool = False) -> str:
    return (
        f"global_defs {{\n    router_id {name}\n    vrrp_version 3\n}}\n"
        "vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n    use_vmac\n"
        + ("    vmac_xmit_base\n" if xmit_base else "")
        + f"    virtual_router_id 51\n    priority {priority}\n    advert_int 0.1\n"
        "    virtual_ipaddress {\n        198.51.100.9/24\n    }\n}\n"
    )


VMAC = "00:00:5e:00:01:33"  # VRID 51


def on_vmac(lab: Lab, host: str) -> bool:
    out = lab.ip(host, "-4", "-o", "addr", "show", "dev", "vrrp.51", check=False)
    return " 198.51.100.9/24 " in out


def base_of(lab: Lab, host: str) -> tuple[str, str]:
    """(MAC, first IPv4 address) of `host`'s eth0."""
    mac = lab.ip(host, "-br", "link", "show", "dev", "eth0").split()[2]
    addr = lab.ip(host, "-4", "-br", "addr", "show", "dev", "eth0").split()[2].split("/")[0]
    return mac, addr


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
def test_use_vmac_with_keepalived_as_peer(lab: Lab) -> None:
    """use_vmac on both sides: one master; its VIP sits on vrrp.51 whose MAC is the virtual
    MAC, the client's ARP entry for the VIP is that MAC whichever side is master, and adverts
    leave from the VMAC (source MAC the virtual MAC, source address the base's) as
    keepalived's do; with vmac_xmit_base from the base interface. Both directions of the
    adverts get through (keepalived preempts us back), so both sides receive on the VMAC."""
    lab.sh("http-start", "lb1")
    lab.sh("http-start", "py")
    py_mac, py_addr = base_of(lab, "py")
    try:
        lab.ka_start("lb1", vmac("lb1", 150))
        wait_until(lambda: on_vmac(lab, "lb1"), 10)
        wait_until(lambda: answers(lab) == "lb1", 5)  # the http server starts in the background
        assert VMAC in lab.ip("client", "neigh", "show", "198.51.100.9")
        assert {mac for mac, _ in adverts(lab, 4)} == {VMAC}  # keepalived's own behaviour
        with daemon(lab.ns("py"), imported(lab, vmac("py", 100)), prefix="kanet-") as (
            proc,
            _,
            err,
        ):
            wait_until(lambda: "VI_1: INIT -> BACKUP" in err.read_text(), 15)
            # made at start, before any takeover (keepalived's timing)
            assert VMAC in lab.ip("py", "link", "show", "dev", "vrrp.51")
            time.sleep(0.5)  # a few adverts: keepalived stays master, we stay backup
            assert on_vmac(lab, "lb1") and not on_vmac(lab, "py")
            assert "MASTER" not in err.read_text()
            lab.ka_stop("lb1")
            wait_until(lambda: on_vmac(lab, "py"), 10)
            link = lab.ip("py", "-d", "link", "show", "dev", "vrrp.51")
            assert VMAC in link and "macvlan mode private" in link
            wait_until(lambda: answers(lab) == "py", 5)  # same IP, same MAC: no ARP change
            assert VMAC in lab.ip("client", "neigh", "show", "198.51.100.9")
            assert adverts(lab, 4) == {(VMAC, py_addr)}  # ours, from the VMAC
            # keepalived back with the higher priority: it hears us and preempts, we hear it
            lab.ka_start("lb1", vmac("lb1", 150))
            wait_until(lambda: on_vmac(lab, "lb1") and not on_vmac(lab, "py"), 10)
            time.sleep(0.5)
            assert on_vmac(lab, "lb1") and not on_vmac(lab, "py")
            assert proc.poll() is None, err.read_text()
        # stopped: the VMAC went with it
        assert "vrrp.51" not in lab.ip("py", "link", "show")
        lab.ka_stop("lb1")
        wait_until(lambda: not on_vmac(lab, "lb1"), 10)
        lab.ka_start("lb1", vmac("lb1", 150, xmit_base=True))
        wait_until(lambda: on_vmac(lab, "lb1"), 10)
        conf = imported(lab, vmac("py", 100, xmit_base=True))
        with daemon(lab.ns("py"), conf, prefix="kanet-") as (proc, _, err):
            wait_until(lambda: "VI_1: INIT -> BACKUP" in err.read_text(), 15)
            time.sleep(0.5)
            assert on_vmac(lab, "lb1") and not on_vmac(lab, "py")
            lab.ka_stop("lb1")
            wait_until(lambda: on_vmac(lab, "py"), 10)
            assert adverts(lab, 4) == {(py_mac, py_addr)}  # vmac_xmit_base: the base's MAC
            assert proc.poll() is None, err.read_text()
    finally:
        lab.reset()
