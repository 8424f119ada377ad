"""Pilot tests of every console action against the FakeClient."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Input, Label, Static

from lvstui.errors import ControlError
from lvstui.model import (
    AddReal,
    CommandResult,
    Drain,
    Health,
    RealKey,
    Reload,
    RemoveReal,
    SetWeight,
    Undrain,
)
from lvstui.ui.app import LvstuiApp
from lvstui.ui.dialogs import AddDialog, CommandDialog, ConfirmDialog, WeightDialog
from lvstui.ui.fake import FakeClient
from lvstui.ui.logview import EventLog
from lvstui.ui.render import real_row_key, service_row_key
from lvstui.ui.screens import DetailScreen, HelpScreen, MainScreen
from lvstui.ui.widgets import ServiceTable
from tests.helpers import async_wait_until
from tests.ui.conftest import running


def table(app: LvstuiApp) -> ServiceTable:
    return app.main.query_one(ServiceTable)


def cell(app: LvstuiApp, row_key: str, col: str) -> str:
    return str(table(app).get_cell(row_key, col))


def notes(app: LvstuiApp) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


async def seq_after(app: LvstuiApp, client: FakeClient) -> None:
    """Wait until the console shows the client's current state."""
    await async_wait_until(lambda: app.snapshot is not None and app.snapshot.seq == client.seq, 10)


async def type_text(app: LvstuiApp, pilot: object, text: str) -> None:
    """Put text in the focused Input (pressing 30 keys one by one is slow and adds nothing)."""
    focused = app.focused
    assert isinstance(focused, Input), focused
    focused.value = text
    await pilot.pause()  # type: ignore[attr-defined]


def first_real(client: FakeClient, i: int = 0, j: int = 1) -> tuple[str, object, RealKey]:
    s = client.services[i]
    r = s.reals[j]
    return real_row_key(s.key, r.key), s.key, r.key


async def test_table_lists_every_service_and_server() -> None:
    client = FakeClient(3, 4)
    async with running(client) as (app, _pilot):
        assert table(app).row_count == 3 * (1 + 4)
        svc = client.services[1]
        assert cell(app, service_row_key(svc.key), "addr").startswith("TCP 192.0.2.2:80 api")
        key, _, _real = first_real(client, 1, 2)
        assert cell(app, key, "fwd") == "Masq"
        assert cell(app, key, "status") == "up"
        assert "ok" in cell(app, key, "check")
        status = str(app.main.query_one("#status", Static).render())
        assert "fake engine" in status and "3 services, 12 servers" in status


async def test_in_place_update_keeps_the_cursor_row() -> None:
    client = FakeClient(3, 3)
    async with running(client) as (app, pilot):
        t = table(app)
        for _ in range(6):
            await pilot.press("down")
        key = t.cursor_key
        assert key is not None and key.startswith("r|")
        before = t.cell_updates
        client.tick()
        await seq_after(app, client)
        await pilot.pause()
        assert t.cell_updates > before  # cells really were rewritten…
        assert t.cursor_key == key  # …and the cursor did not move
        # A server appears in the FIRST service (a row inserted above the cursor).
        await client.call(AddReal(client.services[0].key, RealKey("198.51.100.240", 80), 2))
        client.tick()
        await seq_after(app, client)
        await pilot.pause()
        assert t.row_count == 3 * 4 + 1
        assert t.cursor_key == key
        # …and one above the cursor goes away.
        s0 = client.services[0]
        await client.call(RemoveReal(s0.key, s0.reals[0].key))
        client.tick()
        await seq_after(app, client)
        await pilot.pause()
        assert t.row_count == 3 * 4
        assert t.cursor_key == key


