"""The director drain survives the daemon's restarts, in a namespace of ours: drained, then a
seamless restart (`SIGUSR2`), a `kill -9` and a new start, a drain to safe, a stop and a
start — and at no look at table 245 is the VIP announced normally (metric 0) until
`undrain-director`. What a restart says about the kept drain is in its log and in status."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.announce.test_daemon_bgp import reap, start_daemon
from tests.announce.test_daemon_reload_upgrade import VIP, start_on_vip
from tests.announce.test_kernel_table import (  # noqa: F401
    FATE_BOUND_S,
    metrics,
    ns,
    routes,
)
from tests.helpers import REPO, process_alive, wait_until

pytestmark = [pytest.mark.root, pytest.mark.netns]

NORMAL, DRAINED = {VIP: [0]}, {VIP: [65535]}
KEPT = "director drain kept from before the restart"


def lvstui(tmp_path: Path, *argv: str) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "lvstui", *argv, "--socket", str(tmp_path / "c.sock")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, f"lvstui {' '.join(argv)}: {r.stdout}{r.stderr}"
    return r.stdout


def drain_status(tmp_path: Path) -> dict[str, str]:
    doc = json.loads(lvstui(tmp_path, "status", "--json"))["director_drain"]
    assert isinstance(doc, dict)
    return doc


def watch(ns: str, seconds: float, until: object = None) -> list[dict[str, list[int]]]:  # noqa: F811
    """Every look at our routes' metrics for `seconds` (or until they equal `until`)."""
    seen = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        seen.append(metrics(ns))
        if until is not None and seen[-1] == until:
            break
        time.sleep(0.02)
    return seen


def test_a_drained_director_stays_drained_across_restarts(
    ns: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    cfg, daemon, log, listener = start_on_vip(ns, tmp_path, "bgp")
    log_path = tmp_path / "daemon.log"
    pids: list[int] = []
    try:
        wait_until(lambda: metrics(ns) == NORMAL, timeout=30)
        lvstui(tmp_path, "ctl", "drain-director", "--settle", "3600")
        wait_until(lambda: metrics(ns) == DRAINED, timeout=10)

        # 1. the seamless restart: the route stays less preferred at every look
        daemon.send_signal(signal.SIGUSR2)
        seen: list[dict[str, list[int]]] = []
        end = time.monotonic() + 60
        while daemon.poll() is None and time.monotonic() < end:
            seen.append(metrics(ns))
        assert daemon.poll() == 0, "the old daemon did not hand over and exit"
        found = re.search(r"handed over to pid (\d+)", log_path.read_text(errors="replace"))
        assert found, "no handover in the log"
        pids.append(int(found.group(1)))
        seen += watch(ns, 2.0)  # a few ticks of the new daemon's loop
        assert seen and all(s == DRAINED for s in seen), f"announced otherwise: {seen}"
        assert KEPT in log_path.read_text(errors="replace")
        st = drain_status(tmp_path)
        assert st["phase"] == "draining" and "kept across a restart" in st["detail"], st

        # 2. a crash and a new start: never announced normally, not even for one tick
        os.kill(pids[-1], signal.SIGKILL)
        wait_until(lambda: routes(ns) == set(), timeout=FATE_BOUND_S, interval=0.005)
        log.close()
        daemon, log = start_daemon(ns, cfg, tmp_path)
        seen = watch(ns, 30.0, until=DRAINED)
        seen += watch(ns, 2.0)
        assert seen[-1] == DRAINED and all(s in ({}, DRAINED) for s in seen), seen
        assert KEPT in log_path.read_text(errors="replace")
        assert drain_status(tmp_path)["phase"] == "draining"

        # 3. safe, then a stop and a start: withdrawn all along, status says SAFE
        lvstui(tmp_path, "ctl", "undrain-director")
        wait_until(lambda: metrics(ns) == NORMAL, timeout=10)
        out = lvstui(tmp_path, "ctl", "drain-director", "--settle", "0", "--wait")
        assert "safe" in out
        wait_until(lambda: metrics(ns) == {}, timeout=10)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        log.close()
        daemon, log = start_daemon(ns, cfg, tmp_path)
        wait_until(lambda: "ready:" in log_path.read_text(errors="replace"), timeout=30)
        assert all(s == {} for s in watch(ns, 3.0)), "a safe director was announced"
        st = drain_status(tmp_path)
        assert st["phase"] == "safe" and "kept across a restart" in st["detail"], st
        assert "director drain: SAFE" in lvstui(tmp_path, "status")

        # 4. undrain: announced normally again, and a restart stays so
        lvstui(tmp_path, "ctl", "undrain-director")
        wait_until(lambda: metrics(ns) == NORMAL, timeout=10)
        state = (tmp_path / "state" / "director-drain.toml").read_text()
        assert 'phase = "normal"' in state
    except AssertionError:
        print(log_path.read_text(errors="replace")[-4000:])
        raise
    finally:
        for pid in pids:
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)
        reap(daemon, listener)
        log.close()
