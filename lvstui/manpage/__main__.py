"""python -m lvstui.manpage [--write | --check] [--dir DIR]: print, write or check the pages."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lvstui.manpage import PAGES

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lvstui.manpage")
    p.add_argument("--dir", default="man", help="where the pages live (default: man)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--write", action="store_true", help="rewrite the pages in DIR")
    g.add_argument("--check", action="store_true", help="exit 1 if a page in DIR is stale")
    args = p.parse_args(argv)
    stale = []
    for name, make in PAGES.items():
        text = make()
        path = Path(args.dir) / name
        if args.write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        elif args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            sys.stdout.write(text)
    if stale:
        print(f"stale: {', '.join(stale)}; run python -m lvstui.manpage --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
