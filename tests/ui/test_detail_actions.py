"""Operator actions from the drill-down of a real server (FakeClient): drain with its progress
to "safe", undrain, weight, remove — the main screen's dialogs and read-only rule."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from lvstui.model import Drain, RemoveReal, SetWeight, Undrain
from lvstui.ui.app import LvstuiApp
from lvstui.ui.dialogs import ConfirmDialog, WeightDialog
from lvstui.ui.fake import FakeClient
from lvstui.ui.render import service_row_key
from lvstui.ui.screens import DetailScreen, HelpScreen, MainScreen
from tests.helpers import async_wait_until
from tests.ui.conftest import running
from tests.ui.test_app import first_real, notes, seq_after, table


def drain_text(app: LvstuiApp) -> str:
    box = app.screen.query_one("#detail-drain", Static)
    return str(box.render()) if box.display else ""


async def _open(app: LvstuiApp, pilot: object, key: str) -> DetailScreen:
    assert table(app).select_key(key)
    await pilot.press("enter")  # type: ignore[attr-defined]
    assert isinstance(app.screen, DetailScreen)
    return app.screen


async def test_drain_from_the_drill_down_shows_progress_until_safe() -> None:
    client = FakeClient(2, 3)
    client.drain_step = 4
    async with running(client) as (app, pilot):
        key, svc, real = first_real(client)
        await _open(app, pilot, key)
        assert drain_text(app) == ""  # nothing drained: no progress line
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")  # cancelled: back on the drill-down, nothing sent
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen) and client.calls == []
        await pilot.press("d")
        await pilot.press("y")
        await async_wait_until(lambda: bool(client.calls), 10)
        assert client.calls == [Drain(svc, real)]  # type: ignore[arg-type]
        assert isinstance(app.screen, DetailScreen)
        client.tick()
        await seq_after(app, client)
        await pilot.pause()
        first = drain_text(app)
        assert first.startswith("DRAINING [") and "active" in first, first
        seen = [first]
        for _ in range(20):
            client.tick()
            await seq_after(app, client)
            await pilot.pause()
            seen.append(drain_text(app))
            if seen[-1].startswith("SAFE"):
                break
        assert seen[-1].startswith("SAFE: no connection left"), seen
        # the bar filled up on the way (fewer connections left, more █)
        bars = [s[s.index("[") + 1 : s.index("]")].count("█") for s in seen if "[" in s]
        assert bars == sorted(bars) and len(bars) >= 2, seen
        assert app.screen.query_one("#detail-drain").has_class("-safe")
        await pilot.press("u")
        await async_wait_until(lambda: len(client.calls) == 2, 10)
        assert client.calls[-1] == Undrain(svc, real)  # type: ignore[arg-type]
        client.tick()
        await seq_after(app, client)
        await pilot.pause()
        assert drain_text(app) == ""


async def test_weight_and_remove_from_the_drill_down() -> None:
    client = FakeClient(1, 3)
    async with running(client) as (app, pilot):
        key, svc, real = first_real(client, 0, 2)
        await _open(app, pilot, key)
        await pilot.press("w")
        assert isinstance(app.screen, WeightDialog)
        await pilot.press("9", "enter")
        await async_wait_until(lambda: bool(client.calls), 10)
        assert client.calls == [SetWeight(svc, real, 9)]  # type: ignore[arg-type]
        client.tick()
        await seq_after(app, client)
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        cfg = str(app.screen.query_one("#detail-config", Static).render())
        assert "operator override 9" in cfg
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await async_wait_until(lambda: len(client.calls) == 2, 10)
        assert client.calls[-1] == RemoveReal(svc, real)  # type: ignore[arg-type]
        client.tick()
        await seq_after(app, client)
        await pilot.pause()
        assert "gone" in str(app.screen.query_one("#detail-config", Static).render())
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        assert key not in table(app).targets


async def test_drill_down_of_a_service_asks_for_a_server_and_has_help() -> None:
    client = FakeClient(1, 2)
    async with running(client) as (app, pilot):
        await _open(app, pilot, service_row_key(client.services[0].key))
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen) and client.calls == []
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("q")  # q leaves the drill-down, it does not quit the console
        assert isinstance(app.screen, MainScreen)


@pytest.mark.parametrize("how", ["client", "flag"])
async def test_read_only_drill_down_has_no_changing_action(how: str) -> None:
    client = FakeClient(1, 2, read_only=(how == "client"))
    async with running(client, read_only=(how == "flag")) as (app, pilot):
        key, _, _ = first_real(client, 0, 0)
        screen = await _open(app, pilot, key)
        bound = {b.binding.action for b in screen.active_bindings.values()}
        assert not bound & {"drain", "undrain", "weight", "remove"}
        for k in "duwx":
            await pilot.press(k)
            await pilot.pause()
            assert app.screen is screen, k
        assert client.calls == []
        # and an action reached some other way is still refused by the app
        screen.action_undrain()
        await pilot.pause()
        assert "read-only" in notes(app) and client.calls == []


async def test_remapped_keys_work_in_the_drill_down() -> None:
    client = FakeClient(1, 2)
    async with running(client, keys={"drain": "k", "back": "b"}) as (app, pilot):
        key, svc, real = first_real(client, 0, 0)
        await _open(app, pilot, key)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("k")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await async_wait_until(lambda: client.calls == [Drain(svc, real)], 10)  # type: ignore[arg-type]
        await pilot.press("b")
        assert isinstance(app.screen, MainScreen)
