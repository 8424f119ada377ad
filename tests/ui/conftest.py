"""Console tests: frozen time zone, no cursor blink, no inherited NO_COLOR."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from lvstui.control.client import EngineClient
from lvstui.ui.app import LvstuiApp
from tests.helpers import async_wait_until


@pytest.fixture(autouse=True)
def _deterministic_terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")  # event and status times render the same everywhere
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("LVSTUI_THEMES", raising=False)
    # A blinking cursor would make screenshots depend on when they are taken.
    monkeypatch.setattr(Input.cursor_blink, "_default", False)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@asynccontextmanager
async def running(
    client: EngineClient, size: tuple[int, int] = (120, 36), **kwargs: Any
) -> AsyncIterator[tuple[LvstuiApp, Pilot[int]]]:
    """The console on `client`, polling fast, after its first snapshot is on screen."""
    kwargs.setdefault("poll_interval", 0.1)
    kwargs.setdefault("retry_interval", 0.05)
    app = LvstuiApp(client, **kwargs)
    async with app.run_test(size=size) as pilot:
        await async_wait_until(lambda: app.snapshot is not None, 10)
        await pilot.pause()
        yield app, pilot
    assert app.display_errors == []
