"""A drain's step function (engine/drain.py), table-driven: (track, event, now) -> (track,
actions), without an engine, a dataplane or a clock."""

from __future__ import annotations

import pytest

from lvstui.engine.drain import (
    DrainTrack,
    Expire,
    ExpireDone,
    Observe,
    Report,
    start_drain,
    step_drain,
)
from lvstui.model import DrainState

D, S, X = DrainState.DRAINING, DrainState.SAFE, DrainState.EXPIRED


def test_a_new_drain_reports_only_once_observed() -> None:
    track, actions = start_drain(100.0, 30.0)
    assert track == DrainTrack(D, 100.0, 30.0)
    assert actions == ()  # no "(0 active, 0 inactive)": the first observation reports
    assert step_drain(track, Observe(3, 1, True), 100.0)[1] == (Report(D, 3, 1),)
    assert step_drain(track, Observe(0, 0, True), 100.0)[1] == (Report(S, 0, 0),)
    assert start_drain(100.0, None)[0].timeout == 0.0  # none: connections left to finish


@pytest.mark.parametrize(
    ("track", "event", "now", "want", "actions"),
    [
        # connections still there, no timeout: keeps draining, reports new counts only
        (DrainTrack(D, 0, 0, 5, 1), Observe(5, 1, True), 50, DrainTrack(D, 0, 0, 5, 1), ()),
        (
            DrainTrack(D, 0, 0, 5, 1),
            Observe(3, 1, True),
            50,
            DrainTrack(D, 0, 0, 3, 1),
            (Report(D, 3, 1),),
        ),
        # none left: safe; new ones: draining again
        (
            DrainTrack(D, 0, 0, 1, 0),
            Observe(0, 0, True),
            1,
            DrainTrack(S, 0, 0, 0, 0),
            (Report(S, 0, 0),),
        ),
        (
            DrainTrack(S, 0, 0),
            Observe(2, 0, True),
            1,
            DrainTrack(D, 0, 0, 2, 0),
            (Report(D, 2, 0),),
        ),
        # gone from the table counts as nothing left
        (
            DrainTrack(D, 0, 10, 4, 0),
            Observe(0, 0, False),
            20,
            DrainTrack(S, 0, 10),
            (Report(S, 0, 0),),
        ),
        # timeout passed, destination there: ask for the expiry, change nothing yet
        (
            DrainTrack(D, 0, 10, 4, 0),
            Observe(4, 0, True),
            10,
            DrainTrack(D, 0, 10, 4, 0),
            (Expire(4, 0),),
        ),
        # timeout not yet passed
        (DrainTrack(D, 0, 10, 4, 0), Observe(4, 0, True), 9.9, DrainTrack(D, 0, 10, 4, 0), ()),
        # safe when the timeout passes: no expiry (nothing to end)
        (DrainTrack(S, 0, 10), Observe(0, 0, True), 60, DrainTrack(S, 0, 10), ()),
        # expired stays expired (out of the table until undrained), counts still reported
        (
            DrainTrack(X, 0, 10, 4, 0),
            Observe(0, 0, False),
            60,
            DrainTrack(X, 0, 10),
            (Report(X, 0, 0),),
        ),
        # the expiry's outcome
        (
            DrainTrack(D, 0, 10, 4, 0),
            ExpireDone(True, 4, 0),
            10,
            DrainTrack(X, 0, 10, 4, 0),
            (Report(X, 4, 0),),
        ),
        (DrainTrack(D, 0, 10, 4, 0), ExpireDone(False, 4, 0), 10, DrainTrack(D, 0, 10, 4, 0), ()),
    ],
)
def test_step(
    track: DrainTrack, event: Observe | ExpireDone, now: float, want: DrainTrack, actions: tuple
) -> None:
    assert step_drain(track, event, now) == (want, actions)


def test_a_failed_expiry_is_asked_again_at_the_next_observation() -> None:
    track = DrainTrack(D, 0, 10, 4, 0)
    track, actions = step_drain(track, Observe(4, 0, True), 11)
    assert actions == (Expire(4, 0),)
    track, actions = step_drain(track, ExpireDone(False, 4, 0), 11)
    assert (track.state, actions) == (D, ())
    assert step_drain(track, Observe(4, 0, True), 12)[1] == (Expire(4, 0),)
