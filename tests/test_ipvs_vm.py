"""The kernel IPVS dataplane against a real kernel, in User-Mode-Linux guests.

Two guests for the module: `tests/vm/guest_ipvs.py` (the dataplane, traffic, listing,
contract suite) and `tests/vm/guest_e2e.py` (the engine with real TCP health checks). Each
runs inside its guest (root, ip_vs, its own namespaces) and prints
one JSON line per check; each check below is one test. A check missing from the output
fails (the guest died or the check was never reached).
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
    "lab",
    "start_adopts_empty",
    "all_schedulers_and_flags",
    "ipv6_udp_sctp_fwmark_persistence",
    "edit_keeps_forwarding_method",
    "errors_name_op_and_service",
    "batch_error_names_failing_op",
    "large_table_read_back",
    "big_service_dump",
    "nat_traffic_spread",
    "dr_traffic_spread",
    "tun_traffic_spread",
    "fwmark_traffic_spread",
    "weight_change_keeps_connection",
    "restart_adopts_without_drop",
    "stats_read_back",
    "sync_daemon_start_stop",
    "sync_daemon_replicates_connections",
    "listing_setup",
    "listing_plain",
    "listing_stats",
    "listing_rate",
    "listing_exact",
    "listing_rate_exact",
    "listing_plain_exact",
    "listing_persistent_conn",
    "listing_thresholds",
    "contract_suite",
]

E2E_CHECKS = [
    "e2e_lab",
    "e2e_engine_start",
    "e2e_traffic_spread",
    "e2e_health_check_fails_server_out",
    "e2e_health_check_brings_server_back",
    "e2e_restart_keeps_established_connection",
    "e2e_stop_releases",
]

# Debian 12's UML kernel panics on hosts with a large XSAVE area (AVX-512/AMX); this wrapper
# makes it fall back to FXSAVE (see its docstring). run-in-ipvs-vm.sh honours IPVSVM_KERNEL.
UML_WRAPPER = REPO / "tests" / "vm" / "uml-kernel"


def run_guest(script: Path, timeout: float = 240.0) -> tuple[dict[str, dict[str, Any]], str]:
    """Run a guest script; its JSON lines by check name, and everything it printed."""
    tool = require_shared_tool("run-in-ipvs-vm.sh")
    env = dict(os.environ)
    env.setdefault("IPVSVM_KERNEL", str(UML_WRAPPER))
    env.setdefault("IPVSVM_TIMEOUT", str(int(timeout)))
    proc = subprocess.run(
        [str(tool), sys.executable, str(script.relative_to(REPO))],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout + 30,
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


def _requirements() -> None:
    require_root("the IPVS guest (User-Mode-Linux)")
    if not Path("/usr/bin/linux.uml").exists():
        pytest.skip("needs /usr/bin/linux.uml (apt user-mode-linux; .ci/run installs it)")
    require_shared_tool("run-in-ipvs-vm.sh")


@pytest.fixture(scope="module")
def guest() -> tuple[dict[str, dict[str, Any]], str]:
    _requirements()
    return run_guest(REPO / "tests" / "vm" / "guest_ipvs.py")


@pytest.fixture(scope="module")
def e2e_guest() -> tuple[dict[str, dict[str, Any]], str]:
    """A second guest: the engine with real health checks on the IPVS dataplane."""
    _requirements()
    return run_guest(REPO / "tests" / "vm" / "guest_e2e.py")


@pytest.mark.parametrize("name", CHECKS)
def test_guest_check(guest: tuple[dict[str, dict[str, Any]], str], name: str) -> None:
    results, log = guest
    rec = results.get(name)
    assert rec is not None, f"check {name!r} missing from the guest's output\n{log}"
    assert rec["ok"], f"{name}: {rec['detail']}"


@pytest.mark.parametrize("name", E2E_CHECKS)
def test_e2e_check(e2e_guest: tuple[dict[str, dict[str, Any]], str], name: str) -> None:
    results, log = e2e_guest
    rec = results.get(name)
    assert rec is not None, f"check {name!r} missing from the guest's output\n{log}"
    assert rec["ok"], f"{name}: {rec['detail']}"
