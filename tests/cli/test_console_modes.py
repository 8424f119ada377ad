"""`lvstui` without --daemon in a real terminal (tmux): the engine embedded in the console
serves the control socket, and a second `lvstui` attaches to it instead of starting a
second engine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.harness import LoopbackServers, free_port, lvstui, write_config
from tests.helpers import REPO, require_cmd, wait_until

pytestmark = pytest.mark.tmux


class Tmux:
    def __init__(self, name: str) -> None:
        self.base = ["tmux", "-L", name]

    def run(self, *args: str) -> str:
        return subprocess.run(
            [*self.base, *args], check=True, capture_output=True, text=True, timeout=10
        ).stdout

    def screen(self, target: str) -> str:
        return self.run("capture-pane", "-p", "-t", target)

    def wait_for(self, target: str, text: str, timeout: float = 20.0) -> str:
        try:
            wait_until(lambda: text in self.screen(target), timeout, 0.1)
        except AssertionError:
            raise AssertionError(f"{text!r} never appeared:\n{self.screen(target)}") from None
        return self.screen(target)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    require_cmd("tmux")
    t = Tmux(f"lvt-ctl-{os.getpid()}")
    try:
        yield t
    finally:
        subprocess.run([*t.base, "kill-server"], capture_output=True, timeout=10, check=False)


def test_embedded_engine_serves_the_socket_and_a_second_console_attaches(tmux: Tmux) -> None:
    d = Path(tempfile.mkdtemp(prefix="lvt-ctl-tty-"))
    servers = LoopbackServers(["alpha", "bravo"])
    try:
        port = free_port()
        cfg = write_config(d / "c.toml", port, [servers.port("alpha"), servers.port("bravo")])
        sock = d / "c.sock"
        base = f"{sys.executable} -m lvstui -f {cfg} --socket {sock} --state-dir {d / 'state'}"
        first = f"{base} --dataplane userspace; echo CONSOLE-EXIT=$?; sleep 30"
        tmux.run("new-session", "-d", "-s", "one", "-x", "120", "-y", "36", "-c", str(REPO), first)
        tmux.wait_for("one", "embedded")
        wait_until(sock.is_socket, timeout=10)
        listing = lvstui("list", "--socket", str(sock))
        assert listing.returncode == 0, listing.stderr
        assert f"TCP  127.0.0.1:{port} rr" in listing.stdout
        # the same command again finds the engine on the socket and attaches to it
        second = f"{base}; echo CONSOLE-EXIT=$?; sleep 30"
        tmux.run("new-session", "-d", "-s", "two", "-x", "120", "-y", "36", "-c", str(REPO), second)
        # the status line puts the source last and cuts it at the window's width (e429166):
        # the mode is what tells this console from the embedded one
        screen = tmux.wait_for("two", "attached to")
        assert f"127.0.0.1:{servers.port('alpha')}" in screen
        tmux.run("send-keys", "-t", "two", "q")
        tmux.wait_for("two", "CONSOLE-EXIT=0")
        assert sock.is_socket()  # quitting the attached console leaves the engine alone
        tmux.run("send-keys", "-t", "one", "q")
        tmux.wait_for("one", "Quit how?")  # embedded: stop / leave running / cancel
        tmux.run("send-keys", "-t", "one", "s")
        tmux.wait_for("one", "CONSOLE-EXIT=0")
        assert not sock.exists()  # the embedded engine stopped and removed its socket
    finally:
        servers.close()
        shutil.rmtree(d, ignore_errors=True)
