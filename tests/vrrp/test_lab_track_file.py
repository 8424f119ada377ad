"""track_file against keepalived 2.2.7 in the VRRP namespace lab: keepalived (lb1) and the
lvstui daemon on the same keepalived.conf imported (py) read the same file and advertise the
same priority: value × the track_file's weight, an instance's own weight replacing it,
`reverse`, keepalived's strtol reading (hex) and the rise capped at the 254 a non-owner can
advertise. One side at a time on the segment, so each is MASTER and its adverts carry its
priority (the rules themselves, FAULT included: tests/vrrp/test_trackfile.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.vrrp.lab import Lab, imported, lab_up, settled
from tests.vrrp.nsdaemon import daemon
from tests.vrrp.test_trackfile import write_renamed

pytestmark = [
    pytest.mark.netns,
    pytest.mark.keepalived,
    pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed"),
]

PFX = "trackfile-"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab_up(tmp_path_factory.mktemp("vrrp-lab"), f"{PFX}{os.getpid() % 100000}-") as lab:
        yield lab


def conf(name: str, path: Path, weight: int, item: str) -> str:
    """Priority 100, tracking the file `path` as `tf` plus `item` (" weight 5", …, or "")."""
    return (
        f"global_defs {{\n    router_id {name}\n    vrrp_version 3\n}}\n"
        f'track_file tf {{\n    file "{path}"\n    weight {weight}\n}}\n'
        "vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n"
        "    virtual_router_id 51\n    priority 100\n    advert_int 0.1\n"
        f"    track_file {{\n        tf{item}\n    }}\n"
        "    virtual_ipaddress {\n        198.51.100.9/24\n    }\n}\n"
    )


# (the file's content, the track_file's weight, the instance's item, the priority advertised)
CASES = [
    ("3\n", -10, "", 70),
    ("3\n", -10, " weight 5", 115),  # the item's weight wins
    ("2\n", 10, " weight 10 reverse", 80),  # reverse: a positive value lowers it
    ("0x14 from the agent\n", -1, "", 80),  # strtol: hex, trailing text ignored
    ("30\n", 10, "", 254),  # 100 + 300: capped where a non-owner stops
]


def test_file_weights_move_priorities_as_keepalived(lab: Lab) -> None:
    path = lab.dir / "trackfile-state"
    try:
        for content, weight, item, want in CASES:
            path.write_text(content)
            lab.ka_start("lb1", conf("lb1", path, weight, item))
            wait_until(lambda: lab.has_vip("lb1"), 10)
            theirs = settled(lab, want)
            lab.ka_stop("lb1")
            wait_until(lambda: not lab.has_vip("lb1"), 10)
            text = imported(lab, conf("py", path, weight, item))
            with daemon(lab.ns("py"), text, prefix=PFX) as (proc, _, err):
                wait_until(lambda: lab.has_vip("py"), 15)
                ours = settled(lab, want)
                assert proc.poll() is None, err.read_text()
            wait_until(lambda: not lab.has_vip("py"), 10)
            assert theirs == ours == {want}, (content, weight, item, theirs, ours)
    finally:
        lab.reset()


def _steps(lab: Lab, host: str, path: Path) -> list[object]:
    """While `host` runs: the file rewritten (renamed over, as an agent should) moves its
    priority, then pulls it into FAULT (the VIP goes) and back."""
    seen: list[object] = []
    for value in (0, 2):
        write_renamed(path, f"{value}\n")
        seen.append(settled(lab, 100 - 10 * value))
    write_renamed(path, "26\n")  # -260: FAULT
    wait_until(lambda: not lab.has_vip(host), 15)
    seen.append("fault")
    write_renamed(path, "1\n")
    wait_until(lambda: lab.has_vip(host), 15)
    seen.append(settled(lab, 90))
    return seen


def test_a_rewritten_file_moves_both_alike(lab: Lab) -> None:
    path = lab.dir / "trackfile-live"
    want = [{100}, {80}, "fault", {90}]
    try:
        write_renamed(path, "0\n")
        lab.ka_start("lb1", conf("lb1", path, -10, ""))
        wait_until(lambda: lab.has_vip("lb1"), 10)
        theirs = _steps(lab, "lb1", path)
        lab.ka_stop("lb1")
        wait_until(lambda: not lab.has_vip("lb1"), 10)
        write_renamed(path, "0\n")
        text = imported(lab, conf("py", path, -10, ""))
        with daemon(lab.ns("py"), text, prefix=PFX) as (proc, _, err):
            wait_until(lambda: lab.has_vip("py"), 15)
            ours = _steps(lab, "py", path)
            assert proc.poll() is None, err.read_text()
        wait_until(lambda: not lab.has_vip("py"), 10)
        assert theirs == want and ours == want, (theirs, ours)
    finally:
        lab.reset()
