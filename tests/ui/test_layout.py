"""Column alignment: every cell sits under its own header, at 80×24, 100×30 and 120×36.

QA found the service rows' conn/s rate drawn under "Last check" (a service row put its rate in
the check column, and at 80 columns the table scrolled sideways). These tests read the cells
by column key *and* the characters actually drawn, so both kinds of drift fail them.
"""

from __future__ import annotations

import pytest

from lvstui.model import Health
from lvstui.ui import render
from lvstui.ui.fake import FakeClient
from lvstui.ui.render import real_row_key, service_row_key
from lvstui.ui.widgets import ServiceTable
from tests.ui.conftest import running


@pytest.mark.parametrize(
    ("size", "keys"),
    [
        ((80, 24), ["addr", "sched", "fwd", "weight", "active", "inact", "status", "check"]),
        (
            (100, 30),
            ["addr", "sched", "fwd", "weight", "active", "inact", "status", "cps", "check", "age"],
        ),
        ((120, 36), [c.key for c in render.COLUMNS]),
    ],
    ids=lambda v: f"{v[0]}x{v[1]}" if isinstance(v, tuple) else None,
)
async def test_every_cell_sits_under_its_header(size: tuple[int, int], keys: list[str]) -> None:
    client = FakeClient(3, 3)
    client.set_health(1, 2, Health.DOWN, "connection refused")
    client.tick(3)
    async with running(client, size=size) as (app, pilot):
        await app.poll_once()
        await pilot.pause()
        t = app.main.query_one(ServiceTable)
        assert [str(k.value) for k in t.columns] == keys
        # the whole table fits: nothing hides behind a sideways scroll
        assert t.virtual_size.width <= t.size.width, (t.virtual_size, t.size)
        assert t.max_scroll_x == 0

        svc = client.services[0]
        sk = service_row_key(svc.key)
        rk = real_row_key(svc.key, svc.reals[1].key)
        for key in (sk, rk):
            assert len(t.get_row(key)) == len(t.columns)
        by_svc = {k: str(t.get_cell(sk, k)) for k in keys}
        by_real = {k: str(t.get_cell(rk, k)) for k in keys}
        # values land under the column they mean
        assert by_svc["addr"].startswith("TCP 192.0.2.1:80")
        assert by_svc["status"] == "ok"
        assert by_svc["check"] == ""  # a service has no check of its own: no rate here
        assert by_real["check"].startswith("ok ")
        assert by_real["fwd"] == "Masq"
        assert by_real["status"] == "up"
        snap = app.snapshot
        assert snap is not None
        sv = next(s for s in snap.services if s.key == svc.key)
        if "cps" in keys:
            assert by_svc["cps"] == str(sv.stats.cps)
            assert by_real["cps"] == str(sv.real_servers[1].stats.cps)
        assert "conn/s" not in "".join(by_svc.values())

        # what is drawn: each header label starts at its column's offset, and so does
        # each cell's text in the rows below it
        header = t.render_line(0).text
        offsets = []
        x = 0
        for col in t.columns.values():
            label = str(col.label)
            assert header[x : x + len(label)] == label, (header, label, x)
            offsets.append(x)
            x += col.get_render_width(t)
        assert x <= t.size.width
        for y in range(1, min(t.size.height, t.row_count + 1)):
            line = t.render_line(y).text
            row_key = t._order[int(t.scroll_y) + y - 1]
            for x0, col_key, width in zip(
                offsets, keys, (c.get_render_width(t) for c in t.columns.values()), strict=True
            ):
                value = str(t.get_cell(row_key, col_key))
                drawn = line[x0 : x0 + width]
                assert drawn.rstrip() == value.rstrip(), (row_key, col_key, drawn, value)


async def test_the_layout_follows_a_resize() -> None:
    client = FakeClient(2, 2)
    client.tick(2)
    async with running(client, size=(120, 36)) as (app, pilot):
        t = app.main.query_one(ServiceTable)
        sk = service_row_key(client.services[0].key)
        assert "spark" in [str(k.value) for k in t.columns]
        t.move_cursor(row=2)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert [str(k.value) for k in t.columns][-1] == "check"
        assert t.cursor_row == 2  # the operator's row survives the new layout
        assert str(t.get_cell(sk, "status")) == "ok"  # rows are filled again at once
        await pilot.resize_terminal(120, 36)
        await pilot.pause()
        assert "spark" in [str(k.value) for k in t.columns]
        assert str(t.get_cell(sk, "status")) == "ok"


def test_layouts_fit_their_terminals() -> None:
    assert render.layout_for(80) == render.LAYOUTS[-1]
    assert render.layout_width(render.layout_for(80)) <= 80
    assert render.layout_for(120) == render.COLUMNS
    assert render.layout_width(render.COLUMNS) <= 120
    for layout in render.LAYOUTS:
        # the ipvsadm columns, health and the last check are always there
        assert {"addr", "sched", "fwd", "weight", "active", "inact", "status", "check"} <= {
            c.key for c in layout
        }
        assert set(c.key for c in layout) <= {c.key for c in render.COLUMNS}


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_footer_keys_fit_the_screen(size: tuple[int, int]) -> None:
    """At 80 columns the footer used to end in "t Th": Quit and Theme were cut off."""
    from textual.widgets._footer import FooterKey

    async with running(FakeClient(1, 2), size=size) as (app, pilot):
        await pilot.pause()
        keys = list(app.main.query(FooterKey))
        shown = {k.action for k in keys}
        assert {"help", "drain", "undrain", "weight", "add", "remove", "reload", "quit"} <= shown
        for k in keys:
            assert k.region.right <= size[0], (k.action, k.region)
            label = str(k.render())
            assert k.description in label, (k.action, label)  # not cut in the middle
        if size[0] >= 120:
            assert {"theme", "filter"} <= shown


async def test_quorum_panel_fits_its_box() -> None:
    client = FakeClient(8, 2)
    async with running(client, size=(80, 24)) as (app, pilot):
        await pilot.pause()
        panel = app.main.query_one("#quorum")
        text = str(panel.render())
        lines = text.splitlines()
        assert len(lines) <= panel.content_size.height
        assert all(len(line) <= panel.content_size.width for line in lines), lines
        assert lines[-1].startswith("… ") and "more" in lines[-1]
        assert "[" in lines[0] and "up" in lines[0]  # host, bar and state on one line
