"""Notify scripts per source (issue 14 item 5, issue 10 item 3), with real scripts: a hung
script of one instance does not delay another instance's notify_master; order per source; a
`setsid` grandchild on stdout cannot wedge a worker; output bounded and sanitised."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

import pytest

from lvstui.model import NotifyResult
from lvstui.notify.scripts import ScriptRunner, source_of
from tests.helpers import async_wait_until, process_alive

PY = sys.executable


def test_source_is_the_subject() -> None:
    assert source_of("notify_master VI_1") == "VI_1"
    assert source_of("notify VI_1") == "VI_1"
    assert source_of("notify_master group G") == "group G"
    assert source_of("notify_up 10.0.0.1:80 (TCP 192.0.2.1:80)") == "10.0.0.1:80 (TCP 192.0.2.1:80)"
    assert source_of("quorum_down TCP 192.0.2.1:80") == "TCP 192.0.2.1:80"


async def test_hung_script_does_not_delay_another_instance(tmp_path: Path) -> None:
    events = tmp_path / "events"
    hang = f"sh -c 'echo VI_1-hang-start >> {events}; sleep 300; echo VI_1-hang-end >> {events}'"
    note = f"sh -c 'echo $0 >> {events}'"
    results: list[NotifyResult] = []
    runner = ScriptRunner(timeout=3, on_result=results.append)
    task = asyncio.create_task(runner.run())
    try:
        runner.submit("notify_master VI_1", hang)
        runner.submit("notify_backup VI_1", f"{note} VI_1-backup")
        await async_wait_until(lambda: events.exists())  # VI_1's script is hanging now
        runner.submit("notify_master VI_2", f"{note} VI_2-master")
        await asyncio.wait_for(runner.join(), 30)  # a hang guard, not a speed goal
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # VI_2's notify_master ran while VI_1's script hung; VI_1's own order was kept
    assert events.read_text().split() == ["VI_1-hang-start", "VI_2-master", "VI_1-backup"]
    assert [(r.what, r.ok) for r in results] == [
        ("notify_master VI_2", True),
        ("notify_master VI_1", False),
        ("notify_backup VI_1", True),
    ]
    assert "timed out after 3s (process group killed)" in results[1].detail


async def test_concurrency_is_bounded(tmp_path: Path) -> None:
    # 6 sources, 2 slots: never more than 2 scripts alive at once (each records start/end)
    log = tmp_path / "log"
    cmd = f"sh -c 'echo start >> {log}; sleep 0.2; echo end >> {log}'"
    runner = ScriptRunner(timeout=10, concurrency=2)
    task = asyncio.create_task(runner.run())
    try:
        for i in range(6):
            runner.submit(f"notify_master VI_{i}", cmd)
        await asyncio.wait_for(runner.join(), 60)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    running = peak = 0
    for word in log.read_text().split():
        running += 1 if word == "start" else -1
        peak = max(peak, running)
    assert peak == 2 and runner.ok == 6


async def test_setsid_grandchild_on_stdout_does_not_wedge_the_worker(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    escape = (
        f'setsid sh -c "echo \\$\\$ > {pidfile}; exec sleep 300" & '
        f"while [ ! -s {pidfile} ]; do sleep 0.01; done; echo left"
    )
    results: list[NotifyResult] = []
    runner = ScriptRunner(timeout=60, on_result=results.append)
    task = asyncio.create_task(runner.run())
    try:
        runner.submit("notify_master VI_1", f"sh -c '{escape}'")
        runner.submit("notify_backup VI_1", "true")
        await asyncio.wait_for(runner.join(), 30)  # a hang guard
        pid = int(pidfile.read_text())
        # both ran while the grandchild still holds the pipe: the worker did not wait for it
        assert process_alive(pid)
        assert [(r.what, r.ok, r.detail) for r in results] == [
            ("notify_master VI_1", True, "exit 0: left"),
            ("notify_backup VI_1", True, "exit 0"),
        ]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)


async def test_output_bounded_and_sanitised(caplog: pytest.LogCaptureFixture) -> None:
    # 100 MB of output with NUL and escape bytes: read as it comes, logged as one safe line
    cmd = f"{PY} -c \"import sys; sys.stdout.buffer.write(b'\\x00\\x1b[2J' + b'y' * 100_000_000)\""
    runner = ScriptRunner(timeout=60)
    caplog.set_level(logging.INFO, "lvstui.notify")
    task = asyncio.create_task(runner.run())
    try:
        runner.submit("notify_up 10.0.0.1:80", cmd)
        await asyncio.wait_for(runner.join(), 60)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    (result,) = runner.results
    assert result.ok and result.detail.startswith("exit 0: \\x00\\x1b[2Jyyy")
    assert result.detail.endswith(" bytes)") and len(result.detail) < 600
    logged = [r.getMessage() for r in caplog.records if r.name == "lvstui.notify"]
    assert logged and all("\x00" not in m and "\x1b" not in m for m in logged)


async def test_stop_kills_running_scripts(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    runner = ScriptRunner(timeout=300)
    task = asyncio.create_task(runner.run())
    runner.submit("notify_master VI_1", f"sh -c 'echo $$ > {pidfile}; sleep 300'")
    runner.submit("notify_backup VI_1", f"sh -c 'echo ran >> {pidfile}'")
    await async_wait_until(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    pid = int(pidfile.read_text())
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.done()
    assert not process_alive(pid)
    assert pidfile.read_text().split() == [str(pid)]  # the queued job did not run after stop
