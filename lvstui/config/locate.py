"""Find the line of a key path in TOML text.

`tomllib` returns plain dicts without positions, but every config error must name its line.
The text has already been parsed by `tomllib` when we get here, so this scanner can be
lenient: it walks the document once, follows table headers (`[a.b]`, `[[a.b]]` with their
running counts), dotted keys, inline tables and arrays, and records the line where each key
path's value starts. A path that was not recorded (a missing key) falls back to its longest
recorded prefix, usually the table header, which is where the operator must add it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

__all__ = ["KeyPath", "LineOf", "Locator", "format_key"]

KeyPath = tuple[str | int, ...]
LineOf = Callable[[KeyPath], "int | None"]

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def format_key(path: KeyPath) -> str:
    """Human form of a key path.

    `("virtual_server", 1, "real_server", 0, "weight")` → `virtual_server[1].real_server[0].weight`
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if part and all(c in _BARE for c in part) else f'"{part}"'
            out += f".{name}" if out else name
    return out


class Locator:
    """Maps key paths of one TOML document to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._line = 1
        self.lines: dict[KeyPath, int] = {}
        self._arrays: dict[KeyPath, int] = {}  # array-of-tables path → count so far
        # The text was accepted by tomllib; a scanner slip only loses line numbers.
        with contextlib.suppress(IndexError, ValueError):
            self._document()

    def __call__(self, path: KeyPath) -> int | None:
        return self.line_of(path)

    def line_of(self, path: KeyPath) -> int | None:
        for n in range(len(path), 0, -1):
            line = self.lines.get(path[:n])
            if line is not None:
                return line
        return None

    # --- scanning --------------------------------------------------------------------------

    def _peek(self, k: int = 0) -> str:
        i = self._pos + k
        return self._text[i] if i < len(self._text) else ""

    def _advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self._pos < len(self._text) and self._text[self._pos] == "\n":
                self._line += 1
            self._pos += 1

    def _skip_ws(self, newlines: bool) -> None:
        while True:
            c = self._peek()
            if c in (" ", "\t", "\r") or (newlines and c == "\n"):
                self._advance()
            elif c == "#":
                while self._peek() not in ("\n", ""):
                    self._advance()
            else:
                return

    def _document(self) -> None:
        current: KeyPath = ()
        while True:
            self._skip_ws(newlines=True)
            c = self._peek()
            if not c:
                return
            if c == "[":
                current = self._header()
            else:
                self._keyval(current)

    def _resolve(self, keys: list[str]) -> KeyPath:
        """Insert the current index after every prefix that is an array of tables."""
        out: list[str | int] = []
        for key in keys:
            out.append(key)
            count = self._arrays.get(tuple(out))
            if count:
                out.append(count - 1)
        return tuple(out)

    def _header(self) -> KeyPath:
        line = self._line
        double = self._peek(1) == "["
        self._advance(2 if double else 1)
        keys = self._keys()
        self._skip_ws(newlines=False)
        self._advance(2 if double else 1)
        if double:
            parent = self._resolve(keys[:-1])
            base = (*parent, keys[-1])
            count = self._arrays.get(base, 0) + 1
            self._arrays[base] = count
            path: KeyPath = (*base, count - 1)
            self.lines.setdefault(base, line)
        else:
            path = self._resolve(keys)
        for n in range(1, len(path)):  # `[a.b]` also defines `a`, if nothing did before
            self.lines.setdefault(path[:n], line)
        self.lines[path] = line
        return path

    def _keys(self) -> list[str]:
        keys: list[str] = []
        while True:
            self._skip_ws(newlines=False)
            c = self._peek()
            if c in ('"', "'"):
                keys.append(self._string())
            else:
                start = self._pos
                while self._peek() in _BARE and self._peek():
                    self._advance()
                keys.append(self._text[start : self._pos])
            self._skip_ws(newlines=False)
            if self._peek() == ".":
                self._advance()
                continue
            return keys

    def _keyval(self, base: KeyPath) -> None:
        line = self._line
        keys = self._keys()
        self._skip_ws(newlines=False)
        self._advance()  # "="
        path = base
        for key in keys:
            path = (*path, key)
            self.lines.setdefault(path, line)
        self._skip_ws(newlines=False)
        self._value(path)

    def _value(self, path: KeyPath) -> None:
        self.lines[path] = self._line
        c = self._peek()
        if c in ('"', "'"):
            self._string()
        elif c == "[":
            self._advance()
            index = 0
            while True:
                self._skip_ws(newlines=True)
                if self._peek() == "]":
                    self._advance()
                    return
                self._value((*path, index))
                index += 1
                self._skip_ws(newlines=True)
                if self._peek() == ",":
                    self._advance()
        elif c == "{":
            self._advance()
            while True:
                self._skip_ws(newlines=False)
                if self._peek() == "}":
                    self._advance()
                    return
                self._keyval(path)
                self._skip_ws(newlines=False)
                if self._peek() == ",":
                    self._advance()
        else:
            while self._peek() not in ("", ",", "]", "}", "\n", "#"):
                self._advance()

    def _string(self) -> str:
        quote = self._peek()
        if self._text.startswith(quote * 3, self._pos):
            self._advance(3)
            end = self._text.index(quote * 3, self._pos)
            while self._text.startswith(quote, end + 3):  # up to two quotes may close it
                end += 1
            value = self._text[self._pos : end]
            self._advance(end + 3 - self._pos)
            return value
        self._advance()
        start = self._pos
        while self._peek() != quote:
            if quote == '"' and self._peek() == "\\":
                self._advance()
            if not self._peek():
                raise ValueError("unterminated string")
            self._advance()
        value = self._text[start : self._pos]
        self._advance()
        return value
