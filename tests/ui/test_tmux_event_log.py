"""The event log as an operator sees it in a real terminal (tmux, 120×36), on a real daemon
on loopback (`lvstui -f config --daemon`, the userspace dataplane, HTTP real servers that
hold connections open): what happened before the console attached is replayed; a drain is
one line that its progress rewrites, not a line a second; a lost quorum stays in view
(pinned above the log, counted in its title) while drain progress and other news go on;
the log scrolls from the keyboard; `l` opens it full screen, `e` there keeps only the
warnings and errors (issue 15, build 3)."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lvstui.commands.demo import demo_config
from lvstui.wiring import probe_socket
from tests.helpers import REPO, wait_until
from tests.ui.test_tmux import _SIZE_FROM_TTY, Tmux, _free_port
from tests.ui.test_tmux_embedded import (
    _pids_running,
    _serves,
    _start,
    _stop_pid,
    reals,  # noqa: F401
    subprocess_kill_server,
)
from tests.ui.test_tmux_show import _held, tmux_named

pytestmark = pytest.mark.tmux

_PY = shlex.quote(sys.executable)


@pytest.fixture
def tmux_server() -> Iterator[Tmux]:
    with tmux_named(f"conmisc-evlog-{os.getpid()}") as tmux:
        yield tmux


def _ctl(cfg: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "lvstui", "-f", str(cfg), "ctl", *args],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=30,
    )


def _events_panel(screen: str) -> list[str]:
    """The lines inside the main screen's Events box (pinned ones first), without the box."""
    lines = screen.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("╭─ Events"))
    out = []
    for line in lines[top + 1 :]:
        if line.startswith("╰"):
            break
        out.append(line.strip("│ ").rstrip("│ ▁▂▃▄▅▆▇█").strip())
    return out


def _title(screen: str) -> str:
    return next(line for line in screen.splitlines() if line.startswith("╭─ Events"))


def test_the_event_log_as_an_operator_sees_it(
    tmp_path: Path,
    reals: list[int],  # noqa: F811
    tmux_server: Tmux,
) -> None:
    tmux = tmux_server
    vip = _free_port()
    alpha, bravo = reals[0], reals[1]
    cfg = demo_config(tmp_path, vip, reals[:3], reals[3])
    sock = str(tmp_path / "control.sock")
    svc = f"127.0.0.1:{vip}"
    held: list[socket.socket] = []
    daemon = subprocess.Popen(
        [sys.executable, "-m", "lvstui", "-f", str(cfg), "--daemon"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: probe_socket(sock), 30, 0.1)
        wait_until(lambda: _serves(vip), 30, 0.2)
        held = _held(vip, 6)  # two on each real server
        # before any console: alpha's drain starts (a progress event a second follows)
        _ctl(cfg, "drain", svc, f"127.0.0.1:{alpha}")
        time.sleep(3)

        _start(
            tmux,
            f"{_SIZE_FROM_TTY}{_PY} -m lvstui attach --socket {shlex.quote(sock)}"
            "; echo CONSOLE-EXIT=$?; sleep 30",
        )
        alpha_draining = re.compile(rf"drain TCP {svc} 127\.0\.0\.1:{alpha} draining \(2 active")
        # replayed: alpha's drain, begun before this console, is in its log at once
        screen = tmux.wait_for(alpha_draining, 30)
        assert "attached to" in screen

        # bravo's drain from the keyboard takes the service below its quorum
        tmux.keys("Down", "Down")
        tmux.keys("d")
        tmux.wait_for("below its quorum")
        tmux.keys("y")
        lost = f"quorum TCP {svc} LOST (1/2, sorry server active)"
        screen = tmux.wait_for(lost, 15)
        assert "1 error" in _title(screen)
        bravo_draining = re.compile(rf"drain TCP {svc} 127\.0\.0\.1:{bravo} draining")
        tmux.wait_for(bravo_draining, 15)

        # five seconds of progress from both drains: still one line each
        first = time.monotonic()
        while time.monotonic() - first < 5:
            panel = _events_panel(tmux.screen())
            assert sum(f"127.0.0.1:{alpha} draining" in x for x in panel) == 1, panel
            assert sum(f"127.0.0.1:{bravo} draining" in x for x in panel) == 1, panel
            assert any(lost in x for x in panel), panel
            time.sleep(0.5)

        # other news floods the panel's five lines: the quorum loss stays pinned above them
        for _ in range(6):
            _ctl(cfg, "reload")
        wait_until(
            lambda: sum("config reloaded" in x for x in _events_panel(tmux.screen())) >= 4, 30, 0.2
        )
        screen = tmux.screen()
        panel = _events_panel(screen)
        assert lost in panel[0], panel  # pinned, on top
        assert sum(lost in x for x in panel) == 1, panel
        assert "1 error" in _title(screen) and "l: open" in _title(screen)

        # the drains end: each line turns "safe" where it is counted once
        for s in held:
            s.close()
        held = []
        screen = tmux.wait_for(f"127.0.0.1:{bravo} safe", 30)
        log_lines = _events_panel(screen)
        assert sum(f"127.0.0.1:{bravo}" in x and "drain TCP" in x for x in log_lines) == 1

        # the keyboard scrolls the log: Tab gives it the focus, Home shows its first lines
        # (replayed from before the console: the daemon's start), End the newest again
        newest = _events_panel(tmux.screen())[-1]
        tmux.keys("Tab")
        tmux.keys("Home")
        screen = tmux.wait_for(re.compile(r"│\d\d:\d\d:\d\d engine started"), 10)
        assert newest not in _events_panel(screen)
        tmux.keys("End")
        tmux.wait_for(newest, 10)

        # full screen: every line, the replayed ones too; `e`: only warnings and errors
        tmux.keys("l")
        screen = tmux.wait_for(re.compile(r"Event log · \d+ events"), 10)
        assert f"drain TCP {svc} 127.0.0.1:{alpha} ok" in screen  # the ctl drain, replayed
        assert lost in screen
        tmux.keys("e")
        screen = tmux.wait_for("Event log · 1 warnings and errors", 10)
        assert lost in screen and "engine started" not in screen
        tmux.keys("Escape")
        screen = tmux.wait_for("╭─ Events", 10)
        assert lost not in _events_panel(screen)[0]  # seen: no longer pinned, still counted
        assert "1 error" in _title(screen)
        tmux.keys("q")
        tmux.wait_for("CONSOLE-EXIT=0", 10)
    finally:
        for s in held:
            s.close()
        subprocess_kill_server(tmux)
        daemon.terminate()
        try:
            daemon.wait(20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(5)
        for left in _pids_running(str(cfg)):
            _stop_pid(left)
    assert not probe_socket(sock)
