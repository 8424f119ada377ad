"""A whole keepalived.conf → tokens: keepalived's conditional lines (`@ID directive`) kept or
dropped for one config id, its parameters (`$NAME=value` defines, `$NAME` as a whole word or
`${NAME}` anywhere uses, block headers included) expanded, and `include GLOB` lines
replaced by the included files' tokens (globs relative to the including file, like
keepalived)."""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from lvstui.config.keepalived.lexer import Token, tokens_of_line
from lvstui.config.keepalived.notes import ImportNote
from lvstui.config.limits import ReadBudget
from lvstui.config.load import decode_text
from lvstui.errors import ConfigError

MAX_INCLUDE_DEPTH = 8
# keepalived's parameters: a line `$NAME=value` defines NAME (for the rest of the file and
# the files it includes); `${NAME}` is replaced anywhere in a line, `$NAME` where it is a
# whole word (keepalived leaves `$VIP/24` alone: the name would run to the next space).
DEFINE = re.compile(r"\s*\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
USE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|(?<!\S)\$([A-Za-z_][A-Za-z0-9_]*)(?!\S)")
MAX_EXPANSIONS = 64  # a parameter whose value uses itself stops here, as a loop would not
# parameters defined from each other double at every step: a line that grows past this is an
# error, not a read that fills the memory
MAX_EXPANDED_LINE = 64 * 1024


def expand(raw: str, params: dict[str, str], file: str = "<string>", line: int = 0) -> str:
    """Replace the parameters a line uses; an unknown one stays as written (as keepalived)."""
    for _ in range(MAX_EXPANSIONS):
        new = USE.sub(lambda m: params.get(m.group(1) or m.group(2), m.group(0)), raw)
        if len(new) > MAX_EXPANDED_LINE:
            raise ConfigError(
                f"parameters expand this line past {MAX_EXPANDED_LINE // 1024} KiB",
                file=file,
                line=line,
                hint="a $NAME defined from itself, or from names that double at every step?",
            )
        if new == raw:
            break
        raw = new
    return raw


def tokenize(
    text: str,
    file: str = "<string>",
    _depth: int = 0,
    *,
    config_id: str | None = None,
    skipped: list[ImportNote] | None = None,
    budget: ReadBudget | None = None,
    params: dict[str, str] | None = None,
) -> list[Token]:
    """Words, quoted strings and braces. keepalived's conditional lines (`@ID directive`,
    `@^ID directive`) are kept when they are for `config_id` (keepalived's `-i ID`) and
    dropped otherwise (the line only, as keepalived does); each dropped line is added to
    `skipped` as a note. Included files are read against `budget` (one for the whole
    configuration: includes that include each other or a glob that matches too much are
    an error, not an endless read)."""
    if budget is None:
        budget = ReadBudget()
    tokens: list[Token] = []
    params = {} if params is None else params
    for lineno, raw in enumerate(text.splitlines(), 1):
        define = DEFINE.match(raw)
        if define:
            params[define.group(1)] = expand(define.group(2).strip(), params, file, lineno)
            continue
        if "$" in raw:
            raw = expand(raw, params, file, lineno)
        line_tokens = tokens_of_line(raw, file, lineno)
        if line_tokens and line_tokens[0].text.startswith("@") and not line_tokens[0].quoted:
            tag = line_tokens[0].text[1:]
            wanted = tag[1:] != config_id if tag.startswith("^") else tag == config_id
            if not wanted:
                # Only the line goes, as in keepalived: two alternative block headers
                # (`@lb1 real_server A 80 {` / `@lb2 real_server B 80 {`) share one body.
                if skipped is not None:
                    whose = f"every config id but {tag[1:]!r}" if tag.startswith("^") else repr(tag)
                    skipped.append(
                        ImportNote(
                            file,
                            lineno,
                            line_tokens[0].text,
                            f"for {whose}, and this import is for {config_id!r} (keepalived's "
                            "-i): line skipped",
                        )
                    )
                continue
            line_tokens = line_tokens[1:]
        if line_tokens and line_tokens[0].text == "include" and not line_tokens[0].quoted:
            tokens.extend(
                include(line_tokens, file, lineno, _depth, config_id, skipped, budget, params)
            )
        else:
            tokens.extend(line_tokens)
    return tokens


def include(
    line_tokens: list[Token],
    file: str,
    lineno: int,
    depth: int,
    config_id: str | None,
    skipped: list[ImportNote] | None,
    budget: ReadBudget,
    params: dict[str, str],
) -> list[Token]:
    if len(line_tokens) != 2:
        raise ConfigError("include takes one file name or glob", file=file, line=lineno)
    if depth >= MAX_INCLUDE_DEPTH:
        raise ConfigError(
            f"includes nested deeper than {MAX_INCLUDE_DEPTH} levels (a loop?)",
            file=file,
            line=lineno,
        )
    pattern = line_tokens[1].text
    base = Path(file).parent if file != "<string>" else Path.cwd()
    full = pattern if os.path.isabs(pattern) else str(base / pattern)
    out: list[Token] = []
    names = sorted(glob.glob(full))
    if not names:
        # keepalived goes on ("Config files missing"): so do we, but leave a directive the
        # mapping step turns into a note, so the operator sees it
        return [Token("include", file, lineno), Token(pattern, file, lineno, quoted=True)]
    for name in names:
        try:
            text = decode_text(budget.read(name), name)
        except OSError as exc:
            raise ConfigError(
                f"cannot read included file {name}: {exc.strerror or exc}", file=file, line=lineno
            ) from None
        out.extend(
            tokenize(
                text,
                name,
                depth + 1,
                config_id=config_id,
                skipped=skipped,
                budget=budget,
                params=params,
            )
        )
    return out
