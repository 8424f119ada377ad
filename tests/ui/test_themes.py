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


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize("name", SHIPPED)
def test_status_colours_are_readable_on_the_theme_background(name: str) -> None:
    """up/DOWN/draining are drawn in the theme's success/error/warning colours: each must stand
    out from the theme's background (WCAG 3:1, the bar for large/bold text)."""
    theme = load_themes()[name]
    assert theme.background is not None
    for colour in (theme.success, theme.warning, theme.error, theme.foreground):
        assert colour is not None
        assert _contrast(colour, theme.background) >= 3.0, (name, colour, theme.background)


async def test_cells_take_the_theme_colours_and_follow_a_theme_change() -> None:
    from rich.text import Text

    from lvstui.model import Health
    from lvstui.ui.fake import FakeClient
    from lvstui.ui.render import real_row_key
    from lvstui.ui.widgets import ServiceTable, VrrpTable
    from tests.ui.conftest import running

    client = FakeClient(2, 3)
    client.set_health(0, 1, Health.DOWN, "connection refused")
    client.tick()
    themes = load_themes()
    async with running(client, size=(80, 24), theme="light") as (app, pilot):
        table = app.main.query_one(ServiceTable)
        s = client.services[0]
        up, down = (real_row_key(s.key, s.reals[j].key) for j in (0, 1))

        def style(key: str, col: str = "status") -> str:
            cell = table.get_cell(key, col)
            assert isinstance(cell, Text), cell
            return str(cell.style)

        light = themes["light"]
        assert light.success and light.error
        assert light.success.lower() in style(up).lower()
        assert light.error.lower() in style(down).lower()
        assert light.error.lower() in style(down, "check").lower()
        app.theme = "high-contrast"
        await pilot.pause()
        await pilot.pause()
        hc = themes["high-contrast"]
        assert hc.success and hc.error
        assert hc.success.lower() in style(up).lower()
        assert hc.error.lower() in style(down).lower()
        vrrp = app.main.query_one(VrrpTable)
        master = vrrp.get_cell(client.vrrp[0].name, "state")
        assert str(master) == "MASTER"
        assert isinstance(master, Text) and hc.success.lower() in str(master.style).lower()
