"""A read-only console: the header always says so, and a refused key says why."""

from __future__ import annotations

from textual.widgets import Static

from lvstui.ui.fake import FakeClient
from lvstui.ui.screens import MainScreen
from lvstui.ui.widgets import ServiceTable
from tests.ui.conftest import running


async def test_read_only_header_keeps_its_mark_and_a_changing_key_says_why() -> None:
    client = FakeClient(1, 2)
    async with running(client, size=(80, 24), read_only=True) as (app, pilot):
        status = str(app.main.query_one("#status", Static).render())
        assert status.startswith("lvstui · READ-ONLY ·"), status
        app.main.query_one(ServiceTable).action_cursor_down()  # a real server row
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)  # no dialog
        notes = "\n".join(str(n.message) for n in app._notifications)
        assert "read-only console: drain refused" in notes
        assert client.calls == []


async def test_a_writable_console_has_no_read_only_mark() -> None:
    async with running(FakeClient(1, 1)) as (app, _pilot):
        assert "READ-ONLY" not in str(app.main.query_one("#status", Static).render())


async def test_the_sorry_server_row_refuses_drain_and_says_why() -> None:
    from lvstui.model import Health, RealKey
    from lvstui.ui.render import real_row_key
    from tests.helpers import async_wait_until

    client = FakeClient(1, 1)  # service 0 has a sorry server (127.0.0.1:8099)
    client.set_health(0, 0, Health.DOWN, "test")  # its only server down: the sorry row shows
    async with running(client) as (app, pilot):
        await async_wait_until(
            lambda: app.snapshot is not None and app.snapshot.services[0].sorry_active, 5
        )
        snap = app.snapshot
        assert snap is not None
        sv = snap.services[0]
        sorry = next(r for r in sv.real_servers if r.is_sorry)
        assert sorry.key == RealKey("127.0.0.1", 8099)
        app.main.query_one(ServiceTable).select_key(real_row_key(sv.key, sorry.key))
        for key in ("d", "w", "x"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, MainScreen)  # no dialog
        notes = "\n".join(str(n.message) for n in app._notifications)
        assert "the sorry server is not in the pool" in notes
        assert client.calls == []
