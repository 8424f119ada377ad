"""FILE_CHECK: a number an external agent writes to a file (keepalived's track_file).

keepalived's semantics, which `file_status` computes (pure):
- the file's first 127 bytes are read as an integer the way C's strtol(…, 0) reads it
  (leading blanks, a sign, 0x… hex, 0… octal, trailing text ignored; no digits at all is 0);
  a missing or empty file is 0; a number outside [-2^31, 2^31] is ignored (the previous value
  stays);
- weight 0: 0 is up and any other value down (`reverse` swaps the two);
- any other weight: value × weight (× -1 with `reverse`) is added to the real server's
  weight; at or below -2^31 the check is down.

keepalived rereads the file on inotify events; we stat it every poll (1 s unless delay_loop
is set, see `lvstui.health.base.LOCAL_POLL`) and reread it when its inode, size or mtime
changed. `init_file` is written before the first read. The resulting weight (configured
weight + offset, at least 0) is the check's dynamic weight, like misc_dynamic's.
"""

from __future__ import annotations

import os
import re
import time

from lvstui.config.schema import FileCheck
from lvstui.health.base import CheckResult, CheckSpec, SpecChecker, fail

__all__ = ["WEIGHT_FAULT", "FileChecker", "file_status", "parse_number"]

READ_LIMIT = 127  # keepalived reads this much of the file
WEIGHT_FAULT = -(2**31)
_WEIGHT_MAX = 2**31 - 1
_NUMBER = re.compile(rb"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


def parse_number(data: bytes) -> int | None:
    """strtol(data, NULL, 0): the number, 0 when there is none; None when out of range."""
    m = _NUMBER.match(data[:READ_LIMIT])
    if m is None:
        return 0
    sign, digits = m.groups()
    if digits[:2] in (b"0x", b"0X"):
        value = int(digits[2:], 16)
    elif digits.startswith(b"0") and len(digits) > 1:
        value = int(digits, 8)
    else:
        value = int(digits)
    value = -value if sign == b"-" else value
    if not WEIGHT_FAULT <= value <= 2**31:
        return None
    return value


def file_status(value: int, weight: int, reverse: bool) -> int | None:
    """The weight offset for a value read from the file, None for down (keepalived's
    FAULT)."""
    if weight == 0:
        return None if (value != 0) != reverse else 0
    offset = value * weight * (-1 if reverse else 1)
    if offset <= WEIGHT_FAULT:
        return None
    return min(offset, _WEIGHT_MAX)


class FileChecker(SpecChecker[FileCheck]):
    __slots__ = ("_inited", "_last", "_sig")

    def __init__(self, spec: CheckSpec, check: FileCheck) -> None:
        super().__init__(spec, check)
        self._inited = check.init_file is None
        self._sig: tuple[int, int, int] | None = None  # inode, size, mtime_ns of the last read
        self._last = 0  # the last valid value read

    def _read(self) -> int:
        path = self._check.file
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self._sig, self._last = None, 0  # keepalived: a file that vanished reads as 0
            return 0
        sig = (st.st_ino, st.st_size, st.st_mtime_ns)
        if sig == self._sig:
            return self._last
        with open(path, "rb") as f:
            data = f.read(READ_LIMIT)
        self._sig = sig
        value = parse_number(data)
        if value is not None:
            self._last = value
        return self._last

    def _init(self) -> None:
        """track_file's init_file: write the value before the first read if the file does not
        exist (or whatever it holds, with init_overwrite). Once per checker: a reload that
        keeps the check keeps the file as the agent left it (keepalived does the same)."""
        c = self._check
        self._inited = True
        if c.init_overwrite or not os.path.exists(c.file):
            with open(c.file, "w") as f:
                f.write(f"{c.init_file}\n")

    async def run(self) -> CheckResult:
        started = time.monotonic()
        c = self._check
        try:
            if not self._inited:
                self._init()
            value = self._read()
        except OSError as exc:
            return fail(started, f"cannot read {c.file}: {exc.strerror or exc}")
        offset = file_status(value, c.weight, c.reverse)
        now = time.monotonic()
        if offset is None:
            return CheckResult(
                False, f"{c.track_file} = {value}: fault", now - started, None, started, now
            )
        if c.weight == 0:  # an up/down switch: the configured weight stands
            return CheckResult(True, f"{c.track_file} = {value}", now - started, None, started, now)
        base = self._spec.base_weight if self._spec.base_weight is not None else 1
        weight = max(0, min(base + offset, _WEIGHT_MAX))
        reason = f"{c.track_file} = {value}: weight {weight}"
        return CheckResult(True, reason, now - started, weight, started, now)
