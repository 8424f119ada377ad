"""Bounds on what a configuration file may be, so bad input is a clear error, fast.

`lvstui check-config /dev/zero` used to end in a MemoryError, a 20 MiB string took half a
minute, and deep nesting gave a RecursionError traceback (issue 10, item 7). A real
config.toml of 1,000 services x 10 real servers is about 1 MiB; keepalived.conf files and
overrides.toml are smaller still, so the bounds below leave room and refuse nonsense:

- a file is read through `read_limited`: at most `MAX_FILE_BYTES` (8 MiB), whatever it is
  (a device, a pipe, a file that grows while read);
- all the files of one keepalived.conf with its includes: `MAX_TOTAL_BYTES` (32 MiB);
- tables and arrays nested at most `MAX_DEPTH` (32) deep (the schema needs 5); deeper TOML
  is a ConfigError naming the line, never a RecursionError trace (`parse_toml`).
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any, Final

from lvstui.errors import ConfigError

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_TOTAL_BYTES",
    "ReadBudget",
    "parse_toml",
    "read_limited",
    "read_text_limited",
]

MAX_FILE_BYTES: Final = 8 << 20
MAX_TOTAL_BYTES: Final = 32 << 20
MAX_DEPTH: Final = 32


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB"


def read_limited(path: str | os.PathLike[str], limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a file, at most `limit` of them: ConfigError beyond (OSError as usual
    for a file that cannot be opened). Never reads more than `limit` + 1 bytes, so
    /dev/zero, /dev/urandom or a runaway pipe cost a bounded moment."""
    name = str(path)
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(21, "Is a directory", name)
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            size = _mib(st.st_size)
            raise _too_large(name, limit, f"{size}, ")
        data = f.read(limit + 1)
    if len(data) > limit:
        kind = "" if stat.S_ISREG(st.st_mode) else "not a regular file, and "
        raise _too_large(name, limit, kind)
    return data


def _too_large(name: str, limit: int, what: str) -> ConfigError:
    return ConfigError(
        f"{what}larger than {_mib(limit)}: not a configuration file",
        file=name,
        hint="a configuration is text of a few hundred KiB (1,000 services x 10 real "
        "servers is about 1 MiB); is this the file you meant?",
    )


class ReadBudget:
    """What the files of one configuration (a keepalived.conf and its includes) may add up
    to; `read` charges each file against it."""

    def __init__(self, total: int = MAX_TOTAL_BYTES) -> None:
        self.left = total
        self.total = total

    def read(self, path: str | os.PathLike[str]) -> bytes:
        data = read_limited(path)
        self.left -= len(data)
        if self.left < 0:
            raise ConfigError(
                f"the configuration and its includes add up to more than {_mib(self.total)}",
                file=str(path),
                hint="an include glob that matches too much, or includes that include each other?",
            )
        return data


# Openings of arrays and inline tables outside strings and comments (strings matched with
# the unrolled-loop pattern: linear, no backtracking per character).
_TOKENS = re.compile(
    r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"|\'[^\'\n]*\''
    r"|#[^\n]*|[\[\]{}]"
)


def _deepest_line(text: str) -> int:
    """The line where the nesting of [ ] and { } is deepest (for the error message only)."""
    depth = deepest = at = 0
    for m in _TOKENS.finditer(text):
        tok = m.group()
        if tok in ("[", "{"):
            depth += 1
            if depth > deepest:
                deepest, at = depth, m.start()
        elif tok in ("]", "}"):
            depth = max(0, depth - 1)
    return text.count("\n", 0, at) + 1


def _depth(data: Any) -> int:
    """How deep tables and arrays nest (iterative: deep data cannot exhaust the stack)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, d = stack.pop()
        deepest = max(deepest, d)
        if isinstance(value, dict):
            stack.extend((v, d + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, d + 1) for v in value)
    return deepest


def parse_toml(text: str, file: str) -> dict[str, Any]:
    """tomllib.loads, with tables and arrays nested deeper than MAX_DEPTH refused as a
    ConfigError (tomllib itself raises RecursionError past a few hundred levels: that, too,
    becomes the ConfigError, naming the line). tomllib.TOMLDecodeError passes through."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        deep = True
    else:
        deep = _depth(data) > MAX_DEPTH + 1  # +1: the document itself is a table
    if deep:
        raise ConfigError(
            f"tables or arrays nested more than {MAX_DEPTH} deep",
            file=file,
            line=_deepest_line(text),
            hint="no lvstui setting nests more than a few levels",
        )
    return data


def read_text_limited(path: Path) -> str:
    """UTF-8 text of a small file read through `read_limited` (for helpers that only want
    the text, e.g. to find line numbers). A leading byte-order mark is dropped, as the
    config loader drops it: the text then parses as the same TOML."""
    return read_limited(path).decode("utf-8-sig", errors="replace")
