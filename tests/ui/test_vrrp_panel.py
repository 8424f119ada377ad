"""The VRRP panel reads at 120×36 (every column, the Sync group too, text left-aligned) and
degrades sensibly at 80×24 (the name, state, priority and age stay; the VIPs, also in the
header, go), laid out by `lvstui.ui.vrrplayout`."""

from __future__ import annotations

import pytest

from lvstui.model import VrrpRunState, VrrpView
from lvstui.ui.fake import FakeClient
from lvstui.ui.vrrplayout import PADDING, vips_cell, vrrp_columns, vrrp_row
from lvstui.ui.widgets import VrrpTable
from tests.ui.conftest import running

NOW = 1_700_000_000.0


def _v(name: str, vips: tuple[str, ...], group: str | None = "G", prio: int = 150) -> VrrpView:
    return VrrpView(
        name, "eth0", 51, VrrpRunState.MASTER, prio, 150, 3, 1.0, vips, group, None, NOW - 120
    )


THREE = _v("VI_1", ("192.0.2.1", "192.0.2.2", "192.0.2.3"), "G_LB", prio=140)


def test_vips_cell_takes_what_fits_and_counts_the_rest() -> None:
    vips = THREE.vips
    assert vips_cell(vips, 40) == "192.0.2.1,192.0.2.2,192.0.2.3"
    assert vips_cell(vips, 25) == "192.0.2.1,192.0.2.2 +1"
    assert vips_cell(vips, 12) == "192.0.2.1 +2"
    assert vips_cell(vips, 8) == "192.0.2…"
    assert vips_cell((), 8) == ""


def test_the_row_follows_the_columns() -> None:
    cols = vrrp_columns(80, [THREE])
    assert [c.key for c in cols] == ["name", "state", "prio", "since", "vips", "group"]
    assert vrrp_row(THREE, NOW, cols) == (
        "VI_1",
        "MASTER",
        "140/150",
        "2m",
        "192.0.2.1,192.0.2.2,192.0.2.3",
        "G_LB",
    )


@pytest.mark.parametrize("width", range(20, 90))
def test_the_columns_never_overflow_and_degrade_in_order(width: int) -> None:
    views = [THREE, _v("VI_DNS", ("192.0.2.53",))]
    cols = vrrp_columns(width, views)
    keys = [c.key for c in cols]
    assert keys[:4] == ["name", "state", "prio", "since"]  # always there
    used = sum(c.width for c in cols) + PADDING * len(cols)
    assert used <= width or (keys == ["name", "state", "prio", "since"] and cols[0].width == 6)
    if "group" in keys:
        assert "vips" in keys  # the Sync group goes first
    wide = vrrp_columns(width + 1, views)
    assert len(wide) >= len(cols)  # a wider panel never shows fewer columns


def test_no_sync_group_no_column() -> None:
    cols = vrrp_columns(80, [_v("VI_1", ("192.0.2.1",), group=None)])
    assert "group" not in [c.key for c in cols]


def _panel_lines(table: VrrpTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


@pytest.mark.parametrize(
    ("size", "shown", "gone"),
    [
        ((120, 36), ["Instance", "State", "Prio", "Since", "VIPs", "Sync"], []),
        ((80, 24), ["Instance", "State", "Prio", "Since"], ["VIPs", "Sync"]),
    ],
    ids=["120x36", "80x24"],
)
async def test_the_panel_in_the_console(
    size: tuple[int, int], shown: list[str], gone: list[str]
) -> None:
    client = FakeClient(3, 3)
    async with running(client, size=size) as (app, pilot):
        client.flip_vrrp(1, VrrpRunState.FAULT, "link down")
        await app.poll_once()
        await pilot.pause()
        table = app.main.query_one(VrrpTable)
        lines = _panel_lines(table)
        heading = lines[0]
        assert all(h in heading for h in shown) and not any(h in heading for h in gone), lines
        assert all(len(line.rstrip()) <= table.size.width for line in lines)
        # State: left-aligned like the other text columns, under its heading
        at = heading.index("State")
        states = {line.split()[0]: line[at:].split()[0] for line in lines[1:3]}
        assert states == {"VI_WEB": "MASTER", "VI_DNS": "FAULT"}, lines
        if "Sync" in shown:
            at = heading.index("Sync")
            assert [line[at:].split()[0] for line in lines[1:3]] == ["G_LB", "G_LB"], lines
            assert "192.0.2.1,192.0.2.2" in lines[1]  # both VIPs, not cut
