"""enable_script_security at run time, against keepalived 2.2.7 in the VRRP namespace lab: with
one insecure script (world-writable) beside secure ones, keepalived (lb1) and the lvstui
daemon on the same keepalived.conf imported (py) both start, leave the insecure vrrp_script
and notify script out, and run the rest: the instance becomes MASTER and advertises the
priority of the secure script's weight alone (had the insecure script run and failed, its
weight would lower it; had its tracking faulted the instance, nothing would be advertised)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.vrrp.lab import Lab, advertised, imported, lab_up
from tests.vrrp.nsdaemon import daemon

pytestmark = [
    pytest.mark.netns,
    pytest.mark.keepalived,
    pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed"),
]

PFX = "scriptsec-"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab_up(tmp_path_factory.mktemp("vrrp-lab"), f"{PFX}{os.getpid() % 100000}-") as lab:
        yield lab


def scripts(base: Path) -> Path:
    """good/s.sh (root's, 0755) exits 0, loose/s.sh (world-writable) exits 1; both write
    what they were run for to the returned file."""
    ran = base / "ran"
    for name, mode, status in (("good", 0o755, 0), ("loose", 0o757, 1)):
        (base / name).mkdir(parents=True, exist_ok=True)
        script = base / name / "s.sh"
        script.write_text(f'#!/bin/sh\necho "{name} $1" >> {ran}\nexit {status}\n')
        script.chmod(mode)
    return ran


def conf(name: str, base: Path) -> str:
    good, loose = base / "good" / "s.sh", base / "loose" / "s.sh"
    return (
        f"global_defs {{\n    router_id {name}\n    vrrp_version 3\n"
        "    enable_script_security\n    script_user root\n}\n"
        f'vrrp_script good {{\n    script "{good} track"\n    interval 1\n    weight 20\n'
        "    rise 1\n    fall 1\n}\n"
        f'vrrp_script loose {{\n    script "{loose} track"\n    interval 1\n    weight -50\n'
        "    rise 1\n    fall 1\n}\n"
        "vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n"
        "    virtual_router_id 51\n    priority 100\n    advert_int 0.1\n"
        "    track_script {\n        good\n        loose\n    }\n"
        f'    notify_master "{good} master"\n    notify "{loose} notify"\n'
        "    virtual_ipaddress {\n        198.51.100.9/24\n    }\n}\n"
    )


def settled(lab: Lab, ran: Path) -> tuple[set[int], set[str]]:
    """What is advertised once the secure script's result is in and the notify_master ran,
    and what the scripts were run for."""
    seen: list[set[int]] = []

    def moved() -> bool:
        seen.append(advertised(lab))
        return seen[-1] == {120} and "good master" in ran.read_text()

    wait_until(lambda: ran.exists(), 15)
    with contextlib.suppress(AssertionError):  # the caller compares what was seen
        wait_until(moved, 20, interval=0.5)
    return seen[-1], set(ran.read_text().splitlines())


def test_insecure_scripts_disabled_the_rest_run_as_keepalived(lab: Lab, tmp_path: Path) -> None:
    ran = scripts(tmp_path)
    try:
        lab.ka_start("lb1", conf("lb1", tmp_path))
        wait_until(lambda: lab.has_vip("lb1"), 10)
        theirs, theirs_ran = settled(lab, ran)
        assert "Disabling track script loose due to insecure" in lab.ka_log("lb1")
        lab.ka_stop("lb1")
        wait_until(lambda: not lab.has_vip("lb1"), 10)
        ran.unlink()
        with daemon(lab.ns("py"), imported(lab, conf("py", tmp_path)), prefix=PFX) as (
            proc,
            _,
            err,
        ):
            wait_until(lambda: lab.has_vip("py"), 15)
            ours, ours_ran = settled(lab, ran)
            assert proc.poll() is None, err.read_text()
            log = err.read_text()
        wait_until(lambda: not lab.has_vip("py"), 10)
        assert "vrrp_script disabled (enable_script_security" in log, log
        assert "notify script disabled (enable_script_security" in log, log
        assert theirs == ours == {120}, (theirs, ours)
        # the secure ones ran, the insecure ones never did, on both sides
        assert theirs_ran == ours_ran == {"good track", "good master"}, (theirs_ran, ours_ran)
    finally:
        lab.reset()
