"""`lvstui status`: a check that never ran (e.g. suspended by ha_suspend) reads "never"."""

from __future__ import annotations

from lvstui.commands.status import render_status
from lvstui.config.schema import LbKind, Protocol
from lvstui.model import CheckView, RealKey, RealServerView, ServiceKey, ServiceView, Snapshot

NOW = 1_700_000_100.0


def _snap(check: CheckView) -> Snapshot:
    real = RealServerView(
        key=RealKey("192.0.2.1", 80), fwd=LbKind.NAT, weight_config=1, weight=1, checks=(check,)
    )
    svc = ServiceView(
        key=ServiceKey(Protocol.TCP, "198.51.100.9", 80),
        scheduler="rr",
        lb_kind=LbKind.NAT,
        quorum=1,
        hysteresis=0,
        live_weight=1,
        quorum_up=True,
        sorry_active=False,
        sorry_server=None,
        real_servers=(real,),
    )
    return Snapshot(seq=1, time=NOW, router_id="r", dataplane="memory", services=(svc,))


def test_a_check_that_never_ran_says_never() -> None:
    check = CheckView("tcp_check", "192.0.2.1:80", period=6.0, last_reason="suspended (VIP)")
    text = render_status(_snap(check), NOW)
    line = next(x for x in text.splitlines() if "tcp_check" in x)
    assert "last run never: suspended (VIP)  (every 6s, 0/0 failed)" in line
    assert "ago" not in line and " -" not in line
    plain = render_status(_snap(CheckView("tcp_check", "192.0.2.1:80", period=6.0)), NOW)
    assert "last run never  (every 6s" in plain
