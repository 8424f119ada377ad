"""Issue 15's "Show" in a real terminal (tmux), beyond test_tmux.py and
test_tmux_embedded.py: a drain started in an embedded console is still followed by the
console that attaches after the first one's terminal died; `--read-only` is enforced on
`lvstui demo` and on `lvstui attach`; the drain dialog warns before a drain that takes the
service below its quorum."""

from __future__ import annotations

import os
import re
import shlex
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lvstui.commands.demo import demo_config
from lvstui.wiring import probe_socket
from tests.helpers import require_cmd, wait_until
from tests.ui.test_tmux import _SIZE_FROM_TTY, Tmux, _free_port, daemon  # noqa: F401
from tests.ui.test_tmux_embedded import (
    _console,
    _pids_running,
    _serves,
    _session_alive,
    _start,
    _stop_pid,
    reals,  # noqa: F401
    subprocess_kill_server,
)

pytestmark = pytest.mark.tmux

_PY = shlex.quote(sys.executable)


@contextmanager
def tmux_named(name: str) -> Iterator[Tmux]:
    """A tmux server of its own (`tmux -L name`), killed and its socket file removed after."""
    require_cmd("tmux")
    tmux = Tmux(name)
    try:
        yield tmux
    finally:
        subprocess_kill_server(tmux)
        # a killed server leaves its socket file behind
        tmpdir = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
        (tmpdir / name).unlink(missing_ok=True)


@pytest.fixture
def tmux_server() -> Iterator[Tmux]:
    with tmux_named(f"congroup-{os.getpid()}") as tmux:
        yield tmux


def _held(vip: int, n: int) -> list[socket.socket]:
    """`n` connections through the VIP, each with half a request: the real servers wait for
    the rest, so they stay open (active) until closed."""
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", vip), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        out.append(s)
    return out


def _drained_port(screen: str) -> int:
    m = re.search(r"Drain 127\.0\.0\.1:(\d+) from", screen)
    assert m, screen
    return int(m.group(1))


def test_a_drain_started_before_the_terminal_died_is_followed_after_reattach(
    tmp_path: Path,
    reals: list[int],  # noqa: F811
    tmux_server: Tmux,
) -> None:
    tmux = tmux_server
    vip = _free_port()
    cfg = demo_config(tmp_path, vip, reals[:3], reals[3])
    sock = str(tmp_path / "control.sock")
    held: list[socket.socket] = []
    cmd = f"{_SIZE_FROM_TTY}exec {_PY} -m lvstui -f {shlex.quote(str(cfg))}"
    try:
        _start(tmux, cmd)
        tmux.wait_for(re.compile(rf"-> 127\.0\.0\.1:{reals[0]} .* up"), 30)
        wait_until(lambda: _serves(vip), 15, 0.2)
        held = _held(vip, 6)  # round robin: two on each real server
        tmux.keys("Down")  # the first real server
        tmux.keys("d")
        port = _drained_port(tmux.wait_for("Drain 127.0.0.1:"))
        tmux.keys("y")
        draining = re.compile(rf"-> 127\.0\.0\.1:{port} .*drain [12]\b")
        tmux.wait_for(draining, 15)
        tmux.run("kill-session", "-t", "ui")  # the terminal goes away mid-drain
        wait_until(lambda: not _session_alive(tmux), 10, 0.1)
        log = tmp_path / "state" / "lvstui.log"
        wait_until(lambda: log.exists() and "console gone" in log.read_text(), 15, 0.1)
        assert _serves(vip)  # the VIP still serves (the others take the new connections)
        assert probe_socket(sock)
        # the next `lvstui` attaches and still follows the drain: the row, then the
        # drill-down's progress line, then "safe" once the held connections end
        screen = _console(tmux, cfg, reals[1] if port == reals[0] else reals[0])
        assert "attached to" in screen
        tmux.wait_for(draining, 15)
        tmux.keys("Down")
        tmux.keys("Enter")
        tmux.wait_for(re.compile(r"DRAINING \["), 15)
        for s in held:
            s.close()
        held = []
        tmux.wait_for(re.compile(r"SAFE"), 30)
        tmux.keys("Escape")
        tmux.wait_for(re.compile(rf"-> 127\.0\.0\.1:{port} .* safe"), 15)
        tmux.keys("q")  # attached: quits at once, the director goes on
        tmux.wait_for("CONSOLE-EXIT=0", 10)
        assert _serves(vip)
    finally:
        for s in held:
            s.close()
        subprocess_kill_server(tmux)
        for pid in _pids_running(str(cfg)):
            _stop_pid(pid)
    assert not probe_socket(sock)