async def test_drain_asks_then_shows_progress_until_safe() -> None:
    client = FakeClient(2, 3)
    client.drain_step = 4
    async with running(client) as (app, pilot):
        key, svc, real = first_real(client)
        assert table(app).select_key(key)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await async_wait_until(lambda: bool(client.calls), 10)
        assert client.calls == [Drain(svc, real)]  # type: ignore[arg-type]
        client.tick()
        await seq_after(app, client)
        assert cell(app, key, "status").startswith("drain ")
        for _ in range(20):
            client.tick()
            await seq_after(app, client)
            if cell(app, key, "status") == "safe":
                break
        assert cell(app, key, "status") == "safe"
        log = app.main.query_one(EventLog)
        await async_wait_until(lambda: any("safe" in line for line in log.lines_text), 10)
        # one line for the drain, rewritten as it progressed (not a line a second)
        drains = [x for x in log.lines_text if x.split(" ", 1)[1].startswith("drain ")]
        assert len(drains) == 1 and "safe" in drains[0], log.lines_text
        assert any("operator: drain" in line for line in log.lines_text)
        # undrain brings it back
        await pilot.press("u")
        await async_wait_until(lambda: len(client.calls) == 2, 10)
        assert client.calls[-1] == Undrain(svc, real)  # type: ignore[arg-type]


async def test_drain_cancelled_sends_nothing() -> None:
    client = FakeClient(1, 2)
    async with running(client) as (app, pilot):
        key, _, _ = first_real(client, 0, 0)
        table(app).select_key(key)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert client.calls == []


async def test_drain_on_a_service_row_asks_for_a_server() -> None:
    client = FakeClient(1, 2)
    async with running(client) as (app, pilot):
        table(app).select_key(service_row_key(client.services[0].key))
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert "select a real server" in notes(app)


async def test_weight_dialog_validates_0_to_65535() -> None:
    client = FakeClient(1, 2)
    async with running(client) as (app, pilot):
        key, svc, real = first_real(client, 0, 1)
        table(app).select_key(key)
        await pilot.press("w")
        assert isinstance(app.screen, WeightDialog)
        await pilot.press(*"70000", "enter")
        await pilot.pause()
        assert isinstance(app.screen, WeightDialog)  # refused, still open
        assert "out of range" in str(app.screen.query_one("#dialog-error", Label).render())
        app.screen.query_one(Input).value = ""
        await pilot.press(*"abc", "enter")
        await pilot.pause()
        assert "whole number" in str(app.screen.query_one("#dialog-error", Label).render())
        app.screen.query_one(Input).value = ""
        await pilot.press("7", "enter")
        await async_wait_until(lambda: bool(client.calls), 10)
        assert client.calls == [SetWeight(svc, real, 7)]  # type: ignore[arg-type]
        client.tick()
        await seq_after(app, client)
        assert cell(app, key, "weight").startswith("7")
        # empty input: back to the configured weight
        await pilot.press("w", "enter")
        await async_wait_until(lambda: len(client.calls) == 2, 10)
        assert client.calls[-1] == SetWeight(svc, real, None)  # type: ignore[arg-type]


async def test_add_a_real_server() -> None:
    client = FakeClient(2, 2)
    async with running(client) as (app, pilot):
        svc = client.services[0].key
        table(app).select_key(service_row_key(svc))
        await pilot.press("a")
        assert isinstance(app.screen, AddDialog)
        await type_text(app, pilot, "198.51.100.99:8080")
        await pilot.press("enter")
        await pilot.press("4", "enter")
        await async_wait_until(lambda: bool(client.calls), 10)
        new = RealKey("198.51.100.99", 8080)
        assert client.calls == [AddReal(svc, new, 4)]
        client.tick()
        await seq_after(app, client)
        assert cell(app, real_row_key(svc, new), "weight") == "4"
        assert table(app).row_count == 2 * 3 + 1


async def test_add_dialog_rejects_a_bad_address() -> None:
    client = FakeClient(1, 1)
    async with running(client) as (app, pilot):
        await pilot.press("a")
        await type_text(app, pilot, "nonsense")
        await pilot.press("enter", "1", "enter")
        await pilot.pause()
        assert isinstance(app.screen, AddDialog)
        assert "address" in str(app.screen.query_one("#dialog-error", Label).render())
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and client.calls == []


async def test_remove_asks_first() -> None:
    client = FakeClient(1, 3)
    async with running(client) as (app, pilot):
        key, svc, real = first_real(client, 0, 2)
        table(app).select_key(key)
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await async_wait_until(lambda: bool(client.calls), 10)
        assert client.calls == [RemoveReal(svc, real)]  # type: ignore[arg-type]
        client.tick()
        await seq_after(app, client)
        assert key not in table(app).targets
        assert table(app).row_count == 3


