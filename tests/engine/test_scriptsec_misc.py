"""enable_script_security and MISC_CHECK at run time: keepalived 2.2.7 removes an insecure
MISC_CHECK (check_misc.c) and the real server is judged by its other checks, up when none
is left (seen in the IPVS guest: the server is added at start and never checked). The engine
on the loaded file does the same; the insecure script exits 1, so had it run, its server
would leave the table."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lvstui.clock import SystemClock
from lvstui.config.load import load_config_disabled
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.health.scheduler import HealthMonitor
from lvstui.model import Health
from tests.helpers import async_wait_until

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="only scripts run as root are judged insecure (needs root)"
)


def _script(path: Path, status: int, mode: int) -> Path:
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\nexit {status}\n")
    path.chmod(mode)
    return path


def _server(ip: str, *commands: Path) -> str:
    checks = "".join(
        f'[[virtual_server.real_server.misc_check]]\nmisc_path = "{c}"\n'
        "delay_loop = 0.2\nretry = 0\nwarmup = 0.0\n"
        for c in commands
    )
    return f'[[virtual_server.real_server]]\nip = "{ip}"\nport = 9\n{checks}\n'


async def test_insecure_misc_check_removed_the_server_judged_by_the_rest(tmp_path: Path) -> None:
    loose = _script(tmp_path / "loose" / "fail.sh", 1, 0o757)  # world-writable
    ok = _script(tmp_path / "good" / "ok.sh", 0, 0o755)
    fail = _script(tmp_path / "good" / "fail.sh", 1, 0o755)
    text = (
        "[global_defs]\nenable_script_security = true\n\n"
        '[[virtual_server]]\nip = "127.0.0.1"\nport = 18093\nlb_algo = "rr"\n\n'
        + _server("127.0.0.2", loose)  # its only check removed: up
        + _server("127.0.0.3", loose, fail)  # its secure check fails: down
        + _server("127.0.0.4", loose, ok)  # its secure check passes: up
    )
    path = tmp_path / "lvstui.toml"
    path.write_text(text)
    config, disabled = load_config_disabled(path)
    assert len(disabled) == 3 and all("MISC_CHECK disabled" in d for d in disabled)
    clock = SystemClock()
    dp = MemoryDataplane()
    e = Engine(config, dataplane=dp, clock=clock, health=HealthMonitor(clock))
    await e.start()

    async def dests() -> set[str]:
        return {d.key.addr for s in await dp.observe() for d in s.dests}

    async def settled() -> bool:
        health = {rs.key.addr: rs.health for rs in e.snapshot().services[0].real_servers}
        judged = (health["127.0.0.3"], health["127.0.0.4"]) == (Health.DOWN, Health.UP)
        return judged and await dests() == {"127.0.0.2", "127.0.0.4"}

    try:
        await async_wait_until(settled, timeout=10)
    finally:
        await e.stop()
