"""The console attached to lb1 of a real two-director group (engines, group runtimes over
mutual TLS on loopback, lb1's control socket): it shows lb2, a drain confirmed in the dialog
"on lb1, lb2" is weight 0 in lb2's dataplane, a change made while lb2 is down is shown
pending for lb2 and delivered when lb2 is back."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from textual.widgets import Static

from lvstui.control.client import SocketClient
from lvstui.ui.dialogs import ConfirmDialog, WeightDialog
from lvstui.ui.groupscreen import GroupScreen
from lvstui.ui.render import real_row_key
from lvstui.wiring import EngineParts, serve_control
from tests.group.test_runtime import R1, R2, SVC, _weight_is, lab  # noqa: F401
from tests.helpers import async_wait_until
from tests.ui.conftest import running
from tests.ui.test_app import notes, table
from tests.ui.test_group_console import dialog_text, header, strip


async def test_console_on_lb1_acts_on_the_group_and_shows_pending_for_lb2(
    lab: Callable[..., object],  # noqa: F811
    tmp_path: Path,
) -> None:
    lb1: EngineParts = await lab("lb1")  # type: ignore[operator]
    lb2: EngineParts = await lab("lb2")  # type: ignore[operator]
    await async_wait_until(lambda: lb1.group.member.peers()[0].synced, timeout=10)
    sock = tmp_path / "congroup-lb1.sock"
    server = await serve_control(lb1.engine, lb1.engine.config, sock, tmp_path / "lb1")
    client = SocketClient(sock)
    try:
        await client.connect()  # as `lvstui attach` does: the hello gives the role
        async with running(client) as (app, pilot):
            await async_wait_until(lambda: "group 2/2 up" in header(app), timeout=10)
            assert re.match(r"Directors: lb1 \(here\) · lb2 (up|syncing) ", strip(app))
            # a drain confirmed on lb1's console reaches lb2's dataplane
            assert table(app).select_key(real_row_key(SVC, R1))
            await pilot.press("d")
            assert isinstance(app.screen, ConfirmDialog), (app.read_only, notes(app))
            assert f"Drain {R1} from {SVC} on lb1, lb2?" in dialog_text(app)
            await pilot.press("y")
            await async_wait_until(lambda: _weight_is(lb2, R1, 0), timeout=10)
            # lb2 goes away: the console says so, and a weight set now is pending for it
            await lab.stop(lb2)  # type: ignore[attr-defined]
            await async_wait_until(lambda: "lb2 UNREACHABLE" in strip(app), timeout=10)
            assert "group 1/2 up" in header(app)
            assert table(app).select_key(real_row_key(SVC, R2))
            await pilot.press("w")
            assert isinstance(app.screen, WeightDialog)
            assert "lb2 is unreachable: it applies here now" in dialog_text(app)
            await pilot.press("3", "enter")
            await async_wait_until(lambda: _weight_is(lb1, R2, 3), timeout=10)
            await async_wait_until(lambda: "1 pending" in strip(app), timeout=10)
            await pilot.press("p")
            assert isinstance(app.screen, GroupScreen)

            def details() -> str:
                return str(app.screen.query_one("#group-details", Static).render())

            await async_wait_until(
                lambda: "weight TCP 198.51.100.9:80 198.51.100.22:80 3" in details(), timeout=10
            )
            assert "lb2: 1 change(s) not delivered yet" in details()
            # lb2 is back (same state dir): delivered, no longer pending
            lb2 = await lab("lb2")  # type: ignore[operator]
            await async_wait_until(lambda: _weight_is(lb2, R2, 3), timeout=15)
            await async_wait_until(lambda: "not delivered" not in details(), timeout=15)
            assert await _weight_is(lb2, R1, 0)
        # both directors hold the same overrides, typed once on lb1's console
        assert lb1.engine.overrides.weights == lb2.engine.overrides.weights == {(SVC, R2): 3}
        assert (SVC, R1) in lb1.engine.overrides.drained
        assert (SVC, R1) in lb2.engine.overrides.drained
    finally:
        await client.close()
        await server.close()