async def test_reload_shows_the_difference_before_confirming() -> None:
    client = FakeClient(1, 1)
    async with running(client) as (app, pilot):
        await pilot.press("r")
        await async_wait_until(lambda: isinstance(app.screen, ConfirmDialog), 10)
        assert client.calls == [Reload(dry_run=True)]
        body = "\n".join(str(s.render()) for s in app.screen.query(Static))
        assert "198.51.100.9:8000" in body and "scheduler wlc -> rr" in body
        await pilot.press("y")
        await async_wait_until(lambda: len(client.calls) == 2, 10)
        assert client.calls[-1] == Reload()
        log = app.main.query_one(EventLog)
        await async_wait_until(lambda: any("reloaded" in x for x in log.lines_text), 10)


async def test_reload_declined_changes_nothing() -> None:
    client = FakeClient(1, 1)
    async with running(client) as (app, pilot):
        await pilot.press("r")
        await async_wait_until(lambda: isinstance(app.screen, ConfirmDialog), 10)
        await pilot.press("escape")
        await pilot.pause()
        assert client.calls == [Reload(dry_run=True)]


async def test_filter_narrows_rows_and_esc_clears() -> None:
    client = FakeClient(4, 2)
    async with running(client) as (app, pilot):
        await pilot.press("slash", *"api")
        await pilot.pause()
        t = table(app)
        assert t.row_count == 3
        assert all("192.0.2.2:80" in k for k in t.targets)
        await pilot.press("enter")  # keep the filter, back to the table
        assert t.has_focus
        client.tick()
        await seq_after(app, client)
        assert t.row_count == 3
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert t.row_count == 4 * 3


async def test_help_lists_the_keys_and_esc_closes() -> None:
    async with running(FakeClient(1, 1)) as (app, pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = app.screen.query_one("#help-keys")
        assert keys.row_count >= 12  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_theme_cycles() -> None:
    async with running(FakeClient(1, 1), theme="dark") as (app, pilot):
        seen = [app.theme]
        for _ in range(3):
            await pilot.press("t")
            seen.append(app.theme)
        assert seen[:4] == ["dark", "light", "high-contrast", seen[3]]
        assert seen[3] != "high-contrast"


async def test_unknown_theme_is_a_clear_error() -> None:
    from lvstui.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown theme"):
        LvstuiApp(FakeClient(1, 1), theme="nope")


@pytest.mark.parametrize("how", ["client", "flag"])
async def test_read_only_hides_and_refuses_changes(how: str) -> None:
    client = FakeClient(1, 2, read_only=(how == "client"))
    async with running(client, read_only=(how == "flag")) as (app, pilot):
        shown = (
            {b.action for b in app.main.active_bindings.values() if b.binding.show}
            if False
            else {b.binding.action for b in app.screen.active_bindings.values()}
        )
        assert not shown & {"drain", "undrain", "weight", "add", "remove", "reload"}
        key, _, _ = first_real(client, 0, 0)
        table(app).select_key(key)
        for k in "duwaxr":
            await pilot.press(k)
            await pilot.pause()
            assert isinstance(app.screen, MainScreen), k
        # the palette cannot sneak a change in either
        await pilot.press("colon")
        await type_text(app, pilot, "drain TCP 192.0.2.1:80 198.51.100.1:8000")
        await pilot.press("enter")
        await pilot.pause()
        assert "read-only" in notes(app)
        assert client.calls == []
        assert "READ-ONLY" in str(app.main.query_one("#status", Static).render())


async def test_command_palette_runs_commands_and_shows_errors() -> None:
    client = FakeClient(1, 2)
    async with running(client) as (app, pilot):
        await pilot.press("colon")
        assert isinstance(app.screen, CommandDialog)
        await type_text(app, pilot, "weight 192.0.2.1:80 nonsense 3")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, CommandDialog)
        assert "bad real server" in str(app.screen.query_one("#dialog-error", Label).render())
        await type_text(app, pilot, "weight TCP 192.0.2.1:80 198.51.100.1:8000 9")
        await pilot.press("enter")
        await async_wait_until(lambda: bool(client.calls), 10)
        assert client.calls[0] == SetWeight(
            client.services[0].key, RealKey("198.51.100.1", 8000), 9
        )
        await pilot.press("colon")
        await type_text(app, pilot, "theme light")
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "light"


