"""Two directors listing the same real servers in different orders build the same mh table
on the kernel's IPVS (one User-Mode-Linux guest: tests/announce/guest_hashorder.py)."""

from __future__ import annotations

import pytest

from tests.guest import GuestRun, assert_check, run_guest
from tests.helpers import REPO

pytestmark = [pytest.mark.ipvs_vm, pytest.mark.root]

CHECKS = [
    "hash_same_list_and_digest_from_two_orders",
    "hash_same_real_server_per_client_port",
    "hash_ctl_add_keeps_the_table_equal",
    "hash_kernel_table_depends_on_add_order",
    "hash_dr_connections_survive_a_route_move",
    "hash_director_drain_keeps_a_long_lived_connection",
]


@pytest.fixture(scope="module")
def guest() -> GuestRun:
    return run_guest(REPO / "tests" / "announce" / "guest_hashorder.py")


@pytest.mark.parametrize("name", CHECKS)
def test_hash_table_in_guest(guest: GuestRun, name: str) -> None:
    assert_check(guest, name)
