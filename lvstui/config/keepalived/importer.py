"""The entry points: read, parse, convert and validate a keepalived.conf; validation errors
(done once, by `lvstui.config.load`) point into keepalived.conf and its included files."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lvstui.config.keepalived.convert import to_toml_data
from lvstui.config.keepalived.lexer import Token
from lvstui.config.keepalived.notes import ImportNote
from lvstui.config.keepalived.reader import tokenize
from lvstui.config.keepalived.tree import parse
from lvstui.config.load import ConfigErrors, load_config_data, read_config_text
from lvstui.config.locate import KeyPath, format_key
from lvstui.config.schema import Config
from lvstui.config.scriptsec import disable_scripts
from lvstui.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ImportResult:
    data: dict[str, Any]  # what config.toml would parse to
    config: Config
    notes: tuple[ImportNote, ...]


def default_config_id() -> str:
    """keepalived's default config id (for `@ID` lines): the host name up to its first dot."""
    return socket.gethostname().split(".")[0]


def import_keepalived(path: str | Path, config_id: str | None = None) -> ImportResult:
    """`config_id`: keepalived's `-i ID`, which selects `@ID` lines; default: the host name."""
    text = read_config_text(path)
    return import_keepalived_text(text, str(path), config_id)


def import_keepalived_text(
    text: str, file: str = "<string>", config_id: str | None = None
) -> ImportResult:
    """Parse, map and validate. Raises ConfigError(s) naming keepalived.conf lines."""
    skipped: list[ImportNote] = []
    cid = default_config_id() if config_id is None else config_id
    extra: list[tuple[Token, str]] = []
    tree = parse(tokenize(text, file, config_id=cid, skipped=skipped), extra)
    for tok, hint in extra:
        skipped.append(
            ImportNote(
                tok.file,
                tok.line,
                "}",
                "no block is open here: keepalived ignores this extra `}` (\"Extra '}' found\") "
                f"and so does the import; {hint}",
            )
        )
    data, lines, notes = to_toml_data(tree)
    notes = skipped + notes

    def line_of(path: KeyPath) -> int | None:
        for n in range(len(path), 0, -1):
            hit = lines.get(path[:n])
            if hit is not None:
                return hit[1]
        return None

    try:
        config = load_config_data(data, file, line_of)
    except ConfigErrors as exc:
        # Errors inside included files must name those files: re-home each one.
        fixed = []
        by_key = {format_key(k): v for k, v in lines.items()}
        for e in exc.errors:
            where = _lookup(by_key, e.key)
            fixed.append(
                ConfigError(
                    e.detail,
                    file=where[0] if where else file,
                    line=where[1] if where else e.line,
                    key=e.key,
                    hint=e.hint,
                )
            )
        raise ConfigErrors(fixed) from None
    notes += _disabled_notes(config, lines, file)
    return ImportResult(data=data, config=config, notes=tuple(notes))


def _disabled_notes(
    config: Config, lines: dict[KeyPath, tuple[str, int]], file: str
) -> list[ImportNote]:
    """The scripts enable_script_security disables on this host, as keepalived does here
    (scripts missing here are not noted: the file may be converted away from its host;
    check-config and the daemon say so where it runs)."""
    by_key = {format_key(k): v for k, v in lines.items()}
    out = []
    for d in (d for d in disable_scripts(config)[1] if d.insecure):
        where = _lookup(by_key, format_key(d.path)) or (file, 0)
        out.append(ImportNote(where[0], where[1], format_key(d.path), d.message()))
    return out


def _lookup(by_key: dict[str, tuple[str, int]], key: str) -> tuple[str, int] | None:
    while key:
        if key in by_key:
            return by_key[key]
        cut = max(key.rfind("."), key.rfind("["))
        if cut <= 0:
            return None
        key = key[:cut]
    return None
