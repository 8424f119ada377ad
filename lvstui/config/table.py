"""One TOML table being read: typed getters that log an error (with file, line and key path) and
fall back to a default, so one run reports every problem of a file."""

from __future__ import annotations

import ipaddress
import math
import shlex
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any, TypeVar

from lvstui.config.locate import KeyPath, LineOf, format_key
from lvstui.config.schema import DataplaneKind, TrackFile
from lvstui.config.suggest import did_you_mean
from lvstui.errors import ConfigError

E = TypeVar("E", bound=Enum)


# keepalived's older spellings, accepted where they are cheap to map.
ALIASES = {"nb_get_retry": "retry", "lvs_sched": "lb_algo", "lvs_method": "lb_kind"}
MISSING: Any = object()


class Ctx:
    """One file being read: where errors point, and every error found so far."""

    def __init__(self, file: str, line_of: LineOf) -> None:
        self.file = file
        self.line_of = line_of
        self.errors: list[ConfigError] = []
        self.dataplane = DataplaneKind.AUTO
        self.track_files: dict[str, TrackFile] = {}  # FILE_CHECK resolves its track_file here
        self._seen: set[tuple[KeyPath, str]] = set()

    def err(self, path: KeyPath, message: str, hint: str = "") -> None:
        if (path, message) in self._seen:  # a key read twice reports once
            return
        self._seen.add((path, message))
        self.errors.append(
            ConfigError(
                message, file=self.file, line=self.line_of(path), key=format_key(path), hint=hint
            )
        )


