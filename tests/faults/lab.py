"""A real `lvstui --daemon` on the userspace dataplane over loopback HTTP servers, for the
fault scenarios; every process it started (an upgrade's new daemon included) is stopped."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path

from tests.cli.harness import Daemon, LoopbackServers, NotifyListener, free_port, write_config


class DaemonLab:
    def __init__(self, prefix: str, names: tuple[str, ...] = ("alpha", "bravo")) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.servers = LoopbackServers(names)
        self.notify = NotifyListener(self.dir / "notify.sock")
        self.vip_port = free_port()
        self.config = self.dir / "config.toml"
        self.pids: set[int] = set()  # daemons the harness did not start (an upgrade's)
        self.daemon: Daemon | None = None

    def make(self, delay_loop: float = 0.5) -> Daemon:
        ports = [self.servers.port(n) for n in self.servers.servers]
        write_config(self.config, self.vip_port, ports, delay_loop=delay_loop)
        self.daemon = Daemon(
            self.config, self.dir / "control.sock", self.dir / "state", self.notify
        )
        return self.daemon

    def close(self) -> None:
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.daemon is not None:
            self.daemon.kill()
        self.notify.close()
        self.servers.close()
        shutil.rmtree(self.dir, ignore_errors=True)
