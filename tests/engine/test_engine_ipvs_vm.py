"""The engine on the kernel IPVS dataplane: one User-Mode-Linux guest for the module.

`tests/engine/guest_engine.py` runs inside the guest and prints one JSON line per check;
each check is one test here. A check missing from the output fails.
"""

from __future__ import annotations

import pytest

from tests.guest import GuestRun, assert_check, run_guest
from tests.helpers import REPO

pytestmark = [pytest.mark.ipvs_vm, pytest.mark.root]

CHECKS = [
    "engine_start",
    "engine_sync_daemon_follows_vrrp",
    "engine_sync_daemon_reload_options",
    "engine_quorum_hysteresis_sorry",
    "engine_drain",
    "engine_reload",
    "engine_restart_adopts",
    "engine_stop_releases",
    "engine_drain_timeout_expires",
    "engine_slow_start_kernel_weights",
    "engine_source_nat_without_route_back",
    "engine_source_nat_refused_clearly",
    "engine_net_namespace_holds_ipvs",
    "engine_lvs_flush_start_and_stop",
]


@pytest.fixture(scope="module")
def guest() -> GuestRun:
    # our kernel (tests/vm/build-uml-kernel): Debian's has no nftables NAT for source_nat
    return run_guest(REPO / "tests" / "engine" / "guest_engine.py", own=True)


@pytest.mark.parametrize("name", CHECKS)
def test_engine_in_guest(guest: GuestRun, name: str) -> None:
    assert_check(guest, name)
