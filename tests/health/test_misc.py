"""MISC_CHECK with real processes: exit codes, misc_dynamic, timeouts that kill the group."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from lvstui.config.schema import MiscCheck, RealServer, VirtualServer
from lvstui.errors import CheckError
from lvstui.health.base import CheckResult
from lvstui.health.build import build_checker
from lvstui.health.misc import OUTPUT_CAP, MiscChecker, interpret_exit
from tests.helpers import wait_until

PY = sys.executable


async def run(path: str, *, timeout: float = 5.0, dynamic: bool = False) -> CheckResult:
    check = MiscCheck(path, misc_timeout=timeout, misc_dynamic=dynamic)
    return await build_checker(
        check, RealServer("127.0.0.1", 80), VirtualServer("192.0.2.9", 80)
    ).run()


@pytest.mark.parametrize(
    ("code", "dynamic", "ok", "weight"),
    [
        (0, False, True, None),
        (1, False, False, None),
        (3, False, False, None),
        (0, True, True, None),  # alive, configured weight
        (1, True, False, None),  # dead
        (2, True, True, 0),  # alive, weight 0
        (10, True, True, 8),  # the tutorial's example
        (255, True, True, 253),
    ],
)
async def test_exit_codes(code: int, dynamic: bool, ok: bool, weight: int | None) -> None:
    r = await run(f"sh -c 'exit {code}'", dynamic=dynamic)
    assert (r.ok, r.weight) == (ok, weight)
    assert interpret_exit(code, dynamic)[:2] == (ok, weight)


async def test_signal_death_is_a_failure() -> None:
    r = await run("sh -c 'kill -TERM $$'", dynamic=True)
    assert not r.ok and "SIGTERM" in r.reason


async def test_no_shell_argv_split_like_a_shell() -> None:
    # quoting is honoured; `;` and `$HOME` are just arguments, never interpreted
    r = await run(f"{PY} -c 'import sys; print(sys.argv[1:]); sys.exit(0)' 'a b' ';' '$HOME'")
    assert r.ok and "['a b', ';', '$HOME']" in r.reason
    with pytest.raises(CheckError):
        await run("sh -c 'unbalanced")


async def test_missing_program() -> None:
    r = await run("/nonexistent/check-ldap 10.0.0.1")
    assert not r.ok and "cannot run" in r.reason


async def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    # the script starts a grandchild that would outlive it, records both pids, then hangs
    script = f"sleep 300 & echo $! > {pidfile}; echo $$ >> {pidfile}; sleep 300"
    t0 = time.monotonic()
    r = await run(f"sh -c '{script}'", timeout=0.5)
    waited_s = time.monotonic() - t0
    assert not r.ok and "timeout after 0.5s" in r.reason
    assert waited_s < 3.0  # the timeout kills the group: no wait for the hung script
    pids = [int(p) for p in pidfile.read_text().split()]
    assert len(pids) == 2

    def gone(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except FileNotFoundError:
            return True
        return state in ("Z", "X")  # killed; a zombie waits for init to reap it

    wait_until(lambda: all(gone(p) for p in pids), timeout=5)


async def test_leftover_child_does_not_hold_the_check(tmp_path: Path) -> None:
    # the script exits 0 at once, but a background child keeps stdout open: the check
    # must not wait for it (and must kill it)
    pidfile = tmp_path / "pid"
    t0 = time.monotonic()
    r = await run(f"sh -c 'sleep 300 & echo $! > {pidfile}; echo fine'", timeout=5)
    assert r.ok and r.reason == "exit 0: fine"
    assert time.monotonic() - t0 < 3.0  # not the 5 s timeout
    pid = int(pidfile.read_text())
    wait_until(lambda: not os.path.exists(f"/proc/{pid}") or "Z" in _state(pid), timeout=5)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return "X"


async def test_output_is_capped_and_drained() -> None:
    # 50 MB of output: drained (the script is not blocked on a full pipe), only the cap kept
    check = MiscCheck(
        f"{PY} -c \"import sys; sys.stdout.write('y' * 50_000_000)\"", misc_timeout=10
    )
    ck = build_checker(check, RealServer("127.0.0.1", 80), VirtualServer("192.0.2.9", 80))
    assert isinstance(ck, MiscChecker)
    r = await ck.run()
    assert r.ok
    assert len(ck.last_output) == OUTPUT_CAP


async def test_stderr_in_reason() -> None:
    r = await run("sh -c 'echo ldap bind failed >&2; exit 1'")
    assert not r.ok and r.reason == "exit 1: ldap bind failed"


async def test_misc_timeout_defaults_to_delay_loop() -> None:
    ck = build_checker(
        MiscCheck("true"), RealServer("127.0.0.1", 80), VirtualServer("192.0.2.9", 80, delay_loop=7)
    )
    assert ck.spec.timeout == 7 and ck.spec.period == 7


async def test_cancelled_check_kills_its_group(tmp_path: Path) -> None:
    # the scheduler cancels a running check on stop/remove: nothing may be left running
    import asyncio

    pidfile = tmp_path / "pid"
    check = MiscCheck(f"sh -c 'echo $$ > {pidfile}; sleep 300'", misc_timeout=60)
    ck = build_checker(check, RealServer("127.0.0.1", 80), VirtualServer("192.0.2.9", 80))
    task = asyncio.create_task(ck.run())
    for _ in range(500):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        await asyncio.sleep(0.01)
    pid = int(pidfile.read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    wait_until(lambda: _state(pid) in ("Z", "X"), timeout=5)


@pytest.mark.root
async def test_runs_as_user() -> None:
    from tests.helpers import require_root

    require_root("switching to another user")
    check = MiscCheck("id -un", misc_timeout=5, user="nobody")
    r = await build_checker(
        check, RealServer("127.0.0.1", 80), VirtualServer("192.0.2.9", 80)
    ).run()
    assert r.ok and r.reason == "exit 0: nobody"
    bad = MiscCheck("id -un", misc_timeout=5, user="no-such-user-lvt")
    r = await build_checker(bad, RealServer("127.0.0.1", 80), VirtualServer("192.0.2.9", 80)).run()
    assert not r.ok and "cannot run" in r.reason
