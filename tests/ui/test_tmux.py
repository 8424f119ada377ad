"""The console in a real terminal (tmux), attached to a running daemon (`lvstui demo
--headless`: the engine, the userspace dataplane, real HTTP servers, the control socket):
drain a server with the keyboard and watch it reach "safe" on screen."""

from __future__ import annotations

import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.helpers import REPO, require_cmd, wait_until

pytestmark = pytest.mark.tmux


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_until(proc: subprocess.Popen[bytes], needle: str, timeout: float) -> str:
    # Raw reads: a buffered readline() would hide lines from select().
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    out = ""
    deadline = time.monotonic() + timeout
    while needle not in out:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise AssertionError(f"demo did not print {needle!r}:\n{out}")
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            out += os.read(fd, 65536).decode(errors="replace")
    return out


@pytest.fixture
def daemon(tmp_path: object) -> Iterator[tuple[str, list[int]]]:
    """`lvstui demo --headless`: (control socket path, real server ports)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lvstui", "demo", "--headless", "--port", str(_free_port())],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        out = _read_until(proc, "headless:", 30)
        sock = re.search(r"control socket: (\S+)", out)
        ports = re.search(r"alpha 127\.0\.0\.1:(\d+), bravo 127\.0\.0\.1:(\d+)", out)
        assert sock and ports, out
        yield sock.group(1), [int(p) for p in ports.groups()]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout:
            proc.stdout.close()


# The tmux server inherits pytest's environment, where COLUMNS=80 and LINES=24 are set; Textual
# trusts those over the terminal, so a 120×36 pane would get an 80×24 console.
_SIZE_FROM_TTY = "unset COLUMNS LINES; "


class Tmux:
    def __init__(self, name: str) -> None:
        self.base = ["tmux", "-L", name]

    def run(self, *args: str) -> str:
        return subprocess.run(
            [*self.base, *args], check=True, capture_output=True, text=True, timeout=10
        ).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "ui")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "ui", *keys)

    def wait_for(self, cond: str | re.Pattern[str], timeout: float = 15.0) -> str:
        def ok() -> bool:
            scr = self.screen()
            return (cond in scr) if isinstance(cond, str) else bool(cond.search(scr))

        try:
            wait_until(ok, timeout, 0.1)
        except AssertionError:
            raise AssertionError(f"{cond!r} never appeared; screen:\n{self.screen()}") from None
        return self.screen()


def test_attach_in_tmux_and_drain_to_safe(daemon: tuple[str, list[int]]) -> None:
    require_cmd("tmux")
    sock, (alpha, _bravo) = daemon
    tmux = Tmux(f"lvt-ui-{os.getpid()}")
    cmd = (
        f"{_SIZE_FROM_TTY}{shlex.quote(sys.executable)} -m lvstui attach "
        f"--socket {shlex.quote(sock)}; "
        "echo CONSOLE-EXIT=$?; sleep 30"
    )
    env = ["-e", "TERM=xterm-256color", "-e", f"PYTHONPATH={REPO}"]
    tmux.run("new-session", "-d", "-s", "ui", "-x", "120", "-y", "36", *env, "-c", str(REPO), cmd)
    try:
        row = re.compile(rf"-> 127\.0\.0\.1:{alpha} .* up ")
        screen = tmux.wait_for(row)
        assert "attached to" in screen and "ActiveConn" in screen
        tmux.keys("Down")  # from the service row to alpha, its first real server
        tmux.keys("d")
        screen = tmux.wait_for("Drain 127.0.0.1:")
        assert f"127.0.0.1:{alpha}" in screen
        tmux.keys("y")
        screen = tmux.wait_for(re.compile(rf"-> 127\.0\.0\.1:{alpha} .*safe"))
        assert re.search(rf"-> 127\.0\.0\.1:{alpha} +Masq +0/1 ", screen), screen
        tmux.wait_for(re.compile(rf"drain TCP 127\.0\.0\.1:\d+ 127\.0\.0\.1:{alpha} safe"))
        tmux.keys("q")
        tmux.wait_for("CONSOLE-EXIT=0", 10)
    finally:
        subprocess.run([*tmux.base, "kill-server"], capture_output=True, timeout=10)


def test_run_console_read_only_in_a_real_terminal_80x24() -> None:
    """`run_console` as `lvstui` calls it, in an 80×24 terminal, read-only: drain is refused."""
    require_cmd("tmux")
    tmux = Tmux(f"lvt-ui-ro-{os.getpid()}")
    code = (
        "from lvstui.ui.app import run_console; from lvstui.ui.fake import FakeClient; "
        "raise SystemExit(run_console(FakeClient(2, 2, auto_tick=True), theme='light', "
        "read_only=True))"
    )
    cmd = (
        f"{_SIZE_FROM_TTY}{shlex.quote(sys.executable)} -c {shlex.quote(code)}; "
        "echo CONSOLE-EXIT=$?; sleep 30"
    )
    env = ["-e", "TERM=xterm-256color", "-e", f"PYTHONPATH={REPO}"]
    tmux.run("new-session", "-d", "-s", "ui", "-x", "80", "-y", "24", *env, "-c", str(REPO), cmd)
    try:
        tmux.wait_for(re.compile(r"-> 198\.51\.100\.\d+:\d+ .* up"))
        screen = tmux.wait_for("q Quit")
        assert "READ-ONLY" in screen
        footer = screen.rstrip("\n").splitlines()[-1]
        assert "Help" in footer and "Theme" in footer
        assert not {"Drain", "Weight", "Remove", "Reload"} & set(footer.split())
        tmux.keys("Down")
        tmux.keys("d")
        tmux.keys("?")
        screen = tmux.wait_for("Key bindings")
        assert "drain the server" not in screen and "show this help" in screen
        tmux.keys("Escape")
        # (a key sent right after Escape would read as Alt+key: wait for the help to close)
        wait_until(lambda: "Key bindings" not in tmux.screen(), 10, 0.1)
        tmux.keys("q")
        tmux.wait_for("CONSOLE-EXIT=0", 10)
    finally:
        subprocess.run([*tmux.base, "kill-server"], capture_output=True, timeout=10)
