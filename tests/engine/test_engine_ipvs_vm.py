"""The engine on the kernel IPVS dataplane: one User-Mode-Linux guest for the module.

`tests/engine/guest_engine.py` runs inside the guest and prints one JSON line per check;
each check is one test here. A check missing from the output fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO, require_root, require_shared_tool

pytestmark = [pytest.mark.ipvs_vm, pytest.mark.root]

CHECKS = [
    "engine_start",
    "engine_sync_daemon_follows_vrrp",
    "engine_quorum_hysteresis_sorry",
    "engine_drain",
    "engine_reload",
    "engine_restart_adopts",
    "engine_stop_releases",
    "engine_drain_timeout_expires",
]
UML_WRAPPER = REPO / "tests" / "vm" / "uml-kernel"  # see its docstring (large-XSAVE hosts)


@pytest.fixture(scope="module")
def guest() -> tuple[dict[str, dict[str, Any]], str]:
    require_root("the IPVS guest (User-Mode-Linux)")
    if not Path("/usr/bin/linux.uml").exists():
        pytest.skip("needs /usr/bin/linux.uml (apt user-mode-linux; .ci/run installs it)")
    tool = require_shared_tool("run-in-ipvs-vm.sh")
    env = dict(os.environ)
    if UML_WRAPPER.exists():
        env.setdefault("IPVSVM_KERNEL", str(UML_WRAPPER))
    env.setdefault("IPVSVM_TIMEOUT", "240")
    proc = subprocess.run(
        [str(tool), sys.executable, "tests/engine/guest_engine.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    results: dict[str, dict[str, Any]] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            results[rec["name"]] = rec
    log = (
        f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n"
        f"--- stderr\n{proc.stderr[-3000:]}"
    )
    return results, log


@pytest.mark.parametrize("name", CHECKS)
def test_engine_in_guest(guest: tuple[dict[str, dict[str, Any]], str], name: str) -> None:
    results, log = guest
    rec = results.get(name)
    assert rec is not None, f"check {name!r} missing from the guest's output\n{log}"
    assert rec["ok"], f"{name}: {rec['detail']}"
