"""Read config.toml into the typed tree of `lvstui.config.schema`, or say exactly what is wrong.

`tomllib` turns the text into dicts; the section readers turn the dicts into frozen
dataclasses, checking every key's type and range as they go. Errors are collected, not
raised one by one, so `check-config` shows every problem of a file in one run; when there
is at least one, `ConfigErrors` (a `ConfigError` carrying them all) is raised. Each error
names the file, the line (found by `lvstui.config.locate`), the key path, and what is
expected.

This module is the TOML side (bytes → text → dicts, with syntax errors named) and the entry
points; the walk over the schema is `lvstui.config.walk`, one module per section in
`lvstui.config.sections`, over the typed table reader of `lvstui.config.table`.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lvstui.config.limits import parse_toml, read_limited
from lvstui.config.locate import LineOf, Locator
from lvstui.config.schema import Config
from lvstui.config.scripts import unknown_user_errors, with_script_user
from lvstui.config.scriptsec import disable_scripts
from lvstui.config.sections.checks import CHECK_ORDER, parse_status_codes, sort_checks
from lvstui.config.sections.vrrp import parse_vip
from lvstui.config.table import Ctx, Table
from lvstui.config.walk import build
from lvstui.errors import ConfigError

log = logging.getLogger("lvstui.config")

__all__ = [
    "CHECK_ORDER",
    "ConfigErrors",
    "decode_text",
    "load_config",
    "load_config_data",
    "load_config_disabled",
    "load_config_text",
    "parse_status_codes",
    "parse_vip",
    "read_config_text",
    "sort_checks",
]


class ConfigErrors(ConfigError):
    """Every error found in one file. `errors` holds them in file order."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        ordered = sorted(errors, key=lambda e: (e.file, e.line or 0))
        first = ordered[0]
        super().__init__(
            first.detail, file=first.file, line=first.line, key=first.key, hint=first.hint
        )
        self.errors: tuple[ConfigError, ...] = tuple(ordered)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


# --- entry points ----------------------------------------------------------------------------


def decode_text(data: bytes, file: str) -> str:
    """UTF-8 text of a config file. A leading byte-order mark (left by some Windows editors)
    is dropped; anything that is not UTF-8 is an error naming the line, not a codec trace."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        raise ConfigError(
            f"not UTF-8 text: byte 0x{data[start]:02x} at column {column}",
            file=file,
            line=line,
            hint="save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`); "
            "binary files are not configuration",
        ) from None


def read_config_text(path: str | Path, hint: str = "") -> str:
    """Read a config file as text; `ConfigError` (with `hint` when missing) otherwise."""
    p = Path(path)
    try:
        data = read_limited(p)  # /dev/zero, a 20 MiB string: a clear error, at once
    except FileNotFoundError:
        raise ConfigError("no such file", file=str(p), hint=hint) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a file", file=str(p), hint=hint) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=str(p)) from None
    return decode_text(data, str(p))


def load_config(path: str | Path) -> Config:
    """Read and validate a config file. Raises `ConfigError` (often `ConfigErrors`). Scripts
    that enable_script_security disables are left out, each with a warning in the log."""
    config, disabled = load_config_disabled(path)
    for line in disabled:
        log.warning("%s", line)
    return config


def load_config_disabled(path: str | Path) -> tuple[Config, tuple[str, ...]]:
    """`load_config`, and a warning line (file:line: key: warning: ...) for each script that
    enable_script_security disabled, for the caller to show."""
    text = read_config_text(path, hint="pass the config file with -f FILE")
    config = load_config_text(text, str(path))
    # a file on disk is about to run here: its scripts must be safe to run here (keepalived
    # reads the script files when it loads its config, too)
    locate = Locator(text)
    errors = unknown_user_errors(config, locate)
    if errors:
        raise ConfigErrors(errors)
    config, disabled = disable_scripts(config)
    return config, tuple(d.line(str(path), locate) for d in disabled)


# The first word of a keepalived.conf block: given to check-config, say what to do with it.
_KEEPALIVED_HEAD = re.compile(
    r"^\s*(global_defs|vrrp_instance|vrrp_sync_group|vrrp_script|virtual_server(_group)?"
    r"|static_ipaddress|static_routes|include)\b[^=\n]*(\{|$)",
    re.MULTILINE,
)


def load_config_text(text: str, path: str = "<string>") -> Config:
    """Parse TOML text. `path` only names the file in errors and in `Config.path`."""
    try:
        data = parse_toml(text, path)
    except ConfigError as exc:  # nested too deep
        raise ConfigErrors([exc]) from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        detail = msg[: m.start()].strip() if m else msg
        if m:
            detail += f" (column {m.group(2)})"
        hint = "see https://toml.io; strings need quotes, tables [name], lists of tables [[name]]"
        if _KEEPALIVED_HEAD.search(text) and not text.lstrip().startswith("["):
            hint = (
                f"this looks like a keepalived.conf: `lvstui import-keepalived {path}` converts it"
            )
        raise ConfigErrors(
            [ConfigError(f"TOML syntax error: {detail}", file=path, line=line, hint=hint)]
        ) from None
    return load_config_data(data, path, Locator(text))


def load_config_data(data: dict[str, Any], path: str, line_of: LineOf | None = None) -> Config:
    """Validate already-parsed TOML data. `line_of` maps key paths to lines for errors."""
    ctx = Ctx(path, line_of or (lambda _p: None))
    cfg = build(ctx, Table(ctx, data, ()))
    if ctx.errors:
        raise ConfigErrors(ctx.errors)
    return with_script_user(cfg)
