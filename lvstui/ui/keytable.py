"""Generate the console manual's key table from `lvstui.ui.bindings.ACTIONS`.

python -m lvstui.ui.keytable            print the table
python -m lvstui.ui.keytable --write    rewrite it in docs/console.md (between the markers)
python -m lvstui.ui.keytable --check    exit 1 if docs/console.md's table is stale (CI)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lvstui.ui.bindings import ACTIONS, display_keys

__all__ = ["END", "START", "key_table", "main", "readme_table", "replace_table"]

START = "<!-- keys:start -->"
END = "<!-- keys:end -->"


def key_table() -> str:
    lines = [
        "| Key | Action | What it does | Read-only |",
        "|---|---|---|---|",
    ]
    for a in ACTIONS:
        ro = "hidden" if a.changes else "yes"
        key = " ".join(f"`{k}`" for k in display_keys(a, {}))
        lines.append(f"| {key} | `{a.action}` | {a.description} | {ro} |")
    return "\n".join(lines) + "\n"


def readme_table(text: str) -> str | None:
    """The table currently between the markers (None when the markers are missing)."""
    start = text.find(START)
    end = text.find(END)
    if start < 0 or end < start:
        return None
    return text[start + len(START) : end].strip("\n") + "\n"


def replace_table(text: str) -> str:
    start = text.find(START)
    end = text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no {START} … {END} markers")
    return text[: start + len(START)] + "\n" + key_table() + text[end:]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lvstui.ui.keytable")
    # --readme: the option's name from when the table lived in README.md
    p.add_argument("--file", "--readme", dest="file", default="docs/console.md")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--write", action="store_true")
    g.add_argument("--check", action="store_true")
    args = p.parse_args(argv)
    if not (args.write or args.check):
        sys.stdout.write(key_table())
        return 0
    path = Path(args.file)
    text = path.read_text(encoding="utf-8")
    if args.write:
        path.write_text(replace_table(text), encoding="utf-8")
        return 0
    if readme_table(text) != key_table():
        print(f"{path}: key table is stale; run python -m lvstui.ui.keytable --write")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
