"""Appearance: SVG snapshots (pytest-textual-snapshot) at 120×36, 80×24 and 60×20, time frozen,
and as 256-colour and 16-colour terminals show them (`lvstui.ui.screenshot.ScreenshotApp`:
the SVG's colours mapped the way Rich maps them for such a terminal).

The FakeClient is deterministic (fixed start time, no auto tick), the app does not poll by
itself (`auto_poll=False`: each snapshot is pulled explicitly), TZ is UTC and the cursor does
not blink (conftest). Regenerate after an intended change with
`pytest tests/ui/test_snapshots.py --snapshot-update` and review the SVGs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from lvstui.model import DrainProgress, DrainState, Health, OperatorAction
from lvstui.ui.app import LvstuiApp
from lvstui.ui.fake import FakeClient
from lvstui.ui.render import real_row_key
from lvstui.ui.screenshot import ScreenshotApp
from lvstui.ui.widgets import ServiceTable

SIZES = [(120, 36), (80, 24)]
SMALL = (60, 20)


def _client() -> FakeClient:
    client = FakeClient(3, 3)
    client.set_health(1, 2, Health.DOWN, "connection refused")
    client.tick(2)
    return client


def _app(client: FakeClient, **kw: Any) -> LvstuiApp:
    return LvstuiApp(client, auto_poll=False, **kw)


def _prepare(
    client: FakeClient,
    *keys: str,
    cursor: tuple[int, int] | None = None,
    ticks: int = 0,
    ticks_after: int = 0,
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, LvstuiApp)
        for _ in range(ticks + 1):
            await app.poll_once()
            client.tick()
        s = client.services[0]
        app.add_events(
            [
                OperatorAction(client.time, "alice", f"drain {s.key} {s.reals[0].key}", True),
                DrainProgress(client.time, s.key, s.reals[0].key, DrainState.SAFE, 0, 0),
            ]
        )
        await app.poll_once()
        if cursor is not None:
            i, j = cursor
            key = real_row_key(client.services[i].key, client.services[i].reals[j].key)
            app.main.query_one(ServiceTable).select_key(key)
        await pilot.pause()
        for k in keys:
            await pilot.press(k)
        for _ in range(ticks_after):  # the drill-down records rates while it is open
            client.tick()
            await app.poll_once()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", [*SIZES, SMALL], ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    client = _client()
    assert snap_compare(_app(client), terminal_size=size, run_before=_prepare(client))


@pytest.mark.parametrize("size", [*SIZES, SMALL], ids=lambda s: f"{s[0]}x{s[1]}")
def test_drill_down(snap_compare: Any, size: tuple[int, int]) -> None:
    client = _client()
    assert snap_compare(
        _app(client),
        terminal_size=size,
        run_before=_prepare(client, "enter", cursor=(0, 1), ticks=8, ticks_after=8),
    )


@pytest.mark.parametrize("size", [*SIZES, SMALL], ids=lambda s: f"{s[0]}x{s[1]}")
def test_help(snap_compare: Any, size: tuple[int, int]) -> None:
    client = _client()
    assert snap_compare(
        _app(client), terminal_size=size, run_before=_prepare(client, "question_mark")
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_drain_confirm_dialog(snap_compare: Any, size: tuple[int, int]) -> None:
    client = _client()
    assert snap_compare(
        _app(client), terminal_size=size, run_before=_prepare(client, "d", cursor=(0, 1))
    )


def test_high_contrast_80x24(snap_compare: Any) -> None:
    client = _client()
    assert snap_compare(
        _app(client, theme="high-contrast"), terminal_size=(80, 24), run_before=_prepare(client)
    )


def test_no_color_80x24(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    client = _client()
    app = _app(client)
    assert app.no_color
    assert snap_compare(app, terminal_size=(80, 24), run_before=_prepare(client))


@pytest.mark.parametrize("colors", ["256", "16"])
@pytest.mark.parametrize("theme", ["dark", "light"])
def test_main_screen_in_fewer_colours(snap_compare: Any, colors: str, theme: str) -> None:
    client = _client()
    app = ScreenshotApp(client, colors, theme)
    assert snap_compare(app, terminal_size=(120, 36), run_before=_prepare(client))


@pytest.mark.parametrize("colors", ["256", "16"])
def test_drill_down_in_fewer_colours(snap_compare: Any, colors: str) -> None:
    client = _client()
    assert snap_compare(
        ScreenshotApp(client, colors),
        terminal_size=(80, 24),
        run_before=_prepare(client, "enter", cursor=(0, 1), ticks=8, ticks_after=8),
    )
