"""keepalived's notify FIFOs: one line per VRRP transition and per LVS state change.

global_defs `notify_fifo` gets every line, `vrrp_notify_fifo` the VRRP ones, `lvs_notify_fifo`
the LVS ones, in keepalived's words so its consumers keep working:

    INSTANCE "VI_1" MASTER 100        (instance, new state, priority)
    GROUP "VG_1" BACKUP 0             (sync group, new state; 0 as keepalived)
    VS [192.0.2.10]:tcp:80 UP         (virtual server: quorum up / down; FWM N for a mark)
    RS [198.51.100.11]:80 [192.0.2.10]:tcp:80 DOWN   (real server of a virtual server)

Rules: a missing FIFO is created at start (a path that exists and is not a FIFO is left
alone, with an error); writes never block: the FIFO is opened non-blocking when a line is
due, and a FIFO without a reader (or with a full pipe) drops the line, logged at most once a
minute with the count dropped. Each `*_script` runs for as long as the engine does, with the
FIFO path as its argument (through `run_child`: its own process group, killed on stop).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass

from lvstui.child import Credentials, resolve_user, run_child
from lvstui.config.schema import GlobalDefs
from lvstui.model import RealKey, ServiceKey
from lvstui.notify.scripts import split_command

__all__ = ["FifoWriter", "NotifyFifos", "rs_line", "vrrp_line", "vs_name"]

log = logging.getLogger("lvstui.notify")

DROP_LOG_EVERY = 60.0  # seconds between two "lines dropped" warnings of one FIFO


def vs_name(key: ServiceKey) -> str:
    """keepalived's name of a virtual server in its FIFO lines."""
    if key.fwmark:
        return f"FWM {key.fwmark}"
    return f"[{key.addr}]:{key.protocol.value.lower()}:{key.port}"


def rs_line(real: RealKey, service: ServiceKey, up: bool) -> str:
    return f"RS [{real.addr}]:{real.port} {vs_name(service)} {'UP' if up else 'DOWN'}"


def vrrp_line(kind: str, name: str, state: str, priority: int | None = None) -> str:
    """`INSTANCE "VI_1" MASTER 100` / `GROUP "VG_1" BACKUP 0`."""
    line = f'{kind} "{name}" {state}'
    return line if priority is None else f"{line} {priority}"


class FifoWriter:
    """One FIFO, written without ever blocking."""

    def __init__(self, path: str, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._fd: int | None = None
        self._now = monotonic
        self._last_warn = -DROP_LOG_EVERY
        self.written = 0
        self.dropped = 0
        self._dropped_unlogged = 0

    def create(self) -> bool:
        """mkfifo when missing; False (logged) when the path is something else."""
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            try:
                os.mkfifo(self.path, 0o600)
            except OSError as e:
                log.error("notify FIFO %s: cannot create it: %s", self.path, e.strerror or e)
                return False
            return True
        except OSError as e:
            log.error("notify FIFO %s: %s", self.path, e.strerror or e)
            return False
        if not stat.S_ISFIFO(mode):
            log.error("notify FIFO %s exists and is not a FIFO: no lines go there", self.path)
            return False
        return True

    def write(self, line: str) -> bool:
        data = (line + "\n").encode()
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                if not stat.S_ISFIFO(os.fstat(self._fd).st_mode):
                    self.close()
                    return self._drop("not a FIFO")
            os.write(self._fd, data)  # a line under PIPE_BUF goes whole or not at all
        except OSError as e:
            if e.errno in (errno.EPIPE, errno.EBADF):
                self.close()  # the reader went away: reopen with the next line
            why = {
                errno.ENXIO: "no reader",
                errno.EPIPE: "no reader",
                errno.EAGAIN: "pipe full",
            }.get(e.errno or 0, e.strerror or str(e))
            return self._drop(why)
        self.written += 1
        return True

    def _drop(self, why: str) -> bool:
        self.dropped += 1
        self._dropped_unlogged += 1
        now = self._now()
        if now - self._last_warn >= DROP_LOG_EVERY:
            log.warning(
                "notify FIFO %s: %s; %d line(s) dropped", self.path, why, self._dropped_unlogged
            )
            self._last_warn = now
            self._dropped_unlogged = 0
        return False

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


@dataclass(frozen=True, slots=True)
class _Target:
    writer: FifoWriter
    script: str
    vrrp: bool
    lvs: bool
    credentials: Credentials | None = None  # its own user; None: the default's


class NotifyFifos:
    """The FIFOs of global_defs: `vrrp(line)` and `lvs(line)` go to every FIFO that takes
    them; `run` creates them and keeps their scripts running until cancelled."""

    def __init__(self, targets: list[_Target], credentials: Credentials | None = None) -> None:
        self._targets = targets
        self.credentials = credentials

    @classmethod
    def from_config(
        cls, gd: GlobalDefs, credentials: Credentials | None = None
    ) -> NotifyFifos | None:
        """KeyError (naming it) for a `*_script_user` this host does not have: the loader
        refuses such a file first (config/scripts.py)."""
        targets = [
            _Target(FifoWriter(path), script, vrrp, lvs, resolve_user(user) if user else None)
            for path, script, vrrp, lvs, user in (
                (gd.notify_fifo, gd.notify_fifo_script, True, True, gd.notify_fifo_script_user),
                (
                    gd.vrrp_notify_fifo,
                    gd.vrrp_notify_fifo_script,
                    True,
                    False,
                    gd.vrrp_notify_fifo_script_user,
                ),
                (
                    gd.lvs_notify_fifo,
                    gd.lvs_notify_fifo_script,
                    False,
                    True,
                    gd.lvs_notify_fifo_script_user,
                ),
            )
            if path
        ]
        return cls(targets, credentials) if targets else None

    @property
    def writers(self) -> list[FifoWriter]:
        return [t.writer for t in self._targets]

    def create(self) -> None:
        for t in self._targets:
            t.writer.create()

    def vrrp(self, line: str) -> None:
        for t in self._targets:
            if t.vrrp:
                t.writer.write(line)

    def lvs(self, line: str) -> None:
        for t in self._targets:
            if t.lvs:
                t.writer.write(line)

    async def run(self) -> None:
        """Create the FIFOs, run their scripts; on cancel the scripts' groups are killed (and
        waited for: no script outlives the engine)."""
        self.create()
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(self._script(t)) for t in self._targets if t.script]
        try:
            await asyncio.Event().wait()
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)
            for t in self._targets:
                t.writer.close()

    async def _script(self, t: _Target) -> None:
        try:
            argv = [*split_command(t.script), t.writer.path]
            who = t.credentials or self.credentials
            child = await run_child(argv, timeout=None, capture=False, credentials=who)
        except (OSError, ValueError) as e:
            log.error("notify FIFO script %r: cannot run: %s", t.script, e)
            return
        log.warning("notify FIFO script %r ended (exit %s)", t.script, child.returncode)
