"""Quorum with hysteresis: keepalived's formula, table-driven, and the tutorial's example."""

from __future__ import annotations

import pytest

from lvstui.engine.quorum import initial_quorum, step_quorum, threshold


@pytest.mark.parametrize(
    ("up", "weight", "quorum", "hyst", "want_up", "changed"),
    [
        # while up: down only when weight < quorum - hysteresis
        (True, 30, 30, 2, True, False),
        (True, 29, 30, 2, True, False),
        (True, 28, 30, 2, True, False),
        (True, 27, 30, 2, False, True),
        # while down: up only when weight >= quorum + hysteresis
        (False, 27, 30, 2, False, False),
        (False, 30, 30, 2, False, False),
        (False, 31, 30, 2, False, False),
        (False, 32, 30, 2, True, True),
        # hysteresis 0: plain quorum
        (True, 1, 1, 0, True, False),
        (True, 0, 1, 0, False, True),
        (False, 1, 1, 0, True, True),
        # weight 0 always loses the quorum (keepalived's `!weight_sum`)
        (True, 0, 0, 0, False, True),
        # ...and never regains it (we refuse to flap at quorum 0)
        (False, 0, 0, 0, False, False),
        (False, 1, 0, 0, True, True),
    ],
)
def test_step(up: bool, weight: int, quorum: int, hyst: int, want_up: bool, changed: bool) -> None:
    step = step_quorum(up, weight, quorum, hyst)
    assert (step.up, step.changed) == (want_up, changed)
    assert step.live_weight == weight


def test_threshold_depends_on_state() -> None:
    assert threshold(True, 30, 2) == 28
    assert threshold(False, 30, 2) == 32


@pytest.mark.parametrize(("weight", "want"), [(0, False), (31, False), (32, True), (40, True)])
def test_initial_needs_quorum_plus_hysteresis(weight: int, want: bool) -> None:
    step = initial_quorum(weight, 30, 2)
    assert step.up is want and step.changed and step.threshold == 32


def test_tutorial_walk() -> None:
    """The tutorial's servers (quorum 30, hysteresis 2) losing weight one by one, then back.

    The tutorial words it as "down at 29, up again at 31, not 30"; keepalived's formula (which
    we follow) says down below 28 and up at 32: this walk pins the real thresholds.
    """
    up = True
    transitions = []
    for w in [34, 31, 29, 28, 27, 28, 30, 31, 32, 33]:
        step = step_quorum(up, w, 30, 2)
        if step.changed:
            transitions.append((w, step.up))
        up = step.up
    assert transitions == [(27, False), (32, True)]
