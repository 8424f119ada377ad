"""The event log an operator can use: one line per drain, nothing said twice, problems
pinned and counted, keyboard scrolling, a full-screen view, replay on attach."""

from __future__ import annotations

from textual.widgets import Static

from lvstui.model import (
    DrainProgress,
    DrainState,
    Health,
    LogEvent,
    QuorumChanged,
    RealKey,
    ServiceKey,
)
from lvstui.ui.bindings import resolve_keys
from lvstui.ui.eventlog import EventFold
from lvstui.ui.fake import FakeClient
from lvstui.ui.logview import EventLog, EventPanel, LogScreen
from lvstui.ui.render import real_row_key
from lvstui.ui.widgets import ServiceTable
from tests.helpers import async_wait_until
from tests.ui.conftest import running

SVC = ServiceKey.parse("TCP 192.0.2.1:80")
REAL = RealKey.parse("198.51.100.1:8000")


def _drain(t: float, state: DrainState, active: int) -> DrainProgress:
    return DrainProgress(t, SVC, REAL, state, active, 0)


def test_a_drain_is_one_line_that_progress_rewrites() -> None:
    fold = EventFold()
    fold.add([_drain(1, DrainState.DRAINING, 9)])
    fold.add([LogEvent(2, "info", "something else")])
    fold.add([_drain(3, DrainState.DRAINING, 5), _drain(4, DrainState.DRAINING, 2)])
    texts = [e.text for e in fold.entries()]
    assert len(texts) == 2, texts
    assert "draining (2 active" in texts[0] and texts[1].endswith("something else")
    # safe is news: the same line, moved to the bottom
    fold.add([_drain(5, DrainState.SAFE, 0)])
    texts = [e.text for e in fold.entries()]
    assert len(texts) == 2 and "safe" in texts[1] and "drain started" in texts[1], texts
    fold.add([_drain(6, DrainState.NONE, 0)])  # undrain closes it
    fold.add([_drain(7, DrainState.DRAINING, 4)])  # a new drain: a new line
    texts = [e.text for e in fold.entries()]
    assert len(texts) == 3 and "undrained" in texts[1] and "draining (4" in texts[2], texts


def test_an_event_already_held_is_not_said_again() -> None:
    fold = EventFold()
    evs = [LogEvent(1, "info", "a"), QuorumChanged(2, SVC, False, 1, 3, True)]
    assert fold.add(evs)
    assert not fold.add(evs)  # a replay after a reconnect
    assert len(fold.entries()) == 2


def test_problems_are_counted_and_pinned_until_seen() -> None:
    fold = EventFold()
    fold.add([QuorumChanged(1, SVC, False, 1, 3, True), LogEvent(2, "warning", "w")])
    fold.add([LogEvent(3 + i, "info", f"i{i}") for i in range(50)])
    assert (fold.errors, fold.warnings) == (1, 1)
    assert [e.level for e in fold.pinned()] == ["error", "warning"]
    assert "LOST" in fold.pinned()[0].text
    assert [e.text for e in fold.entries(problems_only=True)] == [e.text for e in fold.pinned()]
    fold.mark_seen()
    assert fold.pinned() == [] and fold.errors == 1


async def test_drain_progress_updates_one_line_on_screen() -> None:
    client = FakeClient(1, 3)
    client.drain_step = 1
    async with running(client) as (app, pilot):
        real = client.services[0].reals[0]
        key = real_row_key(client.services[0].key, real.key)
        assert app.main.query_one(ServiceTable).select_key(key)
        await pilot.press("d", "y")
        await async_wait_until(lambda: bool(client.calls), 5)
        log = app.main.query_one(EventLog)
        for _ in range(4):  # four seconds of progress
            client.tick()
            await pilot.pause(0.05)
        await async_wait_until(lambda: any("draining (" in x for x in log.lines_text), 5)
        drains = [x for x in log.lines_text if " drain " in x and ": drain" not in x]
        assert len(drains) == 1, log.lines_text


