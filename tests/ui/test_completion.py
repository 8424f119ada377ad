"""`:` completes commands, services and servers with Tab, and opens on the selected row."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Label

from lvstui.model import (
    Drain,
    LbKind,
    Protocol,
    RealKey,
    RealServerView,
    ServiceKey,
    ServiceView,
    Undrain,
)
from lvstui.ui.completion import Cycle, complete, prefill
from lvstui.ui.dialogs import CommandDialog
from lvstui.ui.fake import FakeClient
from lvstui.ui.render import real_row_key, service_row_key
from lvstui.ui.widgets import ServiceTable
from tests.helpers import async_wait_until
from tests.ui.conftest import running


def _sv(key: ServiceKey, name: str, *reals: str) -> ServiceView:
    rs = tuple(RealServerView(RealKey.parse(r), LbKind.NAT, 1, 1) for r in reals)
    return ServiceView(key, "rr", LbKind.NAT, name=name, real_servers=rs)


WEB = _sv(ServiceKey(Protocol.TCP, "10.0.0.1", 80), "web", "10.0.0.11:80", "10.0.0.12:80")
API = _sv(ServiceKey(Protocol.TCP, "10.0.0.2", 443), "api", "10.0.1.1:443")
DNS = _sv(ServiceKey(Protocol.UDP, "10.0.0.3", 53), "dns", "10.0.2.1:53")
ALL = (WEB, API, DNS)


@pytest.mark.parametrize(
    ("line", "want", "options"),
    [
        ("dr", "drain ", ()),
        ("re", "re", ("reload", "remove")),
        ("drain ", "drain ", ("10.0.0.1:80", "10.0.0.2:443", "UDP 10.0.0.3:53")),
        ("drain 10", "drain 10.0.0.", ("10.0.0.1:80", "10.0.0.2:443")),
        ("drain web", "drain 10.0.0.1:80 ", ()),  # by name
        ("drain 10.0.0.2", "drain 10.0.0.2:443 ", ()),
        ("drain 10.0.0.1:80 ", "drain 10.0.0.1:80 10.0.0.1", ("10.0.0.11:80", "10.0.0.12:80")),
        ("drain 10.0.0.1:80 10.0.0.12", "drain 10.0.0.1:80 10.0.0.12:80 ", ()),
        ("undrain UDP 10", "undrain UDP 10.0.0.3:53 ", ()),
        ("weight 10.0.0.2:443 10.0.1.1:443 r", "weight 10.0.0.2:443 10.0.1.1:443 reset ", ()),
        ("add 10.0.0.2:443 10.0.9.9:443 d", "add 10.0.0.2:443 10.0.9.9:443 dr ", ()),
        ("theme li", "theme light ", ()),
        ("drain 192.0.2.99:80 ", "drain 192.0.2.99:80 ", ()),  # no such service: nothing
        ("fly", "fly", ()),
    ],
)
def test_complete(line: str, want: str, options: tuple[str, ...]) -> None:
    got = complete(line, ALL, ("dark", "light"))
    assert (got.line, got.options) == (want, options)


def test_prefill_from_a_row() -> None:
    assert prefill(WEB.key, RealKey.parse("10.0.0.11:80")) == ("drain 10.0.0.1:80 10.0.0.11:80", 5)
    assert prefill(DNS.key, None) == ("add UDP 10.0.0.3:53 ", 3)


async def test_the_palette_opens_on_the_selected_server_and_tab_completes() -> None:
    client = FakeClient(2, 3)
    async with running(client) as (app, pilot):
        svc, real = client.services[0], client.services[0].reals[1]
        assert app.main.query_one(ServiceTable).select_key(real_row_key(svc.key, real.key))
        await pilot.press("colon")
        assert isinstance(app.screen, CommandDialog)
        box = app.screen.query_one("#command", Input)
        assert box.value == f"drain {svc.key.hostport} {real.key}"
        # the verb is selected: typing another one replaces it, the row stays
        await pilot.press(*"undrain")
        assert box.value == f"undrain {svc.key.hostport} {real.key}"
        await pilot.press("enter")
        await async_wait_until(lambda: bool(client.calls), 5)
        assert client.calls == [Undrain(svc.key, real.key)]

        assert app.main.query_one(ServiceTable).select_key(service_row_key(svc.key))
        await pilot.press("colon")
        box = app.screen.query_one("#command", Input)
        assert box.value == f"add {svc.key.hostport} "
        box.value = "dr"
        box.cursor_position = 2
        await pilot.press("tab")
        assert box.value == "drain "
        assert app.screen.focused is box  # tab completed; it did not move the focus
        await pilot.press(*"web", "tab")  # a service by its name
        assert box.value == f"drain {svc.key.hostport} "
        await pilot.press("tab")  # its three servers: listed, cut to what they share
        options = str(app.screen.query_one("#palette-options", Label).render())
        assert all(str(r.key) in options for r in svc.reals)
        await pilot.press(*str(svc.reals[2].key)[-6:-3], "tab")
        assert box.value == f"drain {svc.key.hostport} {svc.reals[2].key} "
        await pilot.press("enter")
        await async_wait_until(lambda: len(client.calls) == 2, 5)
        assert client.calls[-1] == Drain(svc.key, svc.reals[2].key)


def test_cycle_walks_the_options_both_ways() -> None:
    done = complete("drain ", ALL)
    assert Cycle.start(complete("dr", ALL), 1) is None  # one match: nothing to walk
    forth = Cycle.start(done, 1)
    assert forth is not None
    lines = [forth.line, forth.step(1).line, forth.step(1).step(1).line, forth.step(3).line]
    assert lines == [
        "drain 10.0.0.1:80",
        "drain 10.0.0.2:443",
        "drain UDP 10.0.0.3:53",
        "drain 10.0.0.1:80",  # round again
    ]
    back = Cycle.start(done, -1)
    assert back is not None
    assert [back.line, back.step(-1).line] == ["drain UDP 10.0.0.3:53", "drain 10.0.0.2:443"]


async def test_repeated_tab_cycles_and_shift_tab_goes_back() -> None:
    client = FakeClient(2, 3)
    async with running(client) as (app, pilot):
        svc = client.services[0]
        reals = [str(r.key) for r in svc.reals]
        await pilot.press("colon")
        box = app.screen.query_one("#command", Input)
        options = app.screen.query_one("#palette-options", Label)
        box.value = f"drain {svc.key.hostport} "
        box.cursor_position = len(box.value)
        await pilot.press("tab")  # lists the servers (and completes what they share)
        listed = box.value
        assert all(r in str(options.render()) for r in reals)
        seen = []
        for _ in range(len(reals) + 1):
            await pilot.press("tab")
            seen.append(box.value)
        want = [f"drain {svc.key.hostport} {r}" for r in sorted(reals)]
        assert seen == [*want, want[0]]  # one after the other, then round again
        assert str(box.value).startswith(listed)
        assert app.screen.focused is box
        await pilot.press("shift+tab")
        assert box.value == want[-1]
        await pilot.press("shift+tab")
        assert box.value == want[-2]
        # typing ends the walk: a space, and Tab completes the next word from there
        await pilot.press("space", "tab")
        assert box.value == f"{want[-2]} "
        await pilot.press("enter")
        await async_wait_until(lambda: bool(client.calls), 5)
        assert client.calls == [Drain(svc.key, RealKey.parse(sorted(reals)[-2]))]
