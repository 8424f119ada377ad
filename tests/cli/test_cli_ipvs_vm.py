"""`lvstui --daemon` and `lvstui list|ctl` on the kernel's IPVS: one User-Mode-Linux guest.

`tests/cli/guest_cli.py` runs inside the guest and prints one JSON line per check; each
check is one test here. `lvstui list` is compared byte for byte with `ipvsadm -Ln`; the guest
kernel also has ipip, so `lvstui realserver --mode tun --apply` runs there for real.
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
    "cli_daemon_ready",
    "cli_list_matches_ipvsadm",
    "cli_list_exact_stats_matches",
    "cli_list_persistent_conn_matches",
    "cli_ctl_weight_reaches_the_kernel",
    "cli_ctl_drain_reaches_the_kernel",
    "cli_dont_release_keeps_the_table",
    "cli_restart_adopts_the_table",
    "cli_sigterm_releases",
    "cli_realserver_tun_apply_and_check",
]
UML_WRAPPER = REPO / "tests" / "vm" / "uml-kernel"  # the guest kernel wrapper (see its docstring)


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
        [str(tool), sys.executable, "tests/cli/guest_cli.py"],
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
        f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n"
        f"--- stderr\n{proc.stderr[-2000:]}"
    )
    return results, log


@pytest.mark.parametrize("name", CHECKS)
def test_cli_in_guest(guest: tuple[dict[str, dict[str, Any]], str], name: str) -> None:
    results, log = guest
    rec = results.get(name)
    assert rec is not None, f"check {name!r} missing from the guest's output\n{log}"
    assert rec["ok"], f"{name}: {rec['detail']}\n{log}"
