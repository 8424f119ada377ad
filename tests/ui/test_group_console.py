"""The console on a director of a group (FakeClient + FakeGroup): every director on screen,
the group's state in the header, actions said to reach the whole group, pending deliveries
for an unreachable peer, split brain as a red line; without a group nothing changes."""

from __future__ import annotations

import re

from textual.pilot import Pilot
from textual.widgets import DataTable, Label, Static

from lvstui.model import Drain, RealKey, ServiceKey, SetWeight, Snapshot
from lvstui.ui.app import LvstuiApp
from lvstui.ui.bindings import resolve_keys
from lvstui.ui.dialogs import AddDialog, ConfirmDialog, WeightDialog
from lvstui.ui.fake import FakeClient
from lvstui.ui.fakegroup import FakeGroup
from lvstui.ui.groupscreen import GroupScreen, GroupStrip
from lvstui.ui.groupview import action_scope, directors, group_header, group_strip
from lvstui.ui.screens import MainScreen
from tests.helpers import async_wait_until
from tests.ui.conftest import running
from tests.ui.test_app import first_real, notes, seq_after, table


def grouped(*peers: str) -> FakeClient:
    client = FakeClient(2, 3)
    client.group = FakeGroup("lb1", peers, client.time)
    return client


def header(app: LvstuiApp) -> str:
    return str(app.main.query_one("#status", Static).render())


def strip(app: LvstuiApp) -> str:
    box = app.main.query_one(GroupStrip)
    return str(box.render()) if box.display else ""


def dialog_text(app: LvstuiApp) -> str:
    return "\n".join(
        str(w.render()) for w in app.screen.query("Label, Static") if isinstance(w, Label | Static)
    )


async def press_on_a_server(
    app: LvstuiApp, client: FakeClient, pilot: Pilot[int], key: str
) -> tuple[ServiceKey, RealKey]:
    """Select the first service's second real server and press `key` on it."""
    row, svc, real = first_real(client)
    assert table(app).select_key(row)
    await pilot.press(key)
    return svc, real  # type: ignore[return-value]


async def fresh(app: LvstuiApp, client: FakeClient) -> None:
    client.tick()
    await seq_after(app, client)


async def test_every_director_in_the_strip_and_the_header() -> None:
    client = grouped("lb2", "lb3")
    async with running(client) as (app, pilot):
        assert "group 3/3 up" in header(app)
        assert strip(app).startswith("Directors: lb1 (here) · lb2 up 5m · lb3 up 5m")
        client.group.cut("lb3", client.time)  # type: ignore[union-attr]
        await fresh(app, client)
        await pilot.pause()
        assert "group 2/3 up" in header(app)
        assert re.search(r"lb3 UNREACHABLE \d+s$", strip(app))


async def test_drain_confirmation_names_every_director_and_the_unreachable_one() -> None:
    client = grouped("lb2", "lb3")
    async with running(client) as (app, pilot):
        key, svc, real = first_real(client)
        assert table(app).select_key(key)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmDialog)
        text = dialog_text(app)
        assert f"Drain {real} from {svc} on lb1, lb2, lb3?" in text
        assert "unreachable" not in text  # every director gets it now
        await pilot.press("n")
        client.group.cut("lb3", client.time)  # type: ignore[union-attr]
        await fresh(app, client)
        await pilot.press("d")
        text = dialog_text(app)
        assert "on lb1, lb2, lb3?" in text
        assert "lb3 is unreachable: it applies here now and is delivered when" in text
        await pilot.press("y")
        await async_wait_until(lambda: bool(client.calls), 10)
        assert client.calls == [Drain(svc, real)]  # type: ignore[arg-type]
        # lb3 has it pending: the header counts it, the strip and the group screen show it
        await fresh(app, client)
        await pilot.pause()
        assert "1 pending" in header(app)
        assert re.search(r"lb3 UNREACHABLE \d+s, 1 pending$", strip(app))
        await pilot.press("p")
        assert isinstance(app.screen, GroupScreen)
        await pilot.pause()
        details = str(app.screen.query_one("#group-details", Static).render())
        assert "lb3: 1 change(s) not delivered yet" in details
        assert f"drain {svc} {real}" in details
        rows = app.screen.query_one("#directors", DataTable)
        assert [str(c) for c in rows.get_row("lb3")][2:3] == ["UNREACHABLE"]
        assert str(rows.get_row("lb3")[-1]) == "1"
        # the link comes back: delivered, no longer pending, shown live on the open screen
        client.group.restore("lb3", client.time)  # type: ignore[union-attr]
        await fresh(app, client)
        await pilot.pause()
        details = str(app.screen.query_one("#group-details", Static).render())
        assert "not delivered" not in details
        assert str(rows.get_row("lb3")[-1]) == "0"
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        await pilot.pause()
        assert "pending" not in header(app)


async def test_weight_add_and_remove_dialogs_say_the_scope() -> None:
    client = grouped("lb2")
    async with running(client) as (app, pilot):
        svc, real = await press_on_a_server(app, client, pilot, "w")
        assert isinstance(app.screen, WeightDialog)
        assert "on lb1, lb2" in dialog_text(app)
        await pilot.press("5", "enter")
        await async_wait_until(lambda: bool(client.calls), 10)
        assert client.calls == [SetWeight(svc, real, 5)]  # type: ignore[arg-type]
        await pilot.press("a")
        assert isinstance(app.screen, AddDialog)
        assert f"Add a real server to {svc} on lb1, lb2" in dialog_text(app)
        await pilot.press("escape")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmDialog)
        assert f"Remove {real} from {svc} on lb1, lb2?" in dialog_text(app)
        await pilot.press("n")


