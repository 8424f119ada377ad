"""Text to roff for man(7) pages: escapes, fonts, and paragraph macros.

Pages are plain ASCII: every other character is written as groff's `\\[uXXXX]`, so the
page renders the same whatever the reader's locale, and `groff -ww` has nothing to warn of.
"""

from __future__ import annotations

__all__ = ["bold", "escape", "italic", "paragraph", "section", "subsection", "tagged", "title"]

# characters whose plain form means something to roff, or renders wrongly in a man page
_SPECIAL = {"\\": "\\e", "-": "\\-", "'": "\\(aq", '"': "\\(dq", "`": "\\(ga", "~": "\\(ti"}
_SPECIAL.update({"^": "\\(ha"})


def escape(text: str) -> str:
    """Text to print as is, on one line (newlines become spaces)."""
    out = []
    for ch in " ".join(text.split("\n")):
        if ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append(f"\\[u{ord(ch):04X}]")
    line = "".join(out)
    # a line starting with . or ' is a request; \& makes it text
    return "\\&" + line if line[:1] in (".", "'") else line


def bold(text: str) -> str:
    return f"\\fB{escape(text)}\\fR"


def italic(text: str) -> str:
    return f"\\fI{escape(text)}\\fR"


def title(name: str, section: int, version: str, manual: str) -> str:
    # no hyphenation, ragged right: option names and paths stay whole and copyable
    return f'.TH {name.upper()} {section} "" "{version}" "{manual}"\n.nh\n.ad l\n'


def section(name: str) -> str:
    return f".SH {name.upper()}\n"


def subsection(text: str) -> str:
    return f'.SS "{escape(text)}"\n'


def paragraph(text: str) -> str:
    """A filled paragraph; `text` is escaped here, unless it is already roff (starts with \\f)."""
    return ".PP\n" + (text if text.startswith("\\f") else escape(text)) + "\n"


def tagged(tag: str, body: str) -> str:
    """A .TP item: `tag` is roff already (built with bold/italic), `body` plain text."""
    return f".TP\n{tag}\n{escape(body) if body else ''}\n".replace("\n\n", "\n")
