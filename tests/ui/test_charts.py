"""Drill-down charts: a time axis, a floor at 0, hidden (with a note) where they can't fit."""

from __future__ import annotations

import pytest

from lvstui.ui.charts import MIN_HEIGHT, MIN_WIDTH, line_chart
from lvstui.ui.fake import FakeClient
from lvstui.ui.screens import DetailScreen
from lvstui.ui.widgets import Chart
from tests.ui.conftest import running


def _y_labels(text: str) -> list[float]:
    return [float(line.split("┤")[0]) for line in text.splitlines() if "┤" in line]


@pytest.mark.parametrize("values", [[0.0] * 30, [0.0, 0.0], [0.0] * 300])
def test_empty_or_zero_data_never_draws_a_negative_axis(values: list[float]) -> None:
    text = line_chart(values, 40, 12, "connections/s")
    labels = _y_labels(text)
    assert labels, text
    assert min(labels) == 0.0
    assert max(labels) >= 1.0  # a flat line on the floor, not a band around 0


def test_negative_samples_are_drawn_at_zero() -> None:
    labels = _y_labels(line_chart([-5.0, 3.0, 4.0], 40, 12, "x"))
    assert min(labels) == 0.0


def test_the_x_axis_is_time_from_minus_60s_to_now() -> None:
    for n in (2, 10, 61, 300):
        text = line_chart([float(i % 7) for i in range(n)], 50, 12, "active connections")
        last = text.splitlines()[-1]
        assert "-60s" in last and "-30s" in last and last.rstrip().endswith("now"), text
        assert last.index("-60s") < last.index("-30s") < last.index("now")
        # no sample numbers on the axis (the old chart counted samples: 1 … 60)
        assert " 1 " not in last


def test_the_chart_fills_its_box_and_no_more() -> None:
    for w, h in ((MIN_WIDTH, MIN_HEIGHT), (40, 14), (120, 14)):
        lines = line_chart([1.0, 5.0, 3.0], w, h, "conns").splitlines()
        assert len(lines) <= h
        assert max(len(line) for line in lines) <= w


@pytest.mark.parametrize("size", [(20, 14), (60, 7), (MIN_WIDTH - 1, 20)])
def test_too_small_is_one_line_saying_so(size: tuple[int, int]) -> None:
    text = line_chart([1.0, 2.0, 3.0], *size, "connections/s")
    assert "\n" not in text
    assert text.startswith("connections/s: hidden at")


def test_one_sample_waits_for_more() -> None:
    assert "collecting samples" in line_chart([3.0], 40, 12, "x")


async def test_the_drill_down_keeps_the_charts_that_fit_and_draws_them() -> None:
    """At 80 columns three charts side by side were each too narrow (three notes run into
    each other, no chart): the first two are drawn, the third goes; 120 columns has room
    for three; 60 for one."""
    for size, shown in (((120, 36), 3), ((80, 24), 2), ((60, 20), 1)):
        client = FakeClient(1, 2)
        async with running(client, size=size) as (app, pilot):
            for _ in range(3):
                client.tick()
                await app.poll_once()
            await pilot.press("down", "enter")
            await pilot.pause()
            assert isinstance(app.screen, DetailScreen)
            charts = list(app.screen.query(Chart))
            assert [c.display for c in charts] == [i < shown for i in range(3)], size
            for chart in charts[:shown]:
                assert chart.size.width >= MIN_WIDTH, size
                assert "hidden at" not in str(chart.render()), size


@pytest.mark.parametrize(("values", "top"), [([0, 0, 1, 0, 2, 1], 2), ([0, 3, 7, 13, 9], 16)])
def test_counts_get_whole_number_ticks(values: list[float], top: int) -> None:
    text = line_chart([float(v) for v in values], 40, 12, "active connections")
    labels = [line.split("┤")[0].strip() for line in text.splitlines() if "┤" in line]
    assert labels and all(label.isdigit() for label in labels), text  # no "0.25" connection
    assert int(labels[-1]) == 0 and int(labels[0]) == top, text
