"""`lvstui --daemon` and `lvstui list|ctl` on the kernel's IPVS: one User-Mode-Linux guest.

`tests/cli/guest_cli.py` runs inside the guest and prints one JSON line per check; each
check is one test here. `lvstui list` is compared byte for byte with `ipvsadm -Ln`; the guest
kernel also has ipip, so `lvstui realserver --mode tun --apply` runs there for real.
"""

from __future__ import annotations

import pytest

from tests.guest import GuestRun, assert_check, run_guest
from tests.helpers import REPO

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


@pytest.fixture(scope="module")
def guest() -> GuestRun:
    return run_guest(REPO / "tests" / "cli" / "guest_cli.py")


@pytest.mark.parametrize("name", CHECKS)
def test_cli_in_guest(guest: GuestRun, name: str) -> None:
    assert_check(guest, name)
