"""Rise/fall and aggregation: pure functions, no I/O, no clock of their own.

One `CheckState` per (real server, check). `advance(state, ok, now)` folds the final result
of one run (after its retries) into the state and says whether the check's verdict changed.

- alpha set: a check starts DOWN, and needs `rise` passed runs to go UP.
- alpha unset: a check starts UP (keepalived: the server is in the table from the start),
  and needs `fall` failed runs to go DOWN.
- A real server is UP only when every one of its checks is UP (`aggregate`); with no check
  at all it is always UP.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from lvstui.model import Health

__all__ = ["CheckState", "Transition", "advance", "aggregate", "initial_state"]


@dataclass(frozen=True, slots=True)
class CheckState:
    health: Health  # UP or DOWN (the check's verdict, after rise/fall)
    rise: int = 1
    fall: int = 1
    ok_streak: int = 0  # consecutive passed runs
    fail_streak: int = 0  # consecutive failed runs
    since: float = 0.0  # when `health` last changed (monotonic)


@dataclass(frozen=True, slots=True)
class Transition:
    old: Health
    new: Health
    at: float
    reason: str


def initial_state(alpha: bool, rise: int = 1, fall: int = 1, now: float = 0.0) -> CheckState:
    return CheckState(
        health=Health.DOWN if alpha else Health.UP,
        rise=max(1, rise),
        fall=max(1, fall),
        since=now,
    )


def advance(
    state: CheckState, ok: bool, now: float, reason: str = ""
) -> tuple[CheckState, Transition | None]:
    """Fold one run's final result into the state. Returns the new state and the transition
    of this check's verdict, if any. A run that confirms a settled state (a pass while UP
    with no failure pending, a failure while DOWN with no pass pending) returns the very
    same state object: the common case allocates nothing."""
    if ok:
        if state.health is Health.UP and state.fail_streak == 0:
            return state, None
    elif state.health is Health.DOWN and state.ok_streak == 0:
        return state, None
    if ok:
        ok_streak, fail_streak = state.ok_streak + 1, 0
        flip = state.health is not Health.UP and ok_streak >= state.rise
        new_health = Health.UP if flip else state.health
    else:
        ok_streak, fail_streak = 0, state.fail_streak + 1
        flip = state.health is not Health.DOWN and fail_streak >= state.fall
        new_health = Health.DOWN if flip else state.health
    if not flip:
        return replace(state, ok_streak=ok_streak, fail_streak=fail_streak), None
    new = replace(state, health=new_health, ok_streak=ok_streak, fail_streak=fail_streak, since=now)
    return new, Transition(state.health, new_health, now, reason)


def aggregate(healths: Iterable[Health]) -> Health:
    """A real server is up when all its checks are up (no check: up)."""
    for h in healths:
        if h is not Health.UP:
            return Health.DOWN
    return Health.UP