async def test_a_lost_quorum_stays_in_view_and_the_full_log_opens_it() -> None:
    client = FakeClient(2, 2)
    async with running(client) as (app, pilot):
        client.emit(QuorumChanged(client.time, client.services[0].key, False, 0, 3, True))
        for i in range(30):  # a flood of other news pushes it out of the panel's lines
            client.emit(LogEvent(client.time, "info", f"line {i}"))
        panel = app.main.query_one(EventPanel)
        pinned = panel.query_one("#events-pinned", Static)
        await async_wait_until(lambda: "line 29" in " ".join(panel.fold_texts()), 5)
        await pilot.pause()
        assert pinned.display and "LOST" in str(pinned.render())
        assert "1 error" in str(panel.border_title) and "l: open" in str(panel.border_title)
        await pilot.press("l")
        assert isinstance(app.screen, LogScreen)
        full = app.screen.query_one(EventLog)
        assert len(full.lines_text) == 31
        await pilot.press("e")  # only warnings and errors
        assert len(full.lines_text) == 1 and "LOST" in full.lines_text[0]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main
        assert not pinned.display  # seen: no longer pinned, still counted
        assert "1 error" in str(panel.border_title)


async def test_the_log_scrolls_from_the_keyboard() -> None:
    client = FakeClient(1, 1)
    async with running(client) as (app, pilot):
        for i in range(40):
            client.emit(LogEvent(client.time, "info", f"line {i}"))
        log = app.main.query_one(EventLog)
        await async_wait_until(lambda: len(log.lines_text) >= 40, 5)
        await pilot.pause(0.1)
        assert log.scroll_y == log.max_scroll_y > 0  # follows the newest line
        await pilot.press("tab")  # from the service table (the VRRP panel has nothing to scroll)
        assert app.focused is log
        await pilot.press("pageup")
        assert log.scroll_y < log.max_scroll_y
        await pilot.press("home")
        assert log.scroll_y == 0
        await pilot.press("end")
        assert log.scroll_y == log.max_scroll_y
        await pilot.press("shift+tab")
        assert app.focused is app.main.query_one(ServiceTable)
        # full screen: j/k/g/G scroll it
        await pilot.press("l")
        full = app.screen.query_one(EventLog)
        await pilot.pause(0.1)
        await pilot.press("g")
        assert full.scroll_y == 0
        await pilot.press("j")
        assert full.scroll_y == 1


async def test_the_log_key_is_remappable() -> None:
    async with running(FakeClient(1, 1), keys=resolve_keys({"log": "L"})) as (app, pilot):
        await pilot.press("l")
        assert app.screen is app.main
        await pilot.press("L")
        assert isinstance(app.screen, LogScreen)
        await pilot.press("L")  # the same key closes it
        assert app.screen is app.main


async def test_an_attaching_console_is_replayed_what_happened_before() -> None:
    client = FakeClient(1, 2)
    client.set_health(0, 0, Health.DOWN, "connection refused")  # before any console
    async with running(client) as (app, _pilot):
        log = app.main.query_one(EventLog)
        await async_wait_until(lambda: any("→ down" in x for x in log.lines_text), 5)
        assert sum("→ down" in x for x in log.lines_text) == 1


async def test_the_full_log_title_counts_in_words() -> None:
    client = FakeClient(1, 1)
    async with running(client) as (app, pilot):
        panel = app.main.query_one(EventPanel)
        before = len(panel.fold_texts())
        client.emit(LogEvent(client.time, "info", "only line"))
        await async_wait_until(lambda: len(panel.fold_texts()) == before + 1, 5)
        await pilot.press("l")
        title = str(app.screen.query_one("#log-title", Static).render())
        n = before + 1
        assert f"Event log · {n} event{'s' if n != 1 else ''} ·" in title, title
        assert "1 events" not in title
