"""The shipped themes read the same on truecolor, 256-colour and 16-colour terminals.

Rich maps a colour a terminal lacks to the nearest one it has (`Color.downgrade`), as it
writes the screen. The old dark theme's bluish greys became navy and teal on 256 colours
(its signal colours all grey on 16). These checks run the same mapping on the colours the
console's widgets are drawn with (Textual's variables generated from each theme).
"""

from __future__ import annotations

import pytest
from rich.color import Color, ColorSystem
from textual.color import Color as TextualColor

from lvstui.ui.themes import SHIPPED, load_themes

# The variables our screens are drawn with (app.tcss and Textual's widgets: table, footer,
# input, scrollbars, the row cursor).
USED = (
    "background",
    "surface",
    "panel",
    "foreground",
    "primary",
    "accent",
    "warning",
    "error",
    "success",
    "scrollbar",
    "scrollbar-hover",
    "scrollbar-background",
    "footer-background",
    "footer-key-foreground",
    "block-cursor-background",
    "border",
)
# 16 colours: the ANSI numbers a role may land on (normal or bright of one hue)
GREYS = {0, 7, 8, 15}
HUES = {"error": {1, 9}, "success": {2, 10}, "warning": {3, 11}}


def _colors(theme: str) -> dict[str, Color]:
    variables = load_themes()[theme].to_color_system().generate()
    return {k: Color.parse(TextualColor.parse(variables[k]).hex6) for k in USED}


def _distance(a: Color, b: Color) -> int:
    x, y = a.get_truecolor(), b.get_truecolor()
    return max(abs(x.red - y.red), abs(x.green - y.green), abs(x.blue - y.blue))


@pytest.mark.parametrize("theme", SHIPPED)
def test_256_colours_keep_every_colour_close(theme: str) -> None:
    far = {
        name: (c.get_truecolor().hex, c.downgrade(ColorSystem.EIGHT_BIT).get_truecolor().hex)
        for name, c in _colors(theme).items()
        if _distance(c, c.downgrade(ColorSystem.EIGHT_BIT)) > 12
    }
    assert far == {}, f"{theme}: colours a 256-colour terminal replaces with another one"


@pytest.mark.parametrize("theme", SHIPPED)
def test_16_colours_keep_greys_grey_and_signals_their_hue(theme: str) -> None:
    colors = _colors(theme)
    ansi = {name: c.downgrade(ColorSystem.STANDARD).number for name, c in colors.items()}
    for name in ("background", "surface", "panel", "foreground", "footer-background"):
        assert ansi[name] in GREYS, (theme, name, ansi[name])
    for name, hue in HUES.items():
        assert ansi[name] in hue, (theme, name, ansi[name])
    # the table (the surface, tinted when focused) stays on the terminal's own background
    # colour, not on bright black, where green and red text read poorly
    v = load_themes()[theme].to_color_system().generate()
    fg = TextualColor.parse(v["foreground"])
    focused = TextualColor.parse(v["surface"]).blend(fg, 0.05)  # DataTable:focus's tint
    assert Color.parse(focused.hex6).downgrade(ColorSystem.STANDARD).number == ansi["background"]
    assert ansi["surface"] == ansi["background"], theme
    # the background and the text stay apart (one dark, one light)
    assert (ansi["background"] in {0, 8}) != (ansi["foreground"] in {0, 8})
