"""keepalived's track_file, the part FILE_CHECK (lvstui/health/file.py) and VRRP's
`track_file` (lvstui/vrrp/trackfile.py) share: reading the number an external agent writes,
and `init_file`.

keepalived reads the file's first 127 bytes with strtol(…, 0) (leading blanks, a sign, 0x…
hex, 0… octal, trailing text ignored; no digits at all is 0); a missing or empty file is 0;
a number outside [-2^31, 2^31] is ignored (the previous value stays). keepalived rereads the
file on inotify events; `FileReader` stats it on every look and rereads it only when its
inode, size or mtime changed, so a poll a second costs one stat.
"""

from __future__ import annotations

import os
import re

__all__ = ["READ_LIMIT", "FileReader", "dir_exists", "init_file", "parse_number"]

READ_LIMIT = 127  # keepalived reads this much of the file
_LOW, _HIGH = -(2**31), 2**31
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
    if not _LOW <= value <= _HIGH:
        return None
    return value


def dir_exists(path: str) -> bool:
    """Does the directory the file would be in exist? (keepalived tracks no file without.)"""
    return os.path.isdir(os.path.dirname(os.path.abspath(path)))


def init_file(path: str, value: int, overwrite: bool) -> None:
    """track_file's `init_file VALUE [overwrite]`: write VALUE if the file does not exist
    (or whatever it holds, with overwrite)."""
    if overwrite or not os.path.exists(path):
        with open(path, "w") as f:
            f.write(f"{value}\n")


class FileReader:
    """The value in one tracked file, reread only when the file changed. `read` raises
    OSError for a file that exists but cannot be read (the caller says so)."""

    __slots__ = ("_last", "_sig", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self._sig: tuple[int, int, int] | None = None  # inode, size, mtime_ns of the last read
        self._last = 0  # the last valid value read

    def read(self) -> int:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._sig, self._last = None, 0  # keepalived: a file that vanished reads as 0
            return 0
        sig = (st.st_ino, st.st_size, st.st_mtime_ns)
        if sig == self._sig:
            return self._last
        with open(self.path, "rb") as f:
            data = f.read(READ_LIMIT)
        self._sig = sig
        value = parse_number(data)
        if value is not None:
            self._last = value
        return self._last
