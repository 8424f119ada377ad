"""Console themes: Textual themes described in TOML files, loaded by name.

Where they come from, first match wins (so an operator can override a shipped theme):

1. directories in `$LVSTUI_THEMES` (colon-separated),
2. `/etc/lvstui/themes/`,
3. `themes/` at the top of a source checkout (the documented place to edit them),
4. `lvstui/ui/themes/` inside the installed package (copies of 3, shipped as package data;
   a test keeps the two identical, because setuptools cannot ship files outside the package).

A file holds the fields of `textual.theme.Theme` (name, dark, primary, …, a [variables] table).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import fields
from pathlib import Path

from textual.theme import Theme

from lvstui.errors import ConfigError

__all__ = ["DEFAULT_THEME", "SHIPPED", "load_themes", "parse_theme", "theme_dirs"]

DEFAULT_THEME = "dark"
SHIPPED = ("dark", "light", "high-contrast")
_PACKAGE_DIR = Path(__file__).resolve().parent / "themes"
_CHECKOUT_DIR = Path(__file__).resolve().parent.parent.parent / "themes"
_FIELDS = {f.name for f in fields(Theme)}


def theme_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("LVSTUI_THEMES", "").split(":") if p]
    dirs += [Path("/etc/lvstui/themes"), _CHECKOUT_DIR, _PACKAGE_DIR]
    return [d for d in dirs if d.is_dir()]


def parse_theme(path: Path) -> Theme:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read theme: {exc}", file=str(path)) from None
    unknown = set(data) - _FIELDS
    if unknown:
        raise ConfigError(
            f"unknown theme field(s): {', '.join(sorted(unknown))}",
            file=str(path),
            hint="fields: " + ", ".join(sorted(_FIELDS)),
        )
    if "primary" not in data:
        raise ConfigError("a theme needs at least `primary`", file=str(path), key="primary")
    data.setdefault("name", path.stem)
    try:
        return Theme(**data)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid theme: {exc}", file=str(path)) from None


def load_themes(dirs: list[Path] | None = None) -> dict[str, Theme]:
    """name → Theme, shipped themes first (in SHIPPED order), then any others by name."""
    found: dict[str, Theme] = {}
    for d in theme_dirs() if dirs is None else dirs:
        for path in sorted(d.glob("*.toml")):
            theme = parse_theme(path)
            found.setdefault(theme.name, theme)
    ordered = {n: found[n] for n in SHIPPED if n in found}
    ordered.update({n: t for n, t in sorted(found.items()) if n not in ordered})
    return ordered
