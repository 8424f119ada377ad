"""A drain's progress, as a pure step function: (track, event, now) -> (track, actions).

A drained real server gets weight 0 (no new connections, `desired.py`); what is left to
follow is its remaining connections. Every tick the engine observes the destination and
steps its track:

    DRAINING --no connection left--> SAFE --connections again--> DRAINING
    DRAINING --timeout passed, the destination is there--> (Expire) --done--> EXPIRED

EXPIRED stays until the operator undrains (then the track ends). The expiry itself is I/O
(the dataplane ends the connections, or the kernel's destination is deleted): the step
asks for it with an `Expire` action and takes the outcome as an `ExpireDone` event, so
this module decides and the engine only acts.

Every visible change (state, or the connection counts) is a `Report` action: the engine
publishes it as a DrainProgress event.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lvstui.model import DrainState

__all__ = [
    "DrainAction",
    "DrainEvent",
    "DrainTrack",
    "Expire",
    "ExpireDone",
    "Observe",
    "Report",
    "start_drain",
    "step_drain",
]


@dataclass(frozen=True, slots=True)
class DrainTrack:
    state: DrainState
    since: float  # clock.now() when the drain started
    timeout: float  # seconds; 0 = none (connections are left to finish)
    active: int = 0
    inact: int = 0


@dataclass(frozen=True, slots=True)
class Observe:
    """The destination as the dataplane holds it now (`present`: it is in the table)."""

    active: int
    inact: int
    present: bool


@dataclass(frozen=True, slots=True)
class ExpireDone:
    """The outcome of an `Expire` action, with the counts observed before it."""

    ok: bool
    active: int
    inact: int


DrainEvent = Observe | ExpireDone


@dataclass(frozen=True, slots=True)
class Report:
    state: DrainState
    active: int
    inact: int


@dataclass(frozen=True, slots=True)
class Expire:
    """End the remaining connections now; answer with ExpireDone(ok, active, inact)."""

    active: int
    inact: int


DrainAction = Report | Expire


def start_drain(now: float, timeout: float | None) -> tuple[DrainTrack, tuple[DrainAction, ...]]:
    """A new drain: DRAINING until the first observation says otherwise. It reports nothing
    yet: the engine steps it with an observation at once, and that first report carries the
    real counts (a report here could only say "0 active, 0 inactive", which is false)."""
    return DrainTrack(DrainState.DRAINING, now, timeout or 0.0), ()


def step_drain(
    track: DrainTrack, event: DrainEvent, now: float
) -> tuple[DrainTrack, tuple[DrainAction, ...]]:
    match event:
        case Observe(active=active, inact=inact, present=present):
            if _expiry_due(track, active + inact, present, now):
                return track, (Expire(active, inact),)
            return _settle(track, _next_state(track.state, active + inact), active, inact)
        case ExpireDone(ok=ok, active=active, inact=inact):
            return _settle(track, DrainState.EXPIRED if ok else track.state, active, inact)


def _expiry_due(track: DrainTrack, conns: int, present: bool, now: float) -> bool:
    return (
        track.state is DrainState.DRAINING
        and conns > 0
        and track.timeout > 0
        and now - track.since >= track.timeout
        and present
    )


def _next_state(state: DrainState, conns: int) -> DrainState:
    if state is DrainState.EXPIRED:
        return state  # out of the table until undrained
    if conns == 0:
        return DrainState.SAFE
    if state is DrainState.SAFE:
        return DrainState.DRAINING
    return state


def _settle(
    track: DrainTrack, state: DrainState, active: int, inact: int
) -> tuple[DrainTrack, tuple[DrainAction, ...]]:
    if state is track.state and (active, inact) == (track.active, track.inact):
        return track, ()
    new = replace(track, state=state, active=active, inact=inact)
    return new, (Report(state, active, inact),)
