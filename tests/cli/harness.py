"""Real processes for the CLI tests: loopback HTTP servers, an sd_notify listener, and
`python -m lvstui` daemons and commands, all bounded in time and torn down."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from lvstui.demo.servers import DemoServer
from tests.helpers import REPO, wait_until

PY = sys.executable


class LoopbackServers:
    """DemoServers (real HTTP on 127.0.0.1) running in a thread with their own event loop."""

    def __init__(self, names: Sequence[str]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers = {n: DemoServer(n) for n in names}
        for s in self.servers.values():
            self._run(s.start())

    def _run(self, coro: Any) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(10)

    def port(self, name: str) -> int:
        return self.servers[name].port

    def kill(self, name: str) -> None:
        """Stop listening (connections are refused), keeping the port for a restart."""
        self._run(self.servers[name].close())

    def revive(self, name: str) -> None:
        self._run(self.servers[name].start())

    def close(self) -> None:
        for s in self.servers.values():
            self._run(s.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class NotifyListener:
    """A NOTIFY_SOCKET of our own: collects what the daemon tells systemd."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.messages: list[str] = []

    def poll(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except (TimeoutError, BlockingIOError):
                return self.messages

    def wait_for(self, field: str, after: int = 0, timeout: float = 20.0) -> int:
        """Index of the first message (from `after`) that has `field` as a line."""
        found: list[int] = []

        def seen() -> bool:
            for i, m in enumerate(self.poll()[after:], after):
                if field in m.split("\n"):
                    found.append(i)
                    return True
            return False

        wait_until(seen, timeout=timeout, interval=0.05)
        return found[0]

    def close(self) -> None:
        self.sock.close()


def lvstui(
    *args: str, timeout: float = 30.0, env: dict[str, str] | None = None, netns: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `python -m lvstui ARGS` to completion (bounded), inside `netns` if given."""
    inside = ["ip", "netns", "exec", netns] if netns else []
    return subprocess.run(
        [*inside, PY, "-m", "lvstui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        check=False,
    )


class Daemon:
    """`python -m lvstui --daemon` in the background, READY awaited through NOTIFY_SOCKET."""

    def __init__(self, config: Path, sock: Path, state: Path, notify: NotifyListener) -> None:
        self.config = config
        self.sock = sock
        self.state = state
        self.notify = notify
        self.log = state.parent / f"daemon-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str, wait_ready: bool = True) -> None:
        env = {**os.environ, "NOTIFY_SOCKET": str(self.notify.path)}
        env.pop("JOURNAL_STREAM", None)
        self.mark = len(self.notify.poll())
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    PY,
                    "-m",
                    "lvstui",
                    "--daemon",
                    "-f",
                    str(self.config),
                    "--socket",
                    str(self.sock),
                    "--state-dir",
                    str(self.state),
                    "--dataplane",
                    "userspace",
                    *extra,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env=env,
            )
        if wait_ready:
            self.notify.wait_for("READY=1", after=self.mark)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def ctl(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        return lvstui(*args, "--socket", str(self.sock), timeout=timeout)

    def ctl_argv(self) -> list[str]:
        """The command line that runs lvstui (add the arguments and `--socket`)."""
        return [PY, "-m", "lvstui"]


def write_config(
    path: Path,
    vip_port: int,
    real_ports: Sequence[int],
    *,
    delay_loop: float = 1.0,
    extra: str = "",
) -> Path:
    reals = "".join(
        f"""
[[virtual_server.real_server]]
ip = "127.0.0.1"
port = {p}
weight = 1
[[virtual_server.real_server.http_get]]
connect_timeout = 1
retry = 0
[[virtual_server.real_server.http_get.url]]
path = "/health"
"""
        for p in real_ports
    )
    path.write_text(
        f"""
[lvstui]
dataplane = "userspace"

[[virtual_server]]
ip = "127.0.0.1"
port = {vip_port}
lb_algo = "rr"
lb_kind = "NAT"
delay_loop = {delay_loop}
{extra}
{reals}
"""
    )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
