"""The systemd unit is valid and matches what the daemon does."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO, require_cmd

UNIT = REPO / "packaging" / "lvstui.service"


def _unit() -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read_string(UNIT.read_text())
    return cp


def test_unit_settings() -> None:
    svc = _unit()["Service"]
    assert svc["Type"] == "notify"  # the daemon sends READY=1 / RELOADING=1 / STOPPING=1
    assert svc["ExecReload"] == "/bin/kill -HUP $MAINPID"  # SIGHUP = reload
    assert "--daemon" in svc["ExecStart"]
    assert set(svc["AmbientCapabilities"].split()) >= {"CAP_NET_ADMIN", "CAP_NET_RAW"}
    assert svc["RuntimeDirectory"] == "lvstui"  # /run/lvstui/control.sock
    assert svc["StateDirectory"] == "lvstui"  # /var/lib/lvstui


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    require_cmd("systemd-analyze")
    # the unit names /usr/local/bin/lvstui; point it at this venv's entry point for the check
    exe = Path(sys.executable).with_name("lvstui")
    unit = tmp_path / "lvstui.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/lvstui", str(exe)))
    r = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    problems = [line for line in r.stderr.splitlines() if "lvstui.service" in line]
    assert problems == [], r.stderr
