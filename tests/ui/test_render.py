from __future__ import annotations

import pytest

from lvstui.config.schema import LbKind, Protocol
from lvstui.model import (
    CheckView,
    ConfigReloaded,
    DrainProgress,
    DrainState,
    Health,
    HealthChanged,
    LogEvent,
    NotifyResult,
    OperatorAction,
    QuorumChanged,
    RealKey,
    RealServerView,
    ServiceKey,
    ServiceView,
    VrrpChanged,
    VrrpRunState,
)
from lvstui.ui import render

SVC = ServiceKey(Protocol.TCP, "192.0.2.1", 80)
REAL = RealKey("198.51.100.1", 8080)
NOW = 1_700_000_100.0


def _real(**kw: object) -> RealServerView:
    base: dict[str, object] = dict(key=REAL, fwd=LbKind.NAT, weight_config=5, weight=5)
    base.update(kw)
    return RealServerView(**base)  # type: ignore[arg-type]


def test_sparkline_scales_to_window_max_and_pads() -> None:
    assert render.sparkline([0, 40, 80], width=5) == "   ▄█"
    assert render.sparkline([], width=3) == "   "
    assert render.sparkline([0, 0], width=2) == "  "
    # only the last `width` samples count
    assert render.sparkline([100, 10, 10], width=2) == "██"
    # a tiny non-zero value is still visible
    assert render.sparkline([1, 1000], width=2) == "▁█"


def test_one_connection_never_draws_a_full_bar() -> None:
    # the issue: each row scaled to itself, so a lone connection filled the cell
    assert render.sparkline([1], width=1) == "▁"
    assert render.sparkline([0, 1, 0, 1], width=4) == " ▁ ▁"
    # up to SPARK_FLOOR connections, one block step each
    assert render.sparkline([4, 8], width=2) == "▄█"


def test_real_server_rows_share_their_service_peak() -> None:
    busy = _real(history=(100, 100, 100))
    quiet = _real(key=RealKey("10.0.0.9", 80), history=(2, 2, 2))
    sv = _service(real_servers=(busy, quiet))
    peak = render.spark_peak(sv)
    assert peak == 100
    assert render.real_cells(busy, NOW, peak)[-1].strip() == "███"
    assert render.real_cells(quiet, NOW, peak)[-1].strip() == "▁▁▁"
    # only the sparkline's window counts toward the peak
    old_burst = _real(history=(1000,) + (1,) * render.SPARK_WIDTH)
    assert render.spark_peak(_service(real_servers=(old_burst,))) == 1


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (0, "0s"),
        (5.9, "5s"),
        (99, "99s"),
        (100, "1m"),
        (5999, "99m"),
        (7200, "2h"),
        (3 * 86400, "3d"),
        (-5, "0s"),
    ],
)
def test_age(delta: float, text: str) -> None:
    assert render.age(NOW - delta, NOW) == text


def test_age_never() -> None:
    assert render.age(None, NOW) == "-"


def test_real_cells_ipvsadm_columns_and_extras() -> None:
    chk = CheckView("http_get", "x", Health.UP, NOW - 3, True, "", 0.0042, 5.0)
    cells = render.real_cells(
        _real(active_conns=12, inact_conns=3, health=Health.UP, checks=(chk,), history=(0, 20, 40)),
        NOW,
    )
    by = dict(zip([c.key for c in render.COLUMNS], cells, strict=True))
    assert by["addr"] == "  -> 198.51.100.1:8080"
    assert by["fwd"] == "Masq"
    assert by["weight"] == "5"
    assert (by["active"], by["inact"]) == ("12", "3")
    assert by["status"] == "up"
    assert by["check"] == "ok 4.2ms"
    assert by["age"] == "3s"
    assert by["spark"].endswith("▄█")