def _attach(tmux: Tmux, sock: str, *flags: str) -> None:
    """`lvstui attach` in the tmux session (its exit code printed after it), once it shows
    a real server up."""
    _start(
        tmux,
        f"{_SIZE_FROM_TTY}{_PY} -m lvstui attach --socket {shlex.quote(sock)} {' '.join(flags)}"
        "; echo CONSOLE-EXIT=$?; sleep 30",
    )
    tmux.wait_for(re.compile(r"-> 127\.0\.0\.1:\d+ .* up"), 30)


def _refused_drain(tmux: Tmux) -> str:
    """Down to a real server, `d`: the read-only console says why nothing happens."""
    tmux.wait_for("READ-ONLY")
    screen = tmux.wait_for("q Quit")  # the footer is drawn
    footer = screen.rstrip("\n").splitlines()[-1]
    assert "Quit" in footer and not {"Drain", "Weight", "Remove", "Reload"} & set(footer.split())
    tmux.keys("Down")
    tmux.keys("d")
    screen = tmux.wait_for("read-only console: drain refused")
    assert "Drain 127.0.0.1:" not in screen  # no dialog
    return screen


@pytest.mark.parametrize("args", ["--read-only demo", "demo --read-only"])
def test_read_only_is_enforced_on_demo(tmux_server: Tmux, args: str) -> None:
    tmux = tmux_server
    cmd = (
        f"{_SIZE_FROM_TTY}{_PY} -m lvstui {args} --port {_free_port()}; "
        "echo CONSOLE-EXIT=$?; sleep 30"
    )
    _start(tmux, cmd)
    tmux.wait_for(re.compile(r"-> 127\.0\.0\.1:\d+ .* up"), 30)
    _refused_drain(tmux)
    tmux.keys("q")
    tmux.wait_for("CONSOLE-EXIT=0", 20)


def test_read_only_is_enforced_on_attach(
    daemon: tuple[str, list[int]],  # noqa: F811
    tmux_server: Tmux,
) -> None:
    sock, _ = daemon
    tmux = tmux_server
    _attach(tmux, sock, "--read-only")
    assert "attached to" in _refused_drain(tmux)
    # the palette refuses a changing command too (once the key's notice is gone, so that
    # the one seen next is the palette's)
    wait_until(lambda: "drain refused" not in tmux.screen(), 20, 0.2)
    tmux.keys(":")
    tmux.wait_for("drain 127.0.0.1:")  # it opens on the selected server's drain
    tmux.keys("Enter")
    tmux.wait_for("read-only console: drain refused")
    wait_until(lambda: "drain 127.0.0.1:" not in tmux.screen(), 10, 0.1)  # closed
    tmux.keys("q")
    tmux.wait_for("CONSOLE-EXIT=0", 10)


def test_drain_dialog_warns_before_a_drain_that_loses_quorum(
    daemon: tuple[str, list[int]],  # noqa: F811
    tmux_server: Tmux,
) -> None:
    """The demo's service has quorum 2 over three servers of weight 1: a first drain keeps
    it (no warning), a second would take it below (the dialog says so, and what then)."""
    sock, _ = daemon
    tmux = tmux_server
    _attach(tmux, sock)
    # every real server up (live weight 3), else the first drain would warn already
    tmux.wait_for(re.compile(r"(-> 127\.0\.0\.1:\d+ .* up .*\n.*){3}"), 30)
    tmux.keys("Down")
    tmux.keys("d")
    screen = tmux.wait_for("Drain 127.0.0.1:")
    assert "quorum" not in screen
    tmux.keys("y")
    tmux.wait_for(re.compile(r"-> 127\.0\.0\.1:\d+ .*(drain|safe)"), 15)
    tmux.keys("Down")
    tmux.keys("d")
    screen = tmux.wait_for("below its quorum")
    # (wrapped in the dialog: read it as one text)
    text = " ".join(re.sub(r"[█│]", " ", screen).split())
    assert "below its quorum (live weight 2 → 1, quorum 2): the sorry server" in text, screen
    tmux.keys("n")  # not confirmed: nothing more drained
    wait_until(lambda: "below its quorum" not in tmux.screen(), 10, 0.1)
    tmux.keys("q")
    tmux.wait_for("CONSOLE-EXIT=0", 10)
