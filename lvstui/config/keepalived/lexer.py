"""One line of keepalived.conf → tokens: words, double-quoted strings, `{` and `}`, with
`!`/`#` comments removed. Every token remembers its file and line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lvstui.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    file: str
    line: int
    quoted: bool = False

    @property
    def brace(self) -> str:
        return "" if self.quoted or self.text not in ("{", "}") else self.text


WORD = re.compile(r'"((?:[^"\\]|\\.)*)"|([{}])|([^\s{}"!#]+)|([!#])')


def tokens_of_line(raw: str, file: str, lineno: int) -> list[Token]:
    line_tokens: list[Token] = []
    pos = 0
    while pos < len(raw):
        if raw[pos].isspace():
            pos += 1
            continue
        m = WORD.match(raw, pos)
        if m is None:  # an unterminated quote
            raise ConfigError(
                "unterminated quoted string", file=file, line=lineno, hint='close it with "'
            )
        if m.group(4):  # a comment runs to the end of the line
            break
        if m.group(1) is not None:
            line_tokens.append(Token(m.group(1).replace('\\"', '"'), file, lineno, True))
        else:
            line_tokens.append(Token(m.group(2) or m.group(3), file, lineno))
        pos = m.end()
    return line_tokens
