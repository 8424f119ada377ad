"""`q`: an attached console just quits; an embedded one asks what becomes of its director."""

from __future__ import annotations

from textual.widgets import Button

from lvstui.ui.app import ConsoleExit
from lvstui.ui.dialogs import QuitDialog
from lvstui.ui.fake import FakeClient
from lvstui.ui.screens import MainScreen
from tests.ui.conftest import running


async def test_q_on_an_attached_console_quits_at_once() -> None:
    async with running(FakeClient(1, 1)) as (app, pilot):
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, QuitDialog)
        assert app.outcome is ConsoleExit.STOP
    assert app.return_code == 0


async def test_q_embedded_asks_and_cancel_keeps_the_console() -> None:
    async with running(FakeClient(1, 1), embedded_socket="/run/x.sock") as (app, pilot):
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitDialog)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_q_embedded_leave_running_and_stop_are_the_outcome() -> None:
    for key, outcome in (("l", ConsoleExit.LEAVE_RUNNING), ("s", ConsoleExit.STOP)):
        async with running(FakeClient(1, 1), embedded_socket="/run/x.sock") as (app, pilot):
            app.outcome = ConsoleExit.HANGUP  # so that the choice has to set it
            await pilot.press("q")
            await pilot.pause()
            await pilot.press(key)
            await pilot.pause()
        assert app.outcome is outcome


async def test_q_embedded_without_a_control_socket_cannot_leave_it_running() -> None:
    async with running(FakeClient(1, 1), embedded=True) as (app, pilot):
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitDialog)
        assert app.screen.query_one("#leave", Button).disabled
        await pilot.press("l")  # refused: nothing would serve a later `lvstui`
        await pilot.pause()
        assert isinstance(app.screen, QuitDialog)
        await pilot.press("s")
        await pilot.pause()
    assert app.outcome is ConsoleExit.STOP


async def test_ctrl_q_does_what_q_does() -> None:
    """Textual's own quit key must not stop an embedded director without asking."""
    async with running(FakeClient(1, 1), embedded_socket="/run/x.sock") as (app, pilot):
        await pilot.press("enter")  # from a drill-down too: ctrl+q is the app's key
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, QuitDialog)
        await pilot.press("ctrl+q")  # again while asking: still asking, one dialog
        await pilot.pause()
        assert isinstance(app.screen, QuitDialog)
        assert sum(isinstance(s, QuitDialog) for s in app.screen_stack) == 1
        await pilot.press("c")
        await pilot.pause()
        assert not isinstance(app.screen, QuitDialog) and app.is_running
    async with running(FakeClient(1, 1)) as (app, pilot):
        await pilot.press("ctrl+q")  # attached: quits at once, as q does
        await pilot.pause()
        assert not isinstance(app.screen, QuitDialog)
    assert app.return_code == 0 and app.outcome is ConsoleExit.STOP
