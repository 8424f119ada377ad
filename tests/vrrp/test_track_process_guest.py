"""keepalived's track_process and ours, side by side in a User-Mode-Linux guest.

keepalived needs the kernel's process events for track_process, and they reach only the
initial network namespace: the host's namespace lab cannot run it, Debian's UML kernel has
no CONFIG_PROC_EVENTS. Our kernel (tests/vm/build-uml-kernel) has it, and in the guest
keepalived runs in the initial namespace. tests/vrrp/guest_track_process.py says how.
"""

from __future__ import annotations

import pytest

from tests.guest import GuestRun, assert_check, run_guest
from tests.helpers import REPO

pytestmark = [pytest.mark.ipvs_vm, pytest.mark.root, pytest.mark.keepalived]


@pytest.fixture(scope="module")
def guest() -> GuestRun:
    return run_guest(REPO / "tests" / "vrrp" / "guest_track_process.py", own=True)


def test_track_process_moves_priorities_like_keepalived(guest: GuestRun) -> None:
    assert_check(guest, "track_process_moves_priorities_like_keepalived")
