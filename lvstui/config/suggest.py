"""Did-you-mean hints: the closest known word to a misspelt one."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word.lower(), [c.lower() for c in choices], n=1)
    if close:
        real = next(c for c in choices if c.lower() == close[0])
        return f"did you mean `{real}`?"
    return ""
