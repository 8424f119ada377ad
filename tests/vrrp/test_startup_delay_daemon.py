"""keepalived's vrrp_startup_delay on the real daemon in a namespace: the static routes are
there from the start, the VIP only once the delay is over (the in-memory twin's test is in
tests/vrrp/test_node.py)."""

from __future__ import annotations

import time

import pytest

from tests.helpers import wait_until
from tests.vrrp.nsdaemon import daemon, sh
from tests.vrrp.test_netns import netns  # noqa: F401  (the namespace fixture)

DELAY = 6.0  # far above the 0.3 s an instance alone takes to become MASTER here
LOOK_AFTER = 1.5  # without the delay the VIP is on long before this


def config(delay: float) -> str:
    return (
        f"[global_defs]\nvrrp_startup_delay = {delay}\n"
        'static_routes = ["192.0.2.0/24 dev eth0 table 103"]\n\n'
        '[lvstui]\ndataplane = "userspace"\n\n'
        '[vrrp_instance.VI_1]\ninterface = "eth0"\nvirtual_router_id = 63\nversion = 3\n'
        'advert_int = 0.1\nvirtual_ipaddress = ["198.51.100.9/24"]\n'
    )


@pytest.mark.netns
@pytest.mark.root
def test_the_vip_waits_for_the_startup_delay(netns: str) -> None:  # noqa: F811
    def has(what: str, *cmd: str) -> bool:
        return what in sh("ip", "-n", netns, *cmd, check=False).stdout  # table 103: not yet

    def vip() -> bool:
        return has("198.51.100.9/24", "-4", "-o", "addr", "show")

    with daemon(netns, config(DELAY), prefix="audit-") as (proc, _, err):
        wait_until(lambda: has("192.0.2.0/24", "route", "show", "table", "103"), 20)
        time.sleep(LOOK_AFTER)
        assert not vip(), "the VIP was on before vrrp_startup_delay was over"
        assert proc.poll() is None, err.read_text()
        wait_until(vip, DELAY + 20)
    assert proc.returncode == 0, err.read_text()
