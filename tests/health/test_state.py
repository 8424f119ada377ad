"""Rise/fall/alpha as a pure function, table-driven."""

from __future__ import annotations

import pytest

from lvstui.health.state import advance, aggregate, initial_state
from lvstui.model import Health

U, D = Health.UP, Health.DOWN


@pytest.mark.parametrize(
    ("alpha", "rise", "fall", "results", "healths", "flips"),
    [
        # no alpha: starts up, one failure takes it down (fall 1), one pass back up
        (False, 1, 1, "FP", "DU", [0, 1]),
        (False, 1, 1, "PPP", "UUU", []),
        # alpha: starts down until proven up
        (True, 1, 1, "P", "U", [0]),
        (True, 1, 1, "FFP", "DDU", [2]),
        # rise 3: three passes in a row needed; a failure resets the count
        (True, 3, 1, "PPFPPP", "DDDDDU", [5]),
        # fall 2: two failures in a row; a pass in between resets
        (False, 1, 2, "FPFFF", "UUUDD", [3]),
        (False, 2, 2, "FFPPFP", "UDDUUU", [1, 3]),
    ],
)
def test_rise_fall_alpha(
    alpha: bool, rise: int, fall: int, results: str, healths: str, flips: list[int]
) -> None:
    st = initial_state(alpha, rise, fall, now=0.0)
    assert st.health is (D if alpha else U)
    seen_flips = []
    for i, (r, h) in enumerate(zip(results, healths, strict=True)):
        old = st.health
        st, tr = advance(st, r == "P", float(i + 1), f"run {i}")
        assert st.health is (U if h == "U" else D), (i, st)
        if tr is not None:
            seen_flips.append(i)
            assert tr.old is old and tr.new is st.health and tr.at == i + 1
            assert tr.reason == f"run {i}"
            assert st.since == i + 1
    assert seen_flips == flips


def test_aggregate_all_must_pass() -> None:
    assert aggregate([]) is U
    assert aggregate([U, U]) is U
    assert aggregate([U, D]) is D
    assert aggregate([Health.UNKNOWN]) is D
