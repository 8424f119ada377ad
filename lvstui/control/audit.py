"""The control socket's audit log: every command, accepted or refused, as one JSON line.

A command is not run when the audit log cannot take its line (read-only or missing
directory, a full filesystem): the caller gets an ``audit`` error and the daemon logs it.
Nothing is done that is not recorded.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Final

from lvstui.control.peer import Peer, Role

__all__ = ["AUDIT_MIN_FREE", "AuditError", "AuditLog", "audit_time"]

log = logging.getLogger("lvstui.control")

AUDIT_MIN_FREE: Final = 64 * 1024  # bytes the audit log's filesystem must have left


def audit_time(now: float | None = None) -> str:
    """A line's time: UTC, milliseconds (2026-01-31T12:00:00.250Z)."""
    t = time.time() if now is None else now
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


class AuditError(OSError):
    """The audit log cannot take a line: the command is not run."""


class AuditLog:
    """One JSON line per command: when, who, what, and the result (or why it was refused).

    `check()` runs before a command: the file must open for appending and its filesystem
    must have `AUDIT_MIN_FREE` bytes left, else AuditError and the command is not run.
    `write()` raises AuditError too (a line lost after a change was made is an error the
    caller hears of); `record()` is for refusals, where there is nobody left to tell."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.failures = 0  # lines that could not be written, or checks that failed

    def _fail(self, why: str) -> AuditError:
        self.failures += 1
        log.error("cannot write the audit log %s: %s", self.path, why)
        return AuditError(f"the audit log {self.path} cannot be written: {why}")

    def check(self) -> None:
        if self.path is None:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            try:
                st = os.fstatvfs(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise self._fail(exc.strerror or str(exc)) from None
        # root may use the blocks reserved for it; the daemon's user may not
        blocks = st.f_bfree if os.geteuid() == 0 else st.f_bavail
        if blocks * st.f_frsize < AUDIT_MIN_FREE:
            raise self._fail(f"no space left ({blocks * st.f_frsize} bytes free)")

    def write(self, peer: Peer, role: Role | None, command: Any, result: dict[str, Any]) -> None:
        if self.path is None:
            return
        entry = {
            "time": audit_time(),
            "uid": peer.uid,
            "user": peer.user,
            "pid": peer.pid,
            "role": role.value if role else None,
            "command": command,
            "result": result,
        }
        self.append(entry)

    def append(self, entry: dict[str, Any]) -> None:
        """One line as it is (the group's lines have their own fields); AuditError when it
        cannot be written."""
        if self.path is None:
            return
        line = json.dumps(entry, separators=(",", ":"), allow_nan=False) + "\n"
        try:
            # Opened per line: survives logrotate, and a line is one write() (O_APPEND).
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            try:
                data = line.encode()
                if os.write(fd, data) != len(data):
                    raise OSError(errno.ENOSPC, "short write")
            finally:
                os.close(fd)
        except OSError as exc:
            raise self._fail(exc.strerror or str(exc)) from None

    def record(self, peer: Peer, role: Role | None, command: Any, result: dict[str, Any]) -> None:
        """`write` for a refusal: a failure is logged and counted, not raised."""
        with contextlib.suppress(AuditError):
            self.write(peer, role, command, result)
