from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from lvstui.errors import ConfigError
from lvstui.ui.themes import SHIPPED, load_themes, parse_theme
from tests.helpers import REPO


def test_shipped_themes_load_by_name() -> None:
    themes = load_themes()
    assert list(themes)[:3] == list(SHIPPED)
    assert themes["dark"].dark and not themes["light"].dark
    assert themes["high-contrast"].background == "#000000"


def test_package_copies_match_the_documented_themes_dir() -> None:
    # themes/ is where operators look; lvstui/ui/themes/ is what an installed package ships.
    top = REPO / "themes"
    pkg = REPO / "lvstui" / "ui" / "themes"
    names = sorted(p.name for p in top.glob("*.toml"))
    assert names == sorted(p.name for p in pkg.glob("*.toml"))
    _match, mismatch, errors = filecmp.cmpfiles(top, pkg, names, shallow=False)
    assert (mismatch, errors) == ([], []), "copy themes/*.toml to lvstui/ui/themes/"


def test_package_dir_alone_is_enough() -> None:
    themes = load_themes([REPO / "lvstui" / "ui" / "themes"])
    assert set(SHIPPED) <= set(themes)


def test_user_theme_dir_overrides_and_adds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine.toml").write_text('primary = "#123456"\n')
    (tmp_path / "dark.toml").write_text('name = "dark"\nprimary = "#ff0000"\n')
    monkeypatch.setenv("LVSTUI_THEMES", str(tmp_path))
    themes = load_themes()
    assert themes["mine"].primary == "#123456"
    assert themes["dark"].primary == "#ff0000"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('primary = "#fff"\ncolour = "x"\n', "unknown theme field"),
        ("dark = true\n", "at least `primary`"),
        ("primary = \n", "cannot read theme"),
    ],
)
def test_bad_theme_file_is_a_config_error(tmp_path: Path, body: str, needle: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(body)
    with pytest.raises(ConfigError, match=needle) as info:
        parse_theme(p)
    assert str(p) in str(info.value)
