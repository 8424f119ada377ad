"""keepalived's free-form hex strings (UDP_CHECK's payload and require_reply).

Whitespace separates groups; each group is read two digits a byte from its start, and a
group's odd last digit is a byte of its own: "Ab12f 3" is AB 12 0F 03. In a reply pattern
an X stands for any nibble.
"""

from __future__ import annotations

from lvstui.errors import ConfigError

__all__ = ["parse_hex"]

_HEX = frozenset("0123456789abcdefABCDEF")


def parse_hex(text: str, *, wildcard: bool = False) -> str:
    """keepalived's hex string as a normalised pattern: two upper-case characters a byte,
    `X` for a wildcard nibble (only with wildcard=True). ConfigError on anything else."""
    out: list[str] = []
    for group in text.split():
        for i in range(0, len(group), 2):
            pair = group[i : i + 2]
            if len(pair) == 1:
                pair = "0" + pair
            for ch in pair:
                if ch not in _HEX and not (wildcard and ch in "xX"):
                    raise ConfigError(
                        f"{text!r} is not a hex string ({ch!r})",
                        hint="hex digits" + (", or X for any nibble" if wildcard else ""),
                    )
            out.append(pair.upper())
    if not out:
        raise ConfigError("empty hex string", hint="give at least one byte, e.g. 0a")
    return "".join(out)
