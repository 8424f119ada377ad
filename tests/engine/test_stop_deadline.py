"""A graceful stop that overruns its deadline is abandoned, and the log says what was stuck
(issue 10 item 3: SIGTERM once hung in the graceful stop for 18 minutes)."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from lvstui import daemon


class Exited(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


async def test_abandon_names_the_stuck_tasks_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def fake_exit(code: int) -> None:
        raise Exited(code)

    monkeypatch.setattr(daemon.os, "_exit", fake_exit)
    monkeypatch.setattr(daemon.logging, "shutdown", lambda: None)
    caplog.set_level(logging.ERROR, "lvstui.daemon")
    stuck = asyncio.create_task(asyncio.Event().wait(), name="lvstui-notify VI_1")
    try:
        with pytest.raises(Exited) as exc:
            daemon._abandon()
    finally:
        stuck.cancel()
    assert exc.value.code == 1
    (record,) = [r for r in caplog.records if r.name == "lvstui.daemon"]
    message = record.getMessage()
    assert message.startswith(f"stop: not finished after {daemon.STOP_DEADLINE:g}s; abandoning")
    assert "lvstui-notify VI_1" in message and message.endswith("and exiting")


def test_the_deadline_is_below_the_units_stop_timeout() -> None:
    # past the unit's TimeoutStopSec systemd sends SIGKILL: no log line of ours then
    from lvstui.engine.alerts import STOP_MAIL_WAIT
    from lvstui.notify.scripts import STOP_WAIT as STOP_SCRIPT_WAIT
    from tests.helpers import REPO

    unit = (REPO / "packaging" / "lvstui.service").read_text()
    (timeout,) = re.findall(r"^TimeoutStopSec=(\d+)$", unit, re.MULTILINE)
    assert STOP_SCRIPT_WAIT + STOP_MAIL_WAIT < daemon.STOP_DEADLINE < int(timeout)
