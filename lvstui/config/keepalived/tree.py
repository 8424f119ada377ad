"""Tokens → a tree of `Node(key, args, children)`. A statement is a line; a `{` that follows it
(same line or the next, as in the tutorial's `HTTP_GET` / `{`) opens its block. A `}` with no
open block is an error naming its line: the tutorial's virtual_server example has one."""

from __future__ import annotations

from dataclasses import dataclass, field

from lvstui.config.keepalived.lexer import Token
from lvstui.errors import ConfigError


@dataclass(slots=True)
class Node:
    key: str
    args: list[str]
    file: str
    line: int
    children: list[Node] | None = None  # None: no block
    quoted: list[bool] = field(default_factory=list)  # per arg: was it a "quoted string"


def parse(tokens: list[Token], extra: list[tuple[Token, str]] | None = None) -> list[Node]:
    """Tokens → the block tree. An extra `}` where no block is open is what keepalived
    reports ("Extra '}' found") and runs past: given `extra`, so does this, adding the brace
    and a hint there; without, it is an error naming its line."""
    root: list[Node] = []
    stack: list[tuple[list[Node], Node | None]] = [(root, None)]
    last_closed: Node | None = None
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        body = stack[-1][0]
        if tok.brace == "}":
            opener = stack[-1][1]
            if opener is None:
                hint = "remove this brace"
                if last_closed is not None:
                    hint = (
                        f"the `{last_closed.key}` block opened at line {last_closed.line} "
                        "is already closed; remove this brace"
                    )
                if extra is None:
                    raise ConfigError(
                        "unexpected `}`: no block is open here",
                        file=tok.file,
                        line=tok.line,
                        hint=hint,
                    )
                extra.append((tok, hint))
                i += 1
                continue
            stack.pop()
            if len(stack) == 1:
                last_closed = opener
            i += 1
            continue
        if tok.brace == "{":
            raise ConfigError(
                "`{` without a directive before it",
                file=tok.file,
                line=tok.line,
                hint="a block starts with its name: `real_server 192.0.2.1 80 {`",
            )
        j = i + 1
        args: list[str] = []
        quoted: list[bool] = []
        while (
            j < n
            and tokens[j].line == tok.line
            and tokens[j].file == tok.file
            and not tokens[j].brace
        ):
            args.append(tokens[j].text)
            quoted.append(tokens[j].quoted)
            j += 1
        node = Node(tok.text, args, tok.file, tok.line, quoted=quoted)
        body.append(node)
        if j < n and tokens[j].brace == "{":
            node.children = []
            stack.append((node.children, node))
            j += 1
        i = j
    if len(stack) > 1:
        opener = stack[-1][1]
        assert opener is not None
        raise ConfigError(
            f"the `{opener.key}` block opened here is never closed",
            file=opener.file,
            line=opener.line,
            hint="add the missing `}`",
        )
    return root
