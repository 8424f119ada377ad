"""The kernel-table driver against the real kernel, in a namespace of ours: routes appear in
our table with our protocol, go on withdraw, a previous run's routes are removed at start,
and kill -9 of the owning process takes the device and its routes with it (fate sharing)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from lvstui.announce.base import AnnounceError
from lvstui.announce.kernel_table import open_tun
from tests.helpers import (
    REPO,
    network_namespace,
    process_alive,
    require_cmd,
    require_root,
    wait_until,
)

pytestmark = [pytest.mark.root, pytest.mark.netns]

NS = f"bgp-kt-{os.getpid()}"  # per run: parallel runs must not share a namespace
TABLE, PROTO, DEV = 245, 245, "bgptun0"
# The documented bound (docs/bgp.md): the kernel deletes the device when the process's last
# descriptor closes; measured in milliseconds, the bound leaves room for a loaded CI host.
FATE_BOUND_S = 2.0
OURS = ("table", str(TABLE), "proto", str(PROTO))


def routes(ns: str, table: int = TABLE) -> set[str]:
    """Our routes (protocol `table`: the tests use one number for both) in `table`."""
    out: set[str] = set()
    for fam in ("-4", "-6"):
        r = subprocess.run(
            ["ip", "-n", ns, "-j", fam, "route", "show", "table", str(table)],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        if "FIB table does not exist" in r.stderr:
            continue  # iproute2 says so of a table without any route
        assert r.returncode == 0, r.stderr
        for row in json.loads(r.stdout or "[]"):
            if str(row.get("protocol")) == str(PROTO if table == TABLE else table):
                out.add(f"{row['dst']} {row.get('dev')}")
    return out


def link_exists(ns: str, dev: str) -> bool:
    r = subprocess.run(["ip", "-n", ns, "link", "show", dev], capture_output=True, timeout=10)
    return r.returncode == 0


@contextlib.contextmanager
def tun_namespace(name: str, what: str) -> Iterator[str]:
    """A namespace of ours with lo up, for `what` (skipped without root or /dev/net/tun)."""
    require_root(what)
    require_cmd("ip")
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("needs /dev/net/tun")
    with network_namespace(name) as ns:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True, timeout=10)
        yield ns


@pytest.fixture
def ns() -> Iterator[str]:
    with tun_namespace(NS, "the kernel-table announcer") as name:
        yield name


def holder_cmd(ns: str, *handoff: str) -> list[str]:
    mod = "tests.announce.holder"
    argv = [sys.executable, "-m", mod, str(TABLE), str(PROTO), DEV, *handoff]
    return ["ip", "netns", "exec", ns, *argv]


class Holder:
    """`handoff`: "address" for the address handoff (tests/announce/test_tun_address.py)."""

    def __init__(self, ns: str, *handoff: str) -> None:
        self.proc = subprocess.Popen(
            holder_cmd(ns, *handoff),
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.readline() == "ready"

    def readline(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def say(self, line: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.readline()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


def test_announce_withdraw_stale_and_fate_sharing(ns: str) -> None:
    # A previous run's leftover: a route of ours that does not go through a device we own.
    subprocess.run(
        ["ip", "-n", ns, "route", "add", "203.0.113.99/32", "dev", "lo", *OURS],
        check=True,
        timeout=10,
    )
    # Someone else's route in the same table stays: we only remove our protocol's.
    subprocess.run(
        ["ip", "-n", ns, "route", "add", "203.0.113.98/32", "dev", "lo", "table", str(TABLE)],
        check=True,
        timeout=10,
    )
    assert routes(ns) == {"203.0.113.99 lo"}
    h = Holder(ns)
    try:
        assert routes(ns) == set()
        assert h.say("announce 198.51.100.10") == "198.51.100.10"
        assert h.say("announce 2001:db8::10") == "198.51.100.10 2001:db8::10"
        assert routes(ns) == {f"198.51.100.10 {DEV}", f"2001:db8::10 {DEV}"}
        assert h.say("withdraw 198.51.100.10") == "2001:db8::10"
        assert routes(ns) == {f"2001:db8::10 {DEV}"}
        assert h.say("withdraw 198.51.100.10") == "2001:db8::10"  # idempotent
        assert h.say("announce 198.51.100.11") == "198.51.100.11 2001:db8::10"

        # A second owner of the same device is refused, not silently sharing it.
        second = subprocess.run(
            holder_cmd(ns),
            cwd=REPO,
            input="",
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode != 0 and "second lvstui" in second.stderr
        assert len(routes(ns)) == 2

        os.kill(h.proc.pid, signal.SIGKILL)
        t0 = time.monotonic()
        wait_until(lambda: routes(ns) == set(), timeout=FATE_BOUND_S, interval=0.001)
        gone = time.monotonic() - t0
        print(f"routes gone {gone * 1000:.1f} ms after kill -9")
        assert not link_exists(ns, DEV)
    finally:
        h.stop()
    other = subprocess.run(
        ["ip", "-n", ns, "route", "show", "table", str(TABLE)],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    assert "203.0.113.98" in other.stdout


def metrics(ns: str) -> dict[str, list[int]]:
    """Our routes' metrics per destination (a VIP switched halfway would show two)."""
    out: dict[str, list[int]] = {}
    for fam in ("-4", "-6"):
        r = subprocess.run(
            ["ip", "-n", ns, "-j", fam, "route", "show", "table", str(TABLE), "proto", str(PROTO)],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        for row in json.loads(r.stdout or "[]") if r.returncode == 0 else []:
            out.setdefault(row["dst"], []).append(int(row.get("metric", 0)))
    return out


def test_director_drain_switches_the_route_metric_and_back(ns: str) -> None:
    from lvstui.announce.director import DRAIN_METRIC

    h = Holder(ns)
    try:
        h.say("announce 198.51.100.10")
        h.say("announce 2001:db8::10")
        assert metrics(ns)["198.51.100.10"] == [0]
        h.say("graceful 198.51.100.10")
        assert h.say("graceful 2001:db8::10") == "198.51.100.10 2001:db8::10"
        assert metrics(ns) == {"198.51.100.10": [DRAIN_METRIC], "2001:db8::10": [DRAIN_METRIC]}
        h.say("announce 198.51.100.10")  # undrain: the normal route again, one route only
        assert metrics(ns)["198.51.100.10"] == [0]
        assert h.say("withdraw 2001:db8::10") == "198.51.100.10"
        assert "2001:db8::10" not in metrics(ns)
    finally:
        h.stop()


def test_a_child_process_does_not_keep_the_routes_alive(ns: str) -> None:
    """A notify script started by lvstui outlives it: the tun descriptor must not go with it
    (O_CLOEXEC), or the device and its routes would stay while the child runs."""
    h = Holder(ns)
    child = 0
    try:
        h.say("announce 198.51.100.30")
        child = int(h.say("spawn 30"))
        os.kill(h.proc.pid, signal.SIGKILL)
        wait_until(lambda: routes(ns) == set(), timeout=FATE_BOUND_S, interval=0.005)
        assert process_alive(child)
        assert not link_exists(ns, DEV)
    finally:
        h.stop()
        if child:
            os.kill(child, signal.SIGKILL)


def test_close_withdraws_everything_and_removes_the_device(ns: str) -> None:
    h = Holder(ns)
    try:
        h.say("announce 198.51.100.20")
        assert routes(ns) == {f"198.51.100.20 {DEV}"}
        assert h.say("close") == "closed"
        assert h.proc.wait(timeout=10) == 0
        assert routes(ns) == set()
        assert not link_exists(ns, DEV)
    finally:
        h.stop()


def test_bad_device_name_is_a_clear_error() -> None:
    with pytest.raises(AnnounceError, match="1 to 15 bytes"):
        open_tun("a-name-longer-than-15")
