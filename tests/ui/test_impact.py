"""The drain/remove dialogs' warning: below quorum, or no live server left."""

from __future__ import annotations

from lvstui.model import Health, LbKind, Protocol, RealKey, RealServerView, ServiceKey, ServiceView
from lvstui.ui.impact import weight_impact

SVC = ServiceKey(Protocol.TCP, "192.0.2.10", 80)
A, B, SORRY = RealKey("192.0.2.1", 80), RealKey("192.0.2.2", 80), RealKey("192.0.2.9", 80)


def service(
    weights: dict[RealKey, int], quorum: int, sorry: bool = False, down: tuple[RealKey, ...] = ()
) -> ServiceView:
    reals = tuple(
        RealServerView(k, LbKind.NAT, w, w, health=Health.DOWN if k in down else Health.UP)
        for k, w in weights.items()
    )
    live = sum(w for k, w in weights.items() if k not in down)
    return ServiceView(
        SVC,
        "rr",
        LbKind.NAT,
        quorum=quorum,
        live_weight=live,
        sorry_server=SORRY if sorry else None,
        real_servers=reals,
    )


def test_a_drain_within_quorum_says_nothing() -> None:
    assert weight_impact(service({A: 1, B: 1}, quorum=1), A, 0) == ""


def test_a_drain_below_quorum_says_so_and_names_the_sorry_server() -> None:
    msg = weight_impact(service({A: 1, B: 1}, quorum=2, sorry=True), A, 0)
    assert "below its quorum (live weight 2 → 1, quorum 2)" in msg
    assert f"sorry server {SORRY}" in msg


def test_draining_the_last_live_server_says_nothing_is_left() -> None:
    msg = weight_impact(service({A: 1, B: 1}, quorum=1, down=(B,)), A, 0)
    assert "without a live server" in msg and "nowhere to go" in msg


def test_draining_a_server_already_down_changes_nothing() -> None:
    assert weight_impact(service({A: 1, B: 1}, quorum=1, down=(B,)), B, 0) == ""


def test_unknown_service_says_nothing() -> None:
    assert weight_impact(None, A, 0) == ""
