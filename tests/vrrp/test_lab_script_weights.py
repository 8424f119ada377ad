"""track_script weights against keepalived 2.2.7 in the VRRP namespace lab: once a tracked
script has its result, keepalived (lb1) and the lvstui daemon on the same keepalived.conf
imported (py) advertise the same priority, for the vrrp_script's weight and for a weight
given per item in the instance's track_script block (which overrides it), `reverse`
included: the priority moves instead of FAULT. One side at a time on the segment, so each is
MASTER and its adverts carry its priority. (The start state before any result is
tests/vrrp/test_lab_parity.py's.)"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.helpers import wait_until
from tests.vrrp.lab import Lab, imported, lab_up, settled
from tests.vrrp.nsdaemon import daemon

pytestmark = [
    pytest.mark.netns,
    pytest.mark.keepalived,
    pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed"),
]

PFX = "audit-"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab_up(tmp_path_factory.mktemp("vrrp-lab"), f"{PFX}{os.getpid() % 100000}-") as lab:
        yield lab


def conf(name: str, script: str, weight: int, item: str) -> str:
    """Priority 100, a script run every second whose first result decides (rise/fall 1),
    tracked as `chk` plus `item` (" weight -30", " weight 10 reverse", or "")."""
    return (
        f"global_defs {{\n    router_id {name}\n    vrrp_version 3\n"
        "    enable_script_security\n    script_user root\n}\n"
        f'vrrp_script chk {{\n    script "{script}"\n    interval 1\n    timeout 1\n'
        f"    rise 1\n    fall 1\n    weight {weight}\n}}\n"
        "vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n"
        "    virtual_router_id 51\n    priority 100\n    advert_int 0.1\n"
        f"    track_script {{\n        chk{item}\n    }}\n"
        "    virtual_ipaddress {\n        198.51.100.9/24\n    }\n}\n"
    )


# (script, the vrrp_script's weight, the instance's item, the priority keepalived advertises)
CASES = [
    ("/bin/false", -20, "", 80),
    ("/bin/true", 20, "", 120),
    ("/bin/false", -20, " weight -30", 70),  # the item's weight wins
    ("/bin/true", 20, " weight 10 reverse", 90),  # reverse: a success lowers it
    ("/bin/false", 20, " weight 10 reverse", 100),  # reverse: a failure adds nothing
]


def test_script_weights_move_priorities_as_keepalived(lab: Lab) -> None:
    try:
        for script, weight, item, want in CASES:
            lab.ka_start("lb1", conf("lb1", script, weight, item))
            wait_until(lambda: lab.has_vip("lb1"), 10)
            theirs = settled(lab, want)
            lab.ka_stop("lb1")
            wait_until(lambda: not lab.has_vip("lb1"), 10)
            with daemon(
                lab.ns("py"), imported(lab, conf("py", script, weight, item)), prefix=PFX
            ) as (
                proc,
                _,
                err,
            ):
                wait_until(lambda: lab.has_vip("py"), 15)
                ours = settled(lab, want)
                assert proc.poll() is None, err.read_text()
            wait_until(lambda: not lab.has_vip("py"), 10)
            assert theirs == ours == {want}, (script, weight, item, theirs, ours)
    finally:
        lab.reset()
