"""Import keepalived.conf: its syntax in, our TOML data (and a validated Config) out.

Three steps, each small:

1. `tokenize` (`reader`, `lexer`): words, double-quoted strings, `{` and `}`, with `!`/`#`
   comments removed, `@ID` conditional lines kept or dropped, and `include GLOB` lines
   replaced by the included files' tokens. Every token remembers its file and line.
2. `parse` (`tree`): tokens → a tree of `Node(key, args, children)`.
3. `to_toml_data` (`convert`, with one module per section: `global_defs`, `vrrp`,
   `virtual_server`, `checks`): the tree → the dict that config.toml would parse to, plus a
   map from our key paths back to keepalived lines, so validation errors (done once, by
   `lvstui.config.load`) point into keepalived.conf. Directives we do not support become
   notes with their line (`notes`); nothing is dropped silently.
"""

from __future__ import annotations

from lvstui.config.keepalived.convert import to_toml_data
from lvstui.config.keepalived.importer import (
    ImportResult,
    default_config_id,
    import_keepalived,
    import_keepalived_text,
)
from lvstui.config.keepalived.lexer import Token
from lvstui.config.keepalived.notes import ImportNote
from lvstui.config.keepalived.reader import tokenize
from lvstui.config.keepalived.tree import Node, parse

__all__ = [
    "ImportNote",
    "ImportResult",
    "Node",
    "Token",
    "default_config_id",
    "import_keepalived",
    "import_keepalived_text",
    "parse",
    "to_toml_data",
    "tokenize",
]
