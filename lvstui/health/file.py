"""FILE_CHECK: a number an external agent writes to a file (keepalived's track_file).

keepalived's semantics, which `file_status` computes (pure), on the value that
`lvstui.trackfile.FileReader` reads (strtol's rules, a missing file is 0):
- weight 0: 0 is up and any other value down (`reverse` swaps the two);
- any other weight: value × weight (× -1 with `reverse`) is added to the real server's
  weight; at or below -2^31 the check is down.

The file is looked at every poll (1 s unless delay_loop is set, see
`lvstui.health.base.LOCAL_POLL`) and reread only when it changed. `init_file` is written
before the first read. The resulting weight (configured weight + offset, at least 0) is the
check's dynamic weight, like misc_dynamic's.
"""

from __future__ import annotations

import time

from lvstui.config.schema import FileCheck
from lvstui.health.base import CheckResult, CheckSpec, SpecChecker, fail
from lvstui.trackfile import FileReader, init_file, parse_number

__all__ = ["WEIGHT_FAULT", "FileChecker", "file_status", "parse_number"]

WEIGHT_FAULT = -(2**31)
_WEIGHT_MAX = 2**31 - 1


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
    __slots__ = ("_inited", "_reader")

    def __init__(self, spec: CheckSpec, check: FileCheck) -> None:
        super().__init__(spec, check)
        self._inited = check.init_file is None
        self._reader = FileReader(check.file)

    def _init(self) -> None:
        """Once per checker: a reload that keeps the check keeps the file as the agent left
        it (keepalived does the same)."""
        c = self._check
        self._inited = True
        if c.init_file is not None:
            init_file(c.file, c.init_file, c.init_overwrite)

    async def run(self) -> CheckResult:
        started = time.monotonic()
        c = self._check
        try:
            if not self._inited:
                self._init()
            value = self._reader.read()
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
