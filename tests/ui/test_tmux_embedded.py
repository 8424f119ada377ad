"""An embedded console (`lvstui -f config`: the director inside the console) in tmux: the
director survives its terminal, and `q` asks what becomes of it (issue 15, build 1)."""

from __future__ import annotations

import http.server
import os
import re
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lvstui.commands.demo import demo_config
from lvstui.wiring import probe_socket
from tests.helpers import REPO, require_cmd, wait_until
from tests.ui.test_tmux import _SIZE_FROM_TTY, Tmux, _free_port

pytestmark = pytest.mark.tmux


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"real {self.server.server_address[1]}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def reals() -> Iterator[list[int]]:
    """Three real servers and a sorry server on loopback (ports)."""
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok) for _ in range(4)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    try:
        yield [int(s.server_address[1]) for s in servers]
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def _get(port: int) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/", timeout=2).text


def _serves(port: int) -> bool:
    try:
        return _get(port).startswith("real ")
    except httpx.HTTPError:
        return False


def _start(tmux: Tmux, cmd: str) -> None:
    env = ["-e", "TERM=xterm-256color", "-e", f"PYTHONPATH={REPO}"]
    tmux.run("new-session", "-d", "-s", "ui", "-x", "120", "-y", "36", *env, "-c", str(REPO), cmd)


def _console(tmux: Tmux, cfg: Path, first_real: int) -> str:
    """`lvstui -f cfg` in the tmux session (its exit code printed after), once it shows
    the first real server up; returns the screen."""
    _start(
        tmux,
        f"{_SIZE_FROM_TTY}{shlex.quote(sys.executable)} -m lvstui -f {shlex.quote(str(cfg))}"
        "; echo CONSOLE-EXIT=$?; sleep 30",
    )
    return tmux.wait_for(re.compile(rf"-> 127\.0\.0\.1:{first_real} .* up"), 30)


def _stop_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), 20, 0.1)


def test_killed_tmux_session_leaves_the_director_serving_and_attachable(
    tmp_path: Path, reals: list[int]
) -> None:
    require_cmd("tmux")
    vip = _free_port()
    cfg = demo_config(tmp_path, vip, reals[:3], reals[3])
    sock = str(tmp_path / "control.sock")
    tmux = Tmux(f"console-emb-{os.getpid()}")
    # `exec`: the pane's pid is the director's (so the test can stop it)
    cmd = f"{_SIZE_FROM_TTY}exec {shlex.quote(sys.executable)} -m lvstui -f {shlex.quote(str(cfg))}"
    pid = 0
    try:
        _start(tmux, cmd)
        screen = tmux.wait_for(re.compile(rf"-> 127\.0\.0\.1:{reals[0]} .* up"), 30)
        pid = int(tmux.run("list-panes", "-t", "ui", "-F", "#{pane_pid}").split()[0])
        assert "attached to" not in screen  # embedded: the director runs in the pane
        wait_until(lambda: _serves(vip), 15, 0.2)
        tmux.run("kill-session", "-t", "ui")  # the terminal is gone: SIGHUP
        wait_until(lambda: not _session_alive(tmux), 10, 0.1)
        # the director goes on: the VIP serves, the control socket answers, it logged it
        log_path = tmp_path / "state" / "lvstui.log"
        assert Path(f"/proc/{pid}").exists(), log_path.read_text()
        wait_until(lambda: "console gone" in log_path.read_text(), 15, 0.1)
        for _ in range(5):
            assert _serves(vip), log_path.read_text()
        assert probe_socket(sock)
        assert "console gone: the director goes on headless" in log_path.read_text()
        # the next `lvstui` attaches to it
        screen = _console(tmux, cfg, reals[0])
        assert "attached to" in screen
        tmux.keys("q")  # an attached console just quits: the daemon is not its to stop
        tmux.wait_for("CONSOLE-EXIT=0", 10)
        assert _serves(vip)
    finally:
        subprocess_kill_server(tmux)
        for left in {pid, *_pids_running(str(cfg))} - {0}:
            _stop_pid(left)
    assert not probe_socket(sock)  # SIGTERM stopped the headless director for good


def test_q_in_embedded_mode_asks_and_cancel_keeps_it(tmp_path: Path, reals: list[int]) -> None:
    require_cmd("tmux")
    vip = _free_port()
    cfg = demo_config(tmp_path, vip, reals[:3], reals[3])
    tmux = Tmux(f"console-q-{os.getpid()}")
    try:
        _console(tmux, cfg, reals[0])
        tmux.keys("q")
        screen = tmux.wait_for("Quit how?")
        assert "Stop (s)" in screen and "Leave running (l)" in screen and "Cancel (c)" in screen
        tmux.keys("c")
        wait_until(lambda: "Quit how?" not in tmux.screen(), 10, 0.1)
        assert _serves(vip)
        tmux.keys("q")
        tmux.wait_for("Quit how?")
        tmux.keys("s")  # stop: the director ends with the console, its VIP closed
        tmux.wait_for("CONSOLE-EXIT=0", 20)
        assert not _serves(vip)
    finally:
        subprocess_kill_server(tmux)
        for left in _pids_running(str(cfg)):  # a failed test leaves its director headless
            _stop_pid(left)


def _session_alive(tmux: Tmux) -> bool:
    import subprocess

    return (
        subprocess.run([*tmux.base, "has-session", "-t", "ui"], capture_output=True).returncode == 0
    )


def subprocess_kill_server(tmux: Tmux) -> None:
    import subprocess

    subprocess.run([*tmux.base, "kill-server"], capture_output=True, timeout=10)


def _pids_running(needle: str) -> list[int]:
    """Processes whose command line names `needle` (this test's own config path): the
    directors a test started, which outlive their tmux session by design."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if needle in cmdline and "lvstui" in cmdline:
                found.append(int(entry.name))
    return found


def test_q_leave_running_hands_the_director_to_a_background_daemon(
    tmp_path: Path, reals: list[int]
) -> None:
    require_cmd("tmux", "setsid")
    vip = _free_port()
    cfg = demo_config(tmp_path, vip, reals[:3], reals[3])
    sock = str(tmp_path / "control.sock")
    tmux = Tmux(f"console-leave-{os.getpid()}")
    try:
        _console(tmux, cfg, reals[0])
        wait_until(lambda: _serves(vip), 15, 0.2)
        tmux.keys("q")
        tmux.wait_for("Quit how?")
        tmux.keys("l")
        screen = tmux.wait_for("CONSOLE-EXIT=0", 60)
        assert "runs on in the background" in screen
        assert probe_socket(sock)
        for _ in range(5):
            assert _serves(vip)
        tmux.run("kill-server")  # the terminal goes: the daemon has its own session
        assert _serves(vip)
    finally:
        subprocess_kill_server(tmux)
        for pid in _pids_running(str(cfg)):
            _stop_pid(pid)
    assert not probe_socket(sock)
