"""The director line: role from the VRRP instances, VIPs, totals with sparklines."""

from __future__ import annotations

from lvstui.model import (
    LbKind,
    Protocol,
    ServiceKey,
    ServiceView,
    Snapshot,
    Stats,
    VrrpRunState,
    VrrpView,
)
from lvstui.ui.header import director_line, rate, role
from lvstui.ui.history import SeriesStore


def _vrrp(name: str, state: VrrpRunState, *vips: str) -> VrrpView:
    return VrrpView(name, "eth0", 51, state, 100, 100, 2, 1.0, vips=vips)


def _svc(port: int, cps: int, inbps: int, outbps: int) -> ServiceView:
    return ServiceView(
        ServiceKey(Protocol.TCP, "192.0.2.10", port),
        "rr",
        LbKind.NAT,
        stats=Stats(cps=cps, inbps=inbps, outbps=outbps),
    )


def test_role_agrees_or_says_mixed() -> None:
    m, b = VrrpRunState.MASTER, VrrpRunState.BACKUP
    assert role(Snapshot(1, 0.0)) == "no VRRP"
    assert role(Snapshot(1, 0.0, vrrp=(_vrrp("a", m), _vrrp("b", m)))) == "MASTER"
    assert role(Snapshot(1, 0.0, vrrp=(_vrrp("a", b),))) == "BACKUP"
    mixed = Snapshot(1, 0.0, vrrp=(_vrrp("a", m), _vrrp("b", b), _vrrp("c", b)))
    assert role(mixed) == "MIXED 2 BACKUP/1 MASTER"
    fault = Snapshot(1, 0.0, vrrp=(_vrrp("a", m), _vrrp("b", VrrpRunState.FAULT)))
    assert role(fault) == "MIXED 1 MASTER/1 FAULT"


def test_rate_units() -> None:
    assert rate(0, "B/s") == "0 B/s"
    assert rate(950, "B/s") == "950 B/s"
    assert rate(1234, "B/s") == "1.2 kB/s"
    assert rate(34_000_000, "B/s") == "34 MB/s"
    assert rate(12, "conn/s") == "12 conn/s"


def _text(pieces: list[tuple[str, str]]) -> str:
    return "".join(t for t, _ in pieces)


def test_line_sums_services_shows_vips_and_trends() -> None:
    series = SeriesStore()
    snaps = [
        Snapshot(
            i,
            float(i),
            services=(_svc(80, 10 * i, 1000 * i, 5000), _svc(443, 5, 500, 0)),
            vrrp=(
                _vrrp("a", VrrpRunState.MASTER, "192.0.2.10", "192.0.2.11"),
                _vrrp("b", VrrpRunState.MASTER, "192.0.2.11", "192.0.2.12"),
            ),
        )
        for i in range(1, 9)
    ]
    for s in snaps:
        series.record(s)
    pieces = director_line(snaps[-1], series, 200)
    text = _text(pieces)
    assert text.startswith("MASTER · VIPs 192.0.2.10, 192.0.2.11 +1 · 85 conn/s")
    assert "in 8.5 kB/s" in text and "out 5.0 kB/s" in text
    sparks = [t for t, what in pieces if what == "spark"]
    assert len(sparks) == 3
    assert sparks[0].endswith("█") and sparks[0].startswith("▁")  # connections/s grew
    assert set(sparks[2]) == {"█"}  # out: flat, at its own peak
    # narrower: the sparklines shrink, then go; the figures stay
    narrow = _text(director_line(snaps[-1], series, 80))
    assert len(narrow) <= 80 and "85 conn/s" in narrow
    tiny = director_line(snaps[-1], series, 40)
    assert not [t for t, what in tiny if what == "spark"]
    assert _text(tiny).startswith("MASTER · 3 VIPs · 85 conn/s")
    # the same snapshot twice adds no sample to the totals
    series.record(snaps[-1])
    assert len(series.totals("cps")) == len(snaps)


def test_no_vip_no_service() -> None:
    text = _text(director_line(Snapshot(1, 0.0), SeriesStore(), 120))
    assert text.startswith("no VRRP · no VIP · 0 conn/s · in 0 B/s · out 0 B/s")