def test_real_cells_down_drain_override_and_fit() -> None:
    chk = CheckView(
        "tcp_check",
        "x",
        Health.DOWN,
        NOW - 1,
        False,
        "connection refused by the peer after a long while",
    )
    cells = render.real_cells(_real(weight=0, health=Health.DOWN, checks=(chk,)), NOW)
    by = dict(zip([c.key for c in render.COLUMNS], cells, strict=True))
    assert by["status"] == "DOWN"
    assert by["weight"] == "0/5"
    assert by["check"].startswith("FAIL connect") and by["check"].endswith("…")
    assert all(len(v) <= c.width for c, v in zip(render.COLUMNS, cells, strict=True))
    draining = render.real_cells(_real(weight=0, drain=DrainState.DRAINING, active_conns=7), NOW)
    assert draining[6] == "drain 7"
    assert render.real_cells(_real(weight=0, drain=DrainState.SAFE), NOW)[6] == "safe"
    assert render.real_cells(_real(weight=9, weight_override=9), NOW)[3] == "9/5*"
    assert render.real_cells(_real(), NOW)[8] == "no check"
    never_ran = CheckView("tcp_check", "x")
    assert render.real_cells(_real(checks=(never_ran,)), NOW)[8:10] == ("pending", "-")
    assert render.real_cells(_real(fwd=LbKind.DR), NOW)[2] == "Route"
    assert render.real_cells(_real(fwd=LbKind.TUN), NOW)[2] == "Tunnel"


def _service(**kw: object) -> ServiceView:
    base: dict[str, object] = dict(
        key=SVC,
        scheduler="wlc",
        lb_kind=LbKind.NAT,
        name="web",
        quorum=6,
        hysteresis=1,
        live_weight=8,
        real_servers=(
            _real(active_conns=3, inact_conns=1),
            _real(key=RealKey("198.51.100.2", 80), active_conns=4),
        ),
    )
    base.update(kw)
    return ServiceView(**base)  # type: ignore[arg-type]


def test_service_cells_sum_connections_and_show_quorum_state() -> None:
    cells = render.service_cells(_service(persistence_timeout=300), NOW)
    assert cells[0] == "TCP 192.0.2.1:80 web"
    assert cells[1].startswith("wlc per")
    assert (cells[4], cells[5]) == ("7", "1")
    assert cells[6] == "ok"
    assert render.service_cells(_service(quorum_up=False), NOW)[6] == "NO QUORUM"
    assert render.service_cells(_service(sorry_active=True), NOW)[6] == "SORRY"


def test_quorum_line() -> None:
    line = render.quorum_line(_service(), width=10)
    assert line.startswith("192.0.2.1:80")
    assert "8/6±1 up" in line
    bar = line[line.index("[") + 1 : line.index("]")]
    assert len(bar) == 10 and "|" in bar and bar.count("█") >= 7
    down = render.quorum_line(
        _service(
            live_weight=0,
            quorum_up=False,
            sorry_active=True,
            sorry_server=RealKey("127.0.0.1", 8099),
        ),
        width=10,
    )
    assert "DOWN" in down and "sorry→127.0.0.1:8099" in down
    assert "█" not in down


@pytest.mark.parametrize(
    ("event", "level", "needle"),
    [
        (HealthChanged(NOW, SVC, REAL, Health.DOWN, "timeout"), "error", "→ down (timeout)"),
        (HealthChanged(NOW, SVC, REAL, Health.UP), "info", "→ up"),
        (
            VrrpChanged(NOW, "VI_1", VrrpRunState.BACKUP, VrrpRunState.MASTER, "peer gone"),
            "info",
            "BACKUP → MASTER (peer gone)",
        ),
        (VrrpChanged(NOW, "VI_1", VrrpRunState.MASTER, VrrpRunState.FAULT), "warning", "FAULT"),
        (QuorumChanged(NOW, SVC, False, 2, 6, True), "error", "LOST (2/6, sorry server active)"),
        (OperatorAction(NOW, "alice", "drain x y", True), "info", "alice: drain x y ok"),
        (OperatorAction(NOW, "bob", "weight", False, "no such"), "error", "FAILED: no such"),
        (DrainProgress(NOW, SVC, REAL, DrainState.DRAINING, 5, 2), "info", "5 active, 2 inactive"),
        (DrainProgress(NOW, SVC, REAL, DrainState.SAFE, 0, 0), "info", "safe"),
        (DrainProgress(NOW, SVC, REAL, DrainState.EXPIRED, 0, 0), "warning", "expired"),
        (NotifyResult(NOW, "quorum_down x", False, "exit 1"), "warning", "FAILED: exit 1"),
        (ConfigReloaded(NOW, True, "1 change"), "info", "reloaded: 1 change"),
        (LogEvent(NOW, "warning", "hello"), "warning", "hello"),
    ],
)
def test_event_line(event: object, level: str, needle: str) -> None:
    got_level, text = render.event_line(event)  # type: ignore[arg-type]
    assert got_level == level
    assert needle in text


def test_count_is_singular_for_one() -> None:
    assert [render.count(n, "service") for n in (0, 1, 2)] == [
        "0 services",
        "1 service",
        "2 services",
    ]
