"""The weight dialog says, while the weight is typed, when it takes the service below quorum."""

from __future__ import annotations

from lvstui.model import SetWeight
from lvstui.ui.dialogs import WeightDialog
from lvstui.ui.fake import FakeClient
from lvstui.ui.render import real_row_key
from lvstui.ui.widgets import ServiceTable
from tests.helpers import async_wait_until
from tests.ui.conftest import running


async def test_weight_dialog_warns_below_quorum_as_it_is_typed() -> None:
    client = FakeClient(1, 2)  # weights 1 and 3, quorum 2, a sorry server
    s = client.services[0]
    async with running(client) as (app, pilot):
        assert app.main.query_one(ServiceTable).select_key(real_row_key(s.key, s.reals[1].key))
        await pilot.press("w")
        assert isinstance(app.screen, WeightDialog)

        def warning() -> str:
            return str(app.screen.query_one("#weight-impact").render())

        assert warning() == ""  # empty input: back to the configured weight, 3
        await pilot.press("0")
        assert "below its quorum (live weight 4 → 1, quorum 2)" in warning()
        assert "sorry server 127.0.0.1:8099" in warning()
        await pilot.press("backspace", "1")
        assert warning() == ""  # 1 + 1 = 2: quorum kept
        await pilot.press("backspace", "x")
        assert warning() == ""  # not a weight: the validator speaks, not the quorum
        await pilot.press("backspace", "0", "enter")  # a warning, not a refusal
        await async_wait_until(lambda: client.calls == [SetWeight(s.key, s.reals[1].key, 0)], 10)
