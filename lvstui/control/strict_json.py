"""JSON from a peer, strictly: finite numbers only, nesting bounded.

Python's `json` accepts ``NaN``, ``Infinity`` and ``-Infinity`` (and turns ``1e999`` into
infinity); a weight or a drain deadline of NaN then reaches the engine, and the audit line,
written with ``allow_nan=False``, fails after the change was applied. Deep nesting
(``[[[[…``) makes the parser recurse until RecursionError. Both are refused here, at the
edge, with a message that says what was wrong, before anything else reads the value.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

__all__ = ["MAX_DEPTH", "StrictJSONError", "loads"]

MAX_DEPTH: Final = 32  # a command is 3 or 4 levels deep; snapshots never come this way


class StrictJSONError(ValueError):
    """The text is JSON (or nearly) but breaks a rule: a non-finite number, too deep."""


def _constant(name: str) -> Any:
    raise StrictJSONError(f"{name} is not a number JSON allows (finite numbers only)")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJSONError(f"{text[:40]} is out of range for a number (finite numbers only)")
    return value


def _depth_ok(text: str | bytes, limit: int) -> bool:
    """Whether brackets outside strings nest at most `limit` deep. Linear, no recursion:
    checked before parsing, so the parser never recurses deeper than `limit`."""
    raw = text.encode() if isinstance(text, str) else text
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return True


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads`, refusing non-finite numbers and nesting deeper than `max_depth`.
    ValueError (StrictJSONError for the two rules) for anything it refuses."""
    if not _depth_ok(text, max_depth):
        raise StrictJSONError(f"nested deeper than {max_depth} levels")
    return json.loads(text, parse_constant=_constant, parse_float=_float)
