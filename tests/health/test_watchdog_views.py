"""The watchdog and one probe per target, as the operator sees them: metrics and console."""

from __future__ import annotations

from lvstui.config.schema import LbKind
from lvstui.metrics import EngineCollector
from lvstui.model import (
    CheckView,
    Health,
    RealKey,
    RealServerView,
    ServiceKey,
    ServiceView,
    Snapshot,
)
from lvstui.ui import render


def _snap(check: CheckView, lag: float = 0.0) -> Snapshot:
    sk = ServiceKey.parse("TCP 203.0.113.1:80")
    real = RealServerView(RealKey("198.51.100.1", 80), LbKind.NAT, 1, 1, Health.UP, checks=(check,))
    return Snapshot(
        1, 0.0, services=(ServiceView(sk, "rr", LbKind.NAT, real_servers=(real,)),), check_lag=lag
    )


def test_stale_shared_and_lag_are_metrics() -> None:
    check = CheckView("tcp_check", "198.51.100.1:80", Health.UP, shared=100, stale=True)
    got = {
        (s.name, s.labels.get("check")): s.value
        for fam in EngineCollector(lambda: _snap(check, lag=0.25)).collect()
        for s in fam.samples
    }
    assert got[("lvstui_check_stale", "tcp_check")] == 1
    assert got[("lvstui_check_shared", "tcp_check")] == 100
    assert got[("lvstui_check_scheduler_lag_seconds", None)] == 0.25


def test_console_shows_stale_first_and_sharing() -> None:
    fresh = CheckView("http_get", "http://198.51.100.1:80/", Health.UP, last_run=5.0, last_ok=True)
    stale = CheckView("tcp_check", "198.51.100.1:80", Health.UP, last_run=1.0, stale=True, shared=3)
    assert render.shown_check((fresh, stale)) is stale
    assert render.check_summary(stale) == "STALE tcp_check"
    assert render.check_target(stale) == "198.51.100.1:80 ×3"
    assert render.check_target(fresh) == "http://198.51.100.1:80/"
    assert render.shown_check((fresh,)) is fresh


def test_console_shows_a_slow_start_ramp() -> None:
    real = RealServerView(
        RealKey("198.51.100.1", 80), LbKind.NAT, 10, 3, Health.UP, ramp_until=1000.0
    )
    assert render.real_status(real) == "ramping"
    from dataclasses import replace

    assert render.real_status(replace(real, ramp_until=None, weight=10)) == "up"


def test_drill_down_names_the_services_sharing_a_probe() -> None:
    shared = CheckView("tcp_check", "198.51.100.1:80", Health.UP, period=2.0, shared=3)
    other = CheckView("tcp_check", "198.51.100.9:80", Health.UP, period=2.0)
    services = tuple(
        ServiceView(
            ServiceKey.parse(f"TCP 203.0.113.{i}:80"),
            "rr",
            LbKind.NAT,
            real_servers=(
                RealServerView(
                    RealKey("198.51.100.1" if i < 4 else "198.51.100.9", 80),
                    LbKind.NAT,
                    1,
                    1,
                    Health.UP,
                    checks=(shared if i < 4 else other,),
                ),
            ),
        )
        for i in (1, 2, 3, 4)
    )
    snap = Snapshot(1, 0.0, services=services)
    lines = render.probe_sharing(snap, services[0], services[0].real_servers[0])
    assert lines == [
        "probe     tcp_check 198.51.100.1:80: one probe for 3 servers; "
        "also TCP 203.0.113.2:80, TCP 203.0.113.3:80"
    ]
    assert render.probe_sharing(snap, services[3], services[3].real_servers[0]) == []
