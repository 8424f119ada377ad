"""Quorum with hysteresis and the sorry-server rule, exactly as keepalived computes them.

Pure: no I/O, no clock. The engine calls `initial_quorum` once per service when it starts
(or when a reload adds a service) and `step_quorum` after every change of live weight.

keepalived (check/ipwrapper.c, ``update_quorum_state`` and ``set_quorum_states``) keeps one
boolean per virtual server and compares the *live weight* — the sum of the effective weights
of the real servers that are alive — with a threshold that depends on the current state::

    threshold = quorum - hysteresis   while the quorum is up
    threshold = quorum + hysteresis   while the quorum is down

    up   → down  when live_weight < quorum - hysteresis   (or live_weight == 0)
    down → up    when live_weight >= quorum + hysteresis
    at start     up iff live_weight >= quorum + hysteresis

The tutorial's example (quorum 30, hysteresis 2) says "a quorum_down detected at 29 does not
call quorum_up at 30 but only at 31". That wording describes a band of one unit above the
quorum; keepalived's real formula is symmetric and twice as wide: with quorum 30 and
hysteresis 2, the quorum is lost only when the live weight falls below 28 (at 27), and it is
gained again only at 32 or more. **We follow keepalived**, so a configuration moved from
keepalived behaves identically; docs/services.md shows both readings side by side.

Sorry server (keepalived's rule, also in ``update_quorum_state``): the sorry server is put
into the pool when the quorum is *lost* — not only when no real server is alive — and the
real servers that are still alive are taken out of the pool at that moment (inhibited ones
stay at weight 0). It leaves the pool, and the alive servers come back, when the quorum is
regained. With the default quorum of 1 this is the tutorial's "no real server answers". When a
service starts with its quorum down, the sorry server is put in at once.

One deliberate difference: keepalived can flap between up and down at a live weight of 0
when quorum + hysteresis ≤ 0 (its "down" rule also fires at weight 0, its "up" rule then
fires again). We never call the quorum up while the live weight is 0, which only matters for
a quorum of 0.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["QuorumStep", "initial_quorum", "step_quorum", "threshold"]


@dataclass(frozen=True, slots=True)
class QuorumStep:
    """The result of one evaluation: the new state and whether it changed."""

    up: bool
    changed: bool
    threshold: int  # the threshold the decision was taken against (for logs and alerts)
    live_weight: int


def threshold(up: bool, quorum: int, hysteresis: int) -> int:
    """The live weight the quorum is compared with, in the given current state."""
    return quorum - hysteresis if up else quorum + hysteresis


def initial_quorum(live_weight: int, quorum: int, hysteresis: int) -> QuorumStep:
    """State at start (keepalived's ``set_quorum_states``): up iff ≥ quorum + hysteresis.

    `changed` is always True: keepalived runs the matching notify ("Starting with quorum
    up/down") at start, and so do we.
    """
    t = quorum + hysteresis
    return QuorumStep(
        up=live_weight >= t and live_weight > 0, changed=True, threshold=t, live_weight=live_weight
    )


def step_quorum(up: bool, live_weight: int, quorum: int, hysteresis: int) -> QuorumStep:
    """Advance the quorum state after the live weight changed (``update_quorum_state``)."""
    t = threshold(up, quorum, hysteresis)
    # `live_weight > 0`: keepalived would gain the quorum at weight 0 when quorum +
    # hysteresis is 0 and lose it again on the next evaluation (its down rule also fires at
    # weight 0). Requiring some live weight to go up removes that flapping; only a quorum of
    # 0 can reach it, and such a service has nothing to serve with anyway.
    if not up and live_weight >= t and live_weight > 0:
        return QuorumStep(up=True, changed=True, threshold=t, live_weight=live_weight)
    if up and (live_weight == 0 or live_weight < t):
        return QuorumStep(up=False, changed=True, threshold=t, live_weight=live_weight)
    return QuorumStep(up=up, changed=False, threshold=t, live_weight=live_weight)
