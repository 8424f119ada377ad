"""Snapshots of the event log's full-screen view and of the table sorted by a column with
names from config at 200 columns (time frozen, the app pulls each snapshot itself)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot

from lvstui.model import DrainProgress, DrainState, Health, LogEvent
from lvstui.ui.app import LvstuiApp
from lvstui.ui.fake import FakeClient


def _client() -> FakeClient:
    client = FakeClient(3, 3)
    client.services[0].name = "web-frontend-production"
    client.services[0].reals[0].name = "web-01.rack3"
    client.set_health(1, 2, Health.DOWN, "connection refused")
    client.tick(2)
    return client


def _prepare(client: FakeClient, *keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, LvstuiApp)
        await app.poll_once()
        s, r = client.services[0], client.services[0].reals[1]
        app.add_events(
            [
                *(
                    DrainProgress(client.time + i, s.key, r.key, DrainState.DRAINING, 9 - i, 1)
                    for i in range(5)
                ),
                LogEvent(client.time + 5, "warning", "VI_WEB: advert dropped (bad auth)"),
                DrainProgress(client.time + 6, s.key, r.key, DrainState.SAFE, 0, 0),
            ]
        )
        await pilot.pause()
        for k in keys:
            await pilot.press(k)
        await pilot.pause()

    return run_before


def test_full_screen_log(snap_compare: Any) -> None:
    client = _client()
    assert snap_compare(
        LvstuiApp(client, auto_poll=False),
        terminal_size=(120, 36),
        run_before=_prepare(client, "l"),
    )


def test_sorted_by_active_with_names_at_200_columns(snap_compare: Any) -> None:
    client = _client()
    assert snap_compare(
        LvstuiApp(client, auto_poll=False),
        terminal_size=(200, 30),
        run_before=_prepare(client, "s", "s", "s"),
    )