async def test_command_failures_become_notifications() -> None:
    client = FakeClient(1, 2)
    client.fail["weight"] = CommandResult(False, "weight refused by the engine")
    client.fail["drain"] = RuntimeError("engine exploded")
    async with running(client) as (app, pilot):
        key, _, _ = first_real(client, 0, 0)
        table(app).select_key(key)
        await pilot.press("w", "5", "enter")
        await async_wait_until(lambda: "weight refused by the engine" in notes(app), 10)
        await pilot.press("d", "y")
        await async_wait_until(lambda: "engine exploded" in notes(app), 10)
        # unknown server through the palette: the engine's CommandResult(ok=False)
        await pilot.press("colon")
        await type_text(app, pilot, "undrain TCP 192.0.2.1:80 203.0.113.1:80")
        await pilot.press("enter")
        await async_wait_until(lambda: "no real server" in notes(app), 10)
        assert app.is_running and isinstance(app.screen, MainScreen)


async def test_disconnect_shows_banner_and_recovers() -> None:
    client = FakeClient(1, 2)
    async with running(client) as (app, pilot):
        banner = app.main.query_one("#banner", Static)
        assert not banner.display
        client.disconnect()
        await async_wait_until(lambda: banner.display, 10)
        assert "disconnected — retrying" in str(banner.render())
        # commands while disconnected: a notification, not a crash
        key, _, _ = first_real(client, 0, 0)
        table(app).select_key(key)
        await pilot.press("u")
        await async_wait_until(lambda: "not reachable" in notes(app), 10)
        client.reconnect()
        await async_wait_until(lambda: not banner.display, 10)
        client.tick()
        await seq_after(app, client)
        # the event stream was re-subscribed
        await async_wait_until(lambda: len(client._subs) == 1, 10)
        client.set_health(0, 0, Health.DOWN, "connection refused")
        log = app.main.query_one(EventLog)
        await async_wait_until(lambda: any("→ down" in x for x in log.lines_text), 10)


async def test_reconnect_factory_swaps_the_client() -> None:
    dead = FakeClient(1, 1, description="old")
    fresh = FakeClient(1, 3, description="new")
    attempts: list[int] = []

    async def reconnect() -> FakeClient:
        attempts.append(1)
        if len(attempts) < 3:
            raise ControlError("daemon still down")
        return fresh

    async with running(dead, reconnect=reconnect) as (app, _pilot):
        dead.disconnect()
        await async_wait_until(lambda: app.client is fresh, 10)
        await async_wait_until(lambda: table(app).row_count == 4, 10)
        assert dead.closed
        assert not app.main.query_one("#banner", Static).display
        assert "attached" not in str(app.main.query_one("#status", Static).render())
        assert "new" in str(app.main.query_one("#status", Static).render())


async def test_drill_down_on_a_server_and_back() -> None:
    client = FakeClient(2, 2)
    async with running(client) as (app, pilot):
        key, svc, real = first_real(client, 1, 1)
        table(app).select_key(key)
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        for _ in range(3):
            client.tick()
            await seq_after(app, client)
        await pilot.pause()
        text = str(app.screen.query_one("#detail-config", Static).render())
        assert str(real) in text and "weight" in text and "forward Masq" in text
        checks = app.screen.query_one("#checks")
        assert checks.row_count == 1  # type: ignore[attr-defined]
        chart = str(app.screen.query_one("#chart-conns", Static).render())
        assert "active connections" in chart and "┤" in chart
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        # a service drill-down lists its servers
        table(app).select_key(service_row_key(svc))  # type: ignore[arg-type]
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.query_one("#checks").row_count == 2  # type: ignore[attr-defined]


async def test_remapped_keys() -> None:
    client = FakeClient(1, 2)
    async with running(client, keys={"drain": "k", "help": "h"}) as (app, pilot):
        key, svc, real = first_real(client, 0, 0)
        table(app).select_key(key)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("k")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await async_wait_until(lambda: client.calls == [Drain(svc, real)], 10)  # type: ignore[arg-type]
        await pilot.press("h")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("h")  # the remapped help key closes it again
        assert isinstance(app.screen, MainScreen)


