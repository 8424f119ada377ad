"""The director group on the kernel IPVS dataplane: one User-Mode-Linux guest for the module
(two lvstui daemons and keepalived in namespaces inside it).

`tests/group/guest_group.py` runs inside the guest and prints one JSON line per check; each
check is one test here. A check missing from the output fails.
"""

from __future__ import annotations

import shutil

import pytest

from tests.guest import GuestRun, assert_check, run_guest
from tests.helpers import REPO

pytestmark = [pytest.mark.ipvs_vm, pytest.mark.root, pytest.mark.netns, pytest.mark.keepalived]

CHECKS = [
    "group_ipvs_up",
    "group_ipvs_sync_daemon_options",
    "group_ipvs_keepalived_sync_peer",
    "group_ipvs_drain",
    "group_ipvs_failover",
    "group_ipvs_restart_relearns",
]


@pytest.fixture(scope="module")
def guest() -> GuestRun:
    if shutil.which("keepalived") is None:
        pytest.skip("needs keepalived (apt keepalived): the connection-sync peer")
    return run_guest(REPO / "tests" / "group" / "guest_group.py", timeout=420.0)


@pytest.mark.parametrize("name", CHECKS)
def test_group_in_guest(guest: GuestRun, name: str) -> None:
    assert_check(guest, name)
