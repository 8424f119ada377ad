"""The address handoff (FRR's) against the real kernel, in a namespace of ours: each VIP an
address on the tun device, its metric the drain's mark, a previous run's table routes removed
at start, and kill -9 of the owning process takes the device and its addresses with it. That
zebra follows the addresses (and their metric) is the BGP lab's to show
(tests/announce/test_bgp_lab.py, d3)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from lvstui.announce.director import DRAIN_METRIC
from tests.announce.test_kernel_table import (
    DEV,
    FATE_BOUND_S,
    OURS,
    Holder,
    link_exists,
    routes,
    tun_namespace,
)
from tests.helpers import wait_until

pytestmark = [pytest.mark.root, pytest.mark.netns]

NS = f"bgpfrr-ta-{os.getpid()}"


@pytest.fixture
def ns() -> Iterator[str]:
    with tun_namespace(NS, "the address announcer") as name:
        yield name


def addresses(ns: str) -> dict[str, int]:
    """The device's global addresses (our VIPs) with their metric; {} without the device."""
    r = subprocess.run(
        ["ip", "-n", ns, "-j", "addr", "show", "dev", DEV],
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )
    out: dict[str, int] = {}
    for link in json.loads(r.stdout or "[]") if r.returncode == 0 else []:
        for a in link.get("addr_info", []):
            if a.get("scope") == "global":
                out[f"{a['local']}/{a['prefixlen']}"] = int(a.get("metric", 0))
    return out


def local_routes(ns: str) -> str:
    return subprocess.run(
        ["ip", "-n", ns, "route", "show", "table", "local", "dev", DEV],
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    ).stdout


def test_addresses_drain_metric_stale_routes_and_fate_sharing(ns: str) -> None:
    # a previous run with the route handoff left a route of ours in the table: with the
    # address handoff nothing of ours belongs there
    subprocess.run(
        ["ip", "-n", ns, "route", "add", "203.0.113.99/32", "dev", "lo", *OURS],
        check=True,
        timeout=10,
    )
    h = Holder(ns, "address")
    try:
        assert routes(ns) == set()
        assert h.say("announce 198.51.100.10") == "198.51.100.10"
        assert h.say("announce 2001:db8::10") == "198.51.100.10 2001:db8::10"
        assert addresses(ns) == {"198.51.100.10/32": 0, "2001:db8::10/128": 0}
        assert routes(ns) == set()  # the table stays empty with this handoff
        # the address is local: the kernel accepts the VIP's traffic through it
        assert "local 198.51.100.10" in local_routes(ns)

        # the drain: the same addresses, marked by their metric, and back
        h.say("graceful 198.51.100.10")
        assert h.say("graceful 2001:db8::10") == "198.51.100.10 2001:db8::10"
        drained = {"198.51.100.10/32": DRAIN_METRIC, "2001:db8::10/128": DRAIN_METRIC}
        assert addresses(ns) == drained
        h.say("announce 198.51.100.10")
        h.say("announce 2001:db8::10")
        assert addresses(ns) == {"198.51.100.10/32": 0, "2001:db8::10/128": 0}

        assert h.say("withdraw 198.51.100.10") == "2001:db8::10"
        assert h.say("withdraw 198.51.100.10") == "2001:db8::10"  # idempotent
        assert addresses(ns) == {"2001:db8::10/128": 0}
        assert h.say("announce 198.51.100.11") == "198.51.100.11 2001:db8::10"

        os.kill(h.proc.pid, signal.SIGKILL)
        t0 = time.monotonic()
        wait_until(lambda: not link_exists(ns, DEV), timeout=FATE_BOUND_S, interval=0.001)
        print(f"device and addresses gone {(time.monotonic() - t0) * 1000:.1f} ms after kill -9")
        assert addresses(ns) == {}
    finally:
        h.stop()


def test_close_and_withdraw_all_remove_every_address(ns: str) -> None:
    h = Holder(ns, "address")
    try:
        h.say("announce 198.51.100.20")
        h.say("announce 198.51.100.21")
        assert h.say("withdraw_all") == ""
        assert addresses(ns) == {}
        h.say("announce 198.51.100.20")
        assert h.say("close") == "closed"
        assert h.proc.wait(timeout=10) == 0
        assert not link_exists(ns, DEV)
    finally:
        h.stop()
