"""Seamless restart (issue 10, item 8): `lvstui ctl upgrade` on the userspace dataplane
refuses no connection of a client looping through the VIP, and a new program that cannot
start (a broken configuration) leaves the old one serving."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from lvstui.commands.upgrade import daemon_pid
from tests.faults.lab import DaemonLab
from tests.helpers import wait_until


@pytest.fixture(params=["uvloop", "asyncio"])
def lab(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[DaemonLab]:
    """The userspace daemon without VRRP runs on uvloop; LVSTUI_EVENT_LOOP=asyncio keeps
    asyncio's loop (the upgrade's pipe and sockets are watched on either)."""
    if request.param == "asyncio":
        monkeypatch.setenv("LVSTUI_EVENT_LOOP", "asyncio")
    lab = DaemonLab("restart-up-")
    try:
        lab.make().start()
        yield lab
    finally:
        lab.close()


def get(port: int) -> str:
    """One request on a new connection: the answer's first line, or the error's name."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    except OSError as exc:
        return type(exc).__name__
    body = data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()
    return body.removeprefix("Hello from ") or "empty"


class Loop:
    """A client requesting through the VIP in a loop (bounded) in a thread."""

    def __init__(self, port: int, limit: int = 20_000) -> None:
        self.port = port
        self.limit = limit
        self.results: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set() and len(self.results) < self.limit:
            self.results.append(get(self.port))

    def __enter__(self) -> Loop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def test_upgrade_refuses_no_connection(lab: DaemonLab) -> None:
    assert lab.daemon is not None
    port = lab.daemon.sock
    wait_until(lambda: get(lab.vip_port) in ("alpha", "bravo"), timeout=20, interval=0.2)
    old = daemon_pid(port)
    with Loop(lab.vip_port) as loop:
        time.sleep(0.5)
        out = lab.daemon.ctl("ctl", "upgrade", timeout=120)
        with contextlib.suppress(OSError):
            lab.pids.add(daemon_pid(port))
        assert out.returncode == 0, out.stdout + out.stderr
        n = len(loop.results)
        wait_until(lambda: len(loop.results) > n + 50, timeout=20, interval=0.1)
    new = daemon_pid(port)
    lab.pids.add(new)
    assert new != old
    assert "handed over to pid" in out.stdout and f"pid {new} serves" in out.stdout
    errors = [r for r in loop.results if r not in ("alpha", "bravo")]
    assert len(loop.results) > 100
    assert errors == [], f"{len(errors)} of {len(loop.results)} failed: {set(errors)}"
    # the old daemon finished and exited by itself, releasing nothing
    assert lab.daemon.proc is not None
    assert lab.daemon.proc.wait(40) == 0
    assert get(lab.vip_port) in ("alpha", "bravo")
    assert "took over from the previous daemon" in lab.daemon.output()
    # and the new one can be upgraded again
    again = lab.daemon.ctl("ctl", "upgrade", timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    lab.pids.add(daemon_pid(port))


def test_a_new_program_that_fails_leaves_the_old_one_serving(lab: DaemonLab) -> None:
    assert lab.daemon is not None
    wait_until(lambda: get(lab.vip_port) in ("alpha", "bravo"), timeout=20, interval=0.2)
    old = daemon_pid(lab.daemon.sock)
    good = lab.daemon.config.read_text()
    lab.daemon.config.write_text(good + "\n[[virtual_server]\n")  # broken TOML
    with Loop(lab.vip_port) as loop:
        out = lab.daemon.ctl("ctl", "upgrade", timeout=120)
        n = len(loop.results)
        wait_until(lambda: len(loop.results) > n + 20, timeout=20, interval=0.1)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "upgrade failed: the new program exited with status" in out.stdout
    assert daemon_pid(lab.daemon.sock) == old
    errors = [r for r in loop.results if r not in ("alpha", "bravo")]
    assert errors == []
    assert lab.daemon.proc is not None and lab.daemon.proc.poll() is None
    lab.daemon.config.write_text(good)
    assert lab.daemon.stop() == 0
