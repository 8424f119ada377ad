"""Screenshots of the console: the app's own SVG export, in the colours a terminal shows.

Textual exports what it would draw on a truecolor terminal. Over SSH many terminals announce
256 colours (TERM=xterm-256color) or only the 16 ANSI ones, and Rich then maps every colour
to the nearest one the terminal has (`rich.color.Color.downgrade`): that mapping is what
turned the old dark theme teal and navy. `downgrade_svg` applies the same mapping to an
exported SVG, so a snapshot test or a screenshot shows what such a terminal shows (the 16
ANSI colours drawn in Rich's default terminal palette).

`capture` drives a console on a deterministic `FakeClient` into one of the documented
`SCENES` and returns its SVG; `scripts/screenshots` turns them into the PNGs of docs/.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Final

from rich.color import Color, ColorSystem
from rich.terminal_theme import DEFAULT_TERMINAL_THEME

from lvstui.model import Drain, Health
from lvstui.ui.app import LvstuiApp
from lvstui.ui.fake import FakeClient
from lvstui.ui.render import real_row_key
from lvstui.ui.widgets import ServiceTable

__all__ = ["COLOR_SYSTEMS", "SCENES", "ScreenshotApp", "capture", "downgrade_svg"]

COLOR_SYSTEMS: Final = {
    "truecolor": ColorSystem.TRUECOLOR,
    "256": ColorSystem.EIGHT_BIT,
    "16": ColorSystem.STANDARD,
}
_HEX = re.compile(r"#[0-9a-fA-F]{6}\b")


def downgrade_svg(svg: str, colors: str) -> str:
    """`svg` with every #rrggbb colour replaced by what a `colors` terminal draws for it."""
    system = COLOR_SYSTEMS[colors]
    if system is ColorSystem.TRUECOLOR:
        return svg
    seen: dict[str, str] = {}

    def sub(match: re.Match[str]) -> str:
        value = match.group(0).lower()
        if value not in seen:
            color = Color.parse(value).downgrade(system)
            seen[value] = color.get_truecolor(DEFAULT_TERMINAL_THEME).hex
        return seen[value]

    return _HEX.sub(sub, svg)


class ScreenshotApp(LvstuiApp):
    """The console, whose screenshots come in the colours of a `colors` terminal."""

    def __init__(self, client: FakeClient, colors: str = "truecolor", theme: str | None = None):
        if colors not in COLOR_SYSTEMS:
            raise ValueError(f"colors: one of {', '.join(COLOR_SYSTEMS)}, not {colors!r}")
        super().__init__(client, theme=theme, auto_poll=False)
        self.terminal_colors = colors
        self.fake = client
        self._fed = 0  # events of the fake's `recent` already in the log (no events worker)

    def feed_events(self) -> None:
        recent = self.fake.recent
        self._fed = min(self._fed, len(recent))
        self.add_events(recent[self._fed :])
        self._fed = len(recent)

    def export_screenshot(self, *, title: str | None = None, simplify: bool = False) -> str:
        svg = super().export_screenshot(title=title, simplify=simplify)
        return downgrade_svg(svg, self.terminal_colors)


def scene_client() -> FakeClient:
    """Three services of three servers, one of them down: every mark of the table shows."""
    client = FakeClient(3, 3)
    client.set_health(1, 2, Health.DOWN, "connection refused")
    client.tick(2)
    return client


async def _ticks(app: ScreenshotApp, n: int) -> None:
    for _ in range(n):
        app.fake.tick()
        await app.poll_once()
        app.feed_events()


def _select(app: ScreenshotApp, service: int, real: int) -> None:
    s = app.fake.services[service]
    app.main.query_one(ServiceTable).select_key(real_row_key(s.key, s.reals[real].key))


async def _main(app: ScreenshotApp) -> list[str]:
    await _ticks(app, 12)
    return []


async def _drain(app: ScreenshotApp) -> list[str]:
    """A drain under way: its row counting down, the event log following it."""
    await _ticks(app, 12)
    s = app.fake.services[0]
    await app.fake.call(Drain(s.key, s.reals[2].key))
    await _ticks(app, 2)
    _select(app, 0, 2)
    return []


async def _drill_down(app: ScreenshotApp) -> list[str]:
    """A real server's drill-down after a minute of samples: charts, checks, config."""
    await _ticks(app, 4)
    _select(app, 0, 1)
    return ["enter"]


async def _drill_down_more(app: ScreenshotApp) -> None:
    await _ticks(app, 60)


# what to do before the keys (returns them), and after them
Scene = tuple[
    Callable[[ScreenshotApp], Awaitable[list[str]]],
    Callable[[ScreenshotApp], Awaitable[None]] | None,
]
SCENES: Final[dict[str, Scene]] = {
    "main": (_main, None),
    "drain": (_drain, None),
    "drill-down": (_drill_down, _drill_down_more),
}


async def capture(
    scene: str,
    size: tuple[int, int] = (120, 36),
    colors: str = "truecolor",
    theme: str | None = None,
) -> str:
    """The SVG of `scene` at `size` (columns, rows) in a `colors` terminal."""
    before, after = SCENES[scene]
    app = ScreenshotApp(scene_client(), colors, theme)
    async with app.run_test(size=size) as pilot:
        await app.poll_once()
        await pilot.pause()
        keys = await before(app)
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
        if after is not None:
            await after(app)
        # Settle: some widgets size themselves when the app is idle (the VRRP table's column
        # widths), which on a busy host may come after the first export: take the picture
        # once two in a row agree.
        title = f"lvstui — {scene}"
        svg = ""
        for _ in range(10):
            await pilot.pause()
            await pilot.wait_for_scheduled_animations()
            again = app.export_screenshot(title=title)
            if again == svg:
                break
            svg = again
        return svg
