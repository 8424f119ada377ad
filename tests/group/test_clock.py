from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lvstui.group.clock import MAX_DRIFT_MS, Hlc, HlcClock


def test_tick_follows_wall_clock_and_never_goes_back() -> None:
    c, t1 = HlcClock().tick(1000)
    assert t1 == Hlc(1000, 0)
    c, t2 = c.tick(1000)
    assert t2 == Hlc(1000, 1)
    c, t3 = c.tick(900)  # wall clock stepped back: still after t2
    assert t3 == Hlc(1000, 2) and t3 > t2
    c, t4 = c.tick(2000)
    assert t4 == Hlc(2000, 0)


def test_observe_then_tick_is_after_the_remote_stamp() -> None:
    c, _ = HlcClock().tick(1000)
    c, far = c.observe(Hlc(5000, 7), 1001)
    assert not far
    c, t = c.tick(1002)  # our wall clock is behind the peer's: the logical part carries on
    assert t > Hlc(5000, 7)


def test_observe_reports_a_peer_far_ahead() -> None:
    _, far = HlcClock().observe(Hlc(10_000 + MAX_DRIFT_MS + 1), 10_000)
    assert far
    _, near = HlcClock().observe(Hlc(10_000 + MAX_DRIFT_MS), 10_000)
    assert not near


def test_parse_round_trip() -> None:
    assert Hlc.parse(str(Hlc(123, 4))) == Hlc(123, 4)
    assert Hlc.parse("77") == Hlc(77, 0)


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("tick"), st.integers(0, 10_000)),
            st.tuples(st.just("recv"), st.integers(0, 10_000), st.integers(0, 50)),
        ),
        max_size=60,
    )
)
def test_timestamps_strictly_increase_and_dominate_what_was_seen(
    events: list[tuple[object, ...]],
) -> None:
    clock = HlcClock()
    seen = Hlc(0, 0)
    for ev in events:
        if ev[0] == "tick":
            before = clock.last
            clock, ts = clock.tick(int(str(ev[1])))
            assert ts > before
            assert ts > seen
        else:
            remote = Hlc(int(str(ev[1])), int(str(ev[2])))
            clock, _ = clock.observe(remote, 0)
            assert clock.last > remote
            seen = max(seen, remote)
