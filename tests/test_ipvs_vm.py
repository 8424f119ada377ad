"""The kernel IPVS dataplane against a real kernel, in User-Mode-Linux guests.

Two guests for the module: `tests/vm/guest_ipvs.py` (the dataplane, traffic, listing,
contract suite) and `tests/vm/guest_e2e.py` (the engine with real TCP health checks). Each
runs inside its guest (root, ip_vs, its own namespaces) and prints
one JSON line per check; each check below is one test. A check missing from the output
fails (the guest died or the check was never reached).
"""

from __future__ import annotations

import pytest

from tests.guest import GuestRun, assert_check, run_guest
from tests.helpers import REPO

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
    "lvs_timeouts_set_and_read_back",
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


@pytest.fixture(scope="module")
def guest() -> GuestRun:
    return run_guest(REPO / "tests" / "vm" / "guest_ipvs.py")


@pytest.fixture(scope="module")
def e2e_guest() -> GuestRun:
    """A second guest: the engine with real health checks on the IPVS dataplane."""
    return run_guest(REPO / "tests" / "vm" / "guest_e2e.py")


@pytest.mark.parametrize("name", CHECKS)
def test_guest_check(guest: GuestRun, name: str) -> None:
    assert_check(guest, name)


@pytest.mark.parametrize("name", E2E_CHECKS)
def test_e2e_check(e2e_guest: GuestRun, name: str) -> None:
    assert_check(e2e_guest, name)