async def test_remapped_back_key_leaves_the_drill_down() -> None:
    client = FakeClient(1, 2)
    async with running(client, keys={"back": "b"}) as (app, pilot):
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("b")
        assert isinstance(app.screen, MainScreen)


async def test_no_color_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.filter import Monochrome

    monkeypatch.setenv("NO_COLOR", "1")
    async with running(FakeClient(1, 1)) as (app, _pilot):
        assert app.no_color
        assert any(isinstance(f, Monochrome) for f in app._filters)


async def test_big_table_updates_only_what_is_visible_and_catches_up_on_scroll() -> None:
    from lvstui.ui import render

    client = FakeClient(100, 10)
    async with running(client, poll_interval=0.2) as (app, pilot):
        t = table(app)
        assert t.row_count == 100 * 11
        await pilot.press("ctrl+end")  # to the last row: the view scrolls
        await pilot.pause()
        key = t.cursor_key
        assert key is not None and key.startswith("r|TCP 192.0.2.100:80|")
        before = t.cell_updates
        client.tick()
        await seq_after(app, client)
        await pilot.pause()
        # only rows near the viewport were rewritten (10 columns at most per row)
        assert 0 < t.cell_updates - before <= (t.size.height + 2 * t.MARGIN) * 10
        assert t.cursor_key == key
        # a row inserted far above (rebuild path): cursor on the same key, view not reset
        scroll = t.scroll_y
        assert scroll > 100
        await client.call(AddReal(client.services[0].key, RealKey("198.51.100.250", 9), 1))
        client.tick()
        await seq_after(app, client)
        await pilot.pause()
        assert t.row_count == 100 * 11 + 1
        assert t.cursor_key == key
        assert abs(t.scroll_y - scroll) <= 1
        snap = app.snapshot
        assert snap is not None
        last = snap.services[-1].real_servers[-1]
        peak = render.spark_peak(snap.services[-1])
        assert tuple(str(c) for c in t.get_row(key)) == render.real_cells(last, snap.time, peak)
        # the first rows were not touched while off screen; scrolling back brings them up to date
        await pilot.press("ctrl+home")
        await pilot.pause()
        first = snap.services[0].real_servers[0]
        row = render.real_row_key(snap.services[0].key, first.key)
        peak = render.spark_peak(snap.services[0])
        assert tuple(str(c) for c in t.get_row(row)) == render.real_cells(first, snap.time, peak)


async def test_reconnect_factory_returning_the_same_client_keeps_it_open() -> None:
    client = FakeClient(1, 2)
    daemon_up = [True]

    async def reconnect() -> FakeClient:  # like SocketClient.reconnect(): same object
        if not daemon_up[0]:
            raise ControlError("still down")
        client.reconnect()
        return client

    async with running(client, reconnect=reconnect) as (app, _pilot):
        banner = app.main.query_one("#banner", Static)
        daemon_up[0] = False
        client.disconnect()  # stays down until the factory reconnects it
        await async_wait_until(lambda: banner.display, 10)
        daemon_up[0] = True
        await async_wait_until(lambda: not banner.display, 10)
        assert not client.closed and app.client is client
        await async_wait_until(lambda: len(client._subs) == 1, 10)  # events re-subscribed


async def test_the_status_line_says_1_service_1_server() -> None:
    async with running(FakeClient(1, 1)) as (app, _pilot):
        status = str(app.main.query_one("#status", Static).render())
        assert "1 service, 1 server" in status, status


async def test_a_long_source_does_not_cut_the_counts_or_the_clock() -> None:
    long = "attached to /tmp/" + "x" * 120 + "/control.sock"
    async with running(FakeClient(2, 2, description=long), size=(120, 36)) as (app, _pilot):
        shown = app.main.query_one("#status", Static).render_line(0).text
        assert "2 services, 4 servers" in shown and re.search(r"\d\d:\d\d:\d\d", shown), shown
        assert "attached to /tmp/" in shown and shown.rstrip().endswith("…"), shown