async def test_split_brain_is_a_red_line_and_the_header_says_it() -> None:
    client = grouped("lb2")
    client.group.split_brain = ("split brain: VRID 51 is MASTER on lb1, lb2",)  # type: ignore[union-attr]
    async with running(client) as (app, _pilot):
        assert "group: SPLIT BRAIN" in header(app)
        box = app.main.query_one(GroupStrip)
        text = box.shown
        assert "SPLIT BRAIN: VRID 51 IS MASTER ON LB1, LB2" in str(text)
        red = palette_error(app)
        assert any(
            red in str(span.style).lower() and "SPLIT" in str(text)[span.start : span.end]
            for span in text.spans
        )


def palette_error(app: LvstuiApp) -> str:
    theme = app.current_theme
    assert theme is not None and theme.error
    return theme.error.lower()


async def test_config_drift_is_shown_with_its_section() -> None:
    client = grouped("lb2")
    client.group.differ("lb2", "virtual_server TCP 192.0.2.1:80")  # type: ignore[union-attr]
    async with running(client) as (app, pilot):
        assert "config differs" in header(app)
        assert "lb2 up 5m, config DIFFERENT" in strip(app)
        await pilot.press("p")
        await pilot.pause()
        details = str(app.screen.query_one("#group-details", Static).render())
        assert "lb2: configuration differs in virtual_server TCP 192.0.2.1:80" in details
        row = app.screen.query_one("#directors", DataTable).get_row("lb2")
        assert [str(c) for c in row[4:7]] == [
            "DIFFERENT",
            "same",
            "VI_WEB BACKUP 100, VI_DNS MASTER 150",
        ]
        here = app.screen.query_one("#directors", DataTable).get_row("lb1")
        assert str(here[0]) == "lb1 (here)" and "VI_WEB MASTER 150" in str(here[6])


async def test_without_a_group_nothing_changes() -> None:
    client = FakeClient(2, 3)
    async with running(client) as (app, pilot):
        assert "group" not in header(app)
        assert strip(app) == ""
        key, svc, real = first_real(client)
        assert table(app).select_key(key)
        await pilot.press("d")
        assert dialog_text(app).count(f"Drain {real} from {svc}?") == 1
        await pilot.press("n")
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert "in no director group" in notes(app)


def test_pure_views_of_a_snapshot_without_and_with_a_group() -> None:
    alone = Snapshot(1, 100.0)
    assert directors(alone) == [] and group_header(alone) == "" and group_strip(alone) == ""
    assert action_scope(None).title() == "" and action_scope(None).note() == ""
    g = FakeGroup("lb1", ("lb2", "lb3"), 0.0)
    g.cut("lb2", 90.0)
    g.cut("lb3", 95.0)
    snap = Snapshot(1, 100.0, group=g.view())
    scope = action_scope(snap.group)
    assert scope.title() == " on lb1, lb2, lb3"
    assert scope.note().startswith("lb2, lb3 are unreachable")
    assert group_header(snap) == "group 1/3 up"
    rows = directors(snap)
    assert [(r.name, r.link, r.since) for r in rows] == [
        ("lb1", "here", "-"),
        ("lb2", "UNREACHABLE", "10s"),
        ("lb3", "UNREACHABLE", "5s"),
    ]


async def test_the_strip_takes_one_line_at_80_columns() -> None:
    """At 80×24 the table needs every row: a long strip is cut, not wrapped."""
    client = grouped("lb2", "lb3", "lb4")
    client.group.cut("lb3", client.time)  # type: ignore[union-attr]
    client.group.differ("lb2", "global_defs")  # type: ignore[union-attr]
    async with running(client, size=(80, 24)) as (app, pilot):
        await pilot.pause()
        box = app.main.query_one(GroupStrip)
        assert len(strip(app)) > 80 and box.size.height == 1
        client.group.split_brain = ("split brain: VRID 51 is MASTER on lb1, lb2",)  # type: ignore[union-attr]
        await fresh(app, client)
        await pilot.pause()
        assert box.size.height == 2  # the red line under it


def test_an_older_key_map_with_an_action_on_p_stays_valid() -> None:
    """`p` came late: a config that put another action on it keeps working (the group screen
    then has no key unless given one), as with the k9s navigation keys."""
    keys = resolve_keys({"drain": "p"})
    assert keys["drain"] == "p" and keys["group"] == ""
    assert resolve_keys({"drain": "p", "group": "P"})["group"] == "P"
    assert resolve_keys(None)["group"] == "p"


async def test_an_undrain_says_where_it_applied() -> None:
    """No dialog before an undrain: its notice names the directors instead."""
    client = grouped("lb2")
    async with running(client) as (app, pilot):
        _, real = await press_on_a_server(app, client, pilot, "u")
        await async_wait_until(lambda: f"undrained {real} (on lb1, lb2)" in notes(app), 10)
    alone = FakeClient(2, 3)
    async with running(alone) as (app, pilot):
        await press_on_a_server(app, alone, pilot, "u")
        await async_wait_until(lambda: f"undrained {real}" in notes(app), 10)
        assert "(on " not in notes(app)