def kind_of(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def show(value: object) -> str:
    s = repr(value)
    return s if len(s) <= 40 else s[:37] + "..."


class Table:
    """One TOML table being read: typed getters that log errors and fall back to defaults."""

    def __init__(self, ctx: Ctx, data: dict[str, Any], path: KeyPath) -> None:
        self.ctx = ctx
        self.data = data
        self.path = path
        self.known: set[str] = set()

    def at(self, key: str | int) -> KeyPath:
        return (*self.path, key)

    def err(self, key: str | int | None, message: str, hint: str = "") -> None:
        self.ctx.err(self.path if key is None else self.at(key), message, hint)

    def has(self, key: str) -> bool:
        self.known.add(key)
        return key in self.data or any(a in self.data for a, k in ALIASES.items() if k == key)

    def raw(self, key: str) -> tuple[str, Any]:
        """The value of `key` (or of an alias of it), with the spelling found."""
        self.known.add(key)
        found = [(key, self.data[key])] if key in self.data else []
        for alias, target in ALIASES.items():
            if target == key and alias in self.data:
                self.known.add(alias)
                found.append((alias, self.data[alias]))
        if len(found) > 1:
            self.err(found[1][0], f"`{found[1][0]}` and `{key}` are the same setting; keep one")
        return found[0] if found else (key, MISSING)

    def _typed(self, key: str, default: Any, ok: Callable[[Any], bool], want: str) -> Any:
        name, value = self.raw(key)
        if value is MISSING:
            return default
        if not ok(value):
            self.err(name, f"expected {want}, got {kind_of(value)} ({show(value)})")
            return default
        return value

    def text(self, key: str, default: Any = "", *, nonempty: bool = False) -> Any:
        v = self._typed(key, default, lambda v: isinstance(v, str), "a string")
        if nonempty and isinstance(v, str) and not v.strip() and self.has(key):
            self.err(key, "must not be empty")
        return v

    def req_str(self, key: str) -> str:
        if not self.has(key):
            self.err(None, f"missing required key `{key}`", f'add {key} = "..."')
            return ""
        return str(self.text(key, "", nonempty=True))

    def flag(self, key: str, default: Any = False) -> Any:
        return self._typed(key, default, lambda v: isinstance(v, bool), "true or false")

    def integer(self, key: str, default: Any, lo: int | None = None, hi: int | None = None) -> Any:
        name, value = self.raw(key)
        if value is MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.err(name, f"expected an integer, got {kind_of(value)} ({show(value)})")
            return default
        return self._range(name, value, default, lo, hi)

    def number(
        self,
        key: str,
        default: Any,
        lo: float | None = None,
        hi: float | None = None,
        *,
        positive: bool = False,
    ) -> Any:
        name, value = self.raw(key)
        if value is MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.err(name, f"expected a number of seconds, got {kind_of(value)} ({show(value)})")
            return default
        if not math.isfinite(value):
            self.err(name, f"expected a finite number, got {value}")
            return default
        if positive and value <= 0:
            self.err(name, f"must be greater than 0, got {value}")
            return default
        checked = self._range(name, value, default, lo, hi)
        return checked if checked is None else float(checked)  # out of range: the default

    def _range(self, name: str, value: Any, default: Any, lo: Any, hi: Any) -> Any:
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if hi is None:
                want = f"at least {lo}"
            elif lo is None:
                want = f"at most {hi}"
            else:
                want = f"between {lo} and {hi}"
            self.err(name, f"out of range: expected {want}, got {value}")
            return default
        return value

    def choice(self, key: str, cls: type[E], default: Any, *, upper: bool = True) -> Any:
        name, value = self.raw(key)
        if value is MISSING:
            return default
        choices = [m.value for m in cls]
        if isinstance(value, str):
            norm = value.upper() if upper else value.lower()
            for m in cls:
                if m.value == norm:
                    return m
        self.err(
            name,
            f"expected one of {', '.join(map(str, choices))}, got {show(value)}",
            did_you_mean(str(value), [str(c) for c in choices]),
        )
        return default

    def str_list(self, key: str) -> tuple[str, ...]:
        name, value = self.raw(key)
        if value is MISSING:
            return ()
        if isinstance(value, str):  # a single item is fine
            return (value,)
        if not isinstance(value, list):
            self.err(name, f"expected a list of strings, got {kind_of(value)}")
            return ()
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.ctx.err((*self.path, name, i), f"expected a string, got {kind_of(item)}")
        return tuple(out)

    def ip(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        if required and not self.has(key):
            self.err(None, f"missing required key `{key}`", f'add {key} = "ADDRESS"')
            return default
        value = self.text(key, MISSING)
        if value is MISSING:
            return default
        return check_ip(self.ctx, self.at(key), value, default)

    def sub(self, key: str) -> Table | None:
        self.known.add(key)
        value = self.data.get(key, MISSING)
        if value is MISSING:
            return None
        if not isinstance(value, dict):
            self.err(key, f"expected a table, got {kind_of(value)}")
            return None
        return Table(self.ctx, value, self.at(key))

    def subs(self, key: str) -> list[Table]:
        """An array of tables ([[key]]); a single table is accepted as a list of one."""
        self.known.add(key)
        value = self.data.get(key, MISSING)
        if value is MISSING:
            return []
        if isinstance(value, dict):
            self.err(key, f"expected a list of tables: write [[...{key}]], not [...{key}]")
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.err(key, f"expected a list of tables ([[...{key}]]), got {kind_of(value)}")
            return []
        return [Table(self.ctx, v, (*self.path, key, i)) for i, v in enumerate(value)]

    def named(self, key: str) -> Iterator[tuple[str, Table]]:
        """[key.NAME] tables."""
        t = self.sub(key)
        if t is None:
            return
        for name, value in t.data.items():
            t.known.add(name)
            if not isinstance(value, dict):
                t.err(name, f"expected a table [{key}.{name}], got {kind_of(value)}")
                continue
            yield name, Table(self.ctx, value, t.at(name))

    def finish(self, not_here: dict[str, str] | None = None) -> None:
        """Report every key nobody asked for; `not_here`: keys valid elsewhere, and why."""
        for key in self.data:
            if key in self.known:
                continue
            if not_here and key in not_here:
                self.err(key, f"`{key}` does not apply here: {not_here[key]}")
                continue
            self.err(
                key,
                f"unknown key `{key}`",
                did_you_mean(key, sorted(self.known))
                or f"keys allowed here: {', '.join(sorted(self.known))}",
            )


def check_ip(ctx: Ctx, path: KeyPath, value: str, default: Any) -> Any:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        ctx.err(
            path, f"expected an IP address, got {show(value)}", "e.g. 192.0.2.10 or 2001:db8::10"
        )
        return default


def check_argv(t: Table, key: str, text: str) -> None:
    if not text:
        return
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        t.err(key, f"cannot split into arguments: {exc}", "check the quotes")
        return
    if not argv:
        t.err(key, "empty command")


def command_user(t: Table, key: str) -> str:
    """`KEY_user`: who the command `KEY` runs as (keepalived's `KEY "CMD" USER`); "" for
    script_user. Whether the user exists is checked with the other script users
    (config/scripts.py), so a reload that names an unknown one is refused whole."""
    user: str = t.text(f"{key}_user", "")
    if user and not t.text(key, None):
        t.err(f"{key}_user", f"set without {key}: no command to run")
    return user
