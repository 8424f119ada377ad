"""The Prometheus endpoint, scraped over HTTP on 127.0.0.1."""

from __future__ import annotations

import sys
from dataclasses import replace

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lvstui.config.schema import MetricsCompat
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.errors import ConfigError
from lvstui.metrics import parse_listen
from lvstui.model import Drain, Health, Stats
from lvstui.wiring import start_metrics
from tests.engine.builders import SK, R, config
from tests.helpers import async_wait_until


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return (name, frozenset(labels.items()))


async def test_scrape_metrics() -> None:
    base = config(quorum_down=f"{sys.executable} -c pass")
    compat = (MetricsCompat.NODE_EXPORTER, MetricsCompat.KEEPALIVED)
    settings = replace(base.lvstui, metrics_listen="127.0.0.1:0", metrics_compat=compat)
    cfg = replace(base, lvstui=settings)
    dp = MemoryDataplane()
    e = Engine(cfg, dataplane=dp)
    await e.start()
    server = start_metrics(e)
    assert server is not None
    try:
        host, port = server.address
        url = f"http://{host}:{port}/metrics"
        dp.set_counters(SK, stats=Stats(conns=42, inbytes=1000, cps=3))
        dp.set_counters(SK, R[0], active=5, inactive=2)
        await e.tick()
        assert (await e.call(Drain(SK, R[1]))).ok
        e.set_health(SK, R[2], Health.DOWN)
        await async_wait_until(lambda: e.published_snapshot().services[0].live_weight == 2)
        async with httpx.AsyncClient() as client:
            resp = await client.get(url)
        assert resp.status_code == 200
        m = samples(resp.text)
        svc = {"vip": SK.addr, "vport": str(SK.port), "proto": "TCP", "fwmark": ""}
        r0, r1, r2 = ({**svc, "rip": r.addr, "rport": str(r.port)} for r in R[:3])
        assert m[key("lvstui_service_connections_total", **svc)] == 42
        assert m[key("lvstui_service_bytes_total", **svc, direction="in")] == 1000
        assert m[key("lvstui_service_connections_per_second", **svc)] == 3
        assert m[key("lvstui_real_active_connections", **r0)] == 5
        assert m[key("lvstui_real_inactive_connections", **r0)] == 2
        assert m[key("lvstui_real_weight", **r0)] == 2
        assert m[key("lvstui_real_weight", **r1)] == 0
        assert m[key("lvstui_real_draining", **r1)] == 1
        assert m[key("lvstui_real_up", **r2)] == 0
        assert m[key("lvstui_service_live_weight", **svc)] == 2
        assert m[key("lvstui_service_quorum_up", **svc)] == 1
        # metrics_compat: node_exporter's ipvs families from the same snapshot
        backend = {
            "local_address": SK.addr,
            "local_port": str(SK.port),
            "proto": "TCP",
            "local_mark": "",
        }
        b0 = {**backend, "remote_address": R[0].addr, "remote_port": str(R[0].port)}
        b1 = {**backend, "remote_address": R[1].addr, "remote_port": str(R[1].port)}
        assert m[key("node_ipvs_connections_total")] == 42
        assert m[key("node_ipvs_incoming_bytes_total")] == 1000
        assert m[key("node_ipvs_backend_connections_active", **b0)] == 5
        assert m[key("node_ipvs_backend_connections_inactive", **b0)] == 2
        assert m[key("node_ipvs_backend_weight", **b0)] == 2
        assert m[key("node_ipvs_backend_weight", **b1)] == 0
        assert m[key("keepalived_up")] == 1
        assert m[key("lvstui_notify_total", result="ok")] == 0
    finally:
        server.close()
        await e.stop()


@pytest.mark.parametrize(
    ("text", "want"),
    [("127.0.0.1:9336", ("127.0.0.1", 9336)), ("[::1]:9", ("::1", 9)), (":80", ("0.0.0.0", 80))],
)
def test_parse_listen(text: str, want: tuple[str, int]) -> None:
    assert parse_listen(text) == want


def test_parse_listen_error() -> None:
    with pytest.raises(ConfigError, match="metrics_listen"):
        parse_listen("nope")


def test_unknown_check_runs_are_a_metric() -> None:
    from lvstui.config.schema import LbKind
    from lvstui.metrics import EngineCollector
    from lvstui.model import CheckView, RealServerView, ServiceView, Snapshot

    check = CheckView("tcp_check", "10.0.0.1:80", Health.UP, runs=9, failures=1, unknown=4)
    real = RealServerView(R[0], LbKind.NAT, 1, 1, Health.UP, checks=(check,))
    snap = Snapshot(1, 0.0, services=(ServiceView(SK, "rr", LbKind.NAT, real_servers=(real,)),))
    got = {
        (s.name, s.labels.get("check")): s.value
        for fam in EngineCollector(lambda: snap).collect()
        for s in fam.samples
    }
    assert got[("lvstui_check_unknown_total", "tcp_check")] == 4
    assert got[("lvstui_check_failures_total", "tcp_check")] == 1


async def test_wired_director_serves_metrics_until_stopped() -> None:
    """`EngineParts.start` runs the engine, then the metrics endpoint; `stop` ends both."""
    from lvstui.wiring import build_engine

    base = config()
    cfg = replace(base, lvstui=replace(base.lvstui, metrics_listen="127.0.0.1:0"))
    parts = build_engine(cfg, memory=True, health=False, vrrp=False)
    await parts.start()
    try:
        assert parts.metrics is not None
        host, port = parts.metrics.address
        async with httpx.AsyncClient() as client:
            resp = await client.get(f"http://{host}:{port}/metrics")
        assert resp.status_code == 200
        labels = {"vip": SK.addr, "vport": str(SK.port), "proto": "TCP", "fwmark": ""}
        assert m_value(resp.text, "lvstui_service_live_weight", **labels) == 6
        assert "node_ipvs_" not in resp.text  # metrics_compat unset: lvstui's families only
    finally:
        await parts.stop(graceful=False)
    assert parts.metrics is None
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://{host}:{port}/metrics")


def m_value(text: str, name: str, **labels: str) -> float:
    return samples(text)[key(name, **labels)]


def test_compat_families_for_fwmark_services_and_vrrp() -> None:
    """A firewall-mark service's backends carry node_exporter's FWM labels; keepalived's
    state numbers are 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT, one series per virtual address."""
    from lvstui.config.schema import LbKind, Protocol
    from lvstui.metrics import EngineCollector
    from lvstui.model import (
        RealServerView,
        ServiceKey,
        ServiceView,
        Snapshot,
        VrrpRunState,
        VrrpView,
    )

    fwm = ServiceKey(Protocol.TCP, "", 0, fwmark=3)
    real = RealServerView(R[0], LbKind.DR, 7, 7, Health.UP, active_conns=4)
    vrrp = tuple(
        VrrpView(
            f"vi{n}",
            "eth0",
            50 + n,
            st,
            100,
            100,
            3,
            1.0,
            vips=("192.0.2.1", "192.0.2.2"),
            adverts_received=10 + n,
            priority_zero_sent=n,
            become_master=2,
        )
        for n, st in enumerate(VrrpRunState)
    )
    snap = Snapshot(
        1,
        0.0,
        services=(ServiceView(fwm, "rr", LbKind.DR, real_servers=(real,)),),
        vrrp=vrrp,
    )
    compat = (MetricsCompat.NODE_EXPORTER, MetricsCompat.KEEPALIVED)
    got = {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in EngineCollector(lambda: snap, compat=compat).collect()
        for s in fam.samples
    }
    b = {"local_address": "", "local_port": "0", "proto": "FWM", "local_mark": "00000003"}
    b |= {"remote_address": R[0].addr, "remote_port": str(R[0].port)}
    assert got[key("node_ipvs_backend_weight", **b)] == 7
    assert got[key("node_ipvs_backend_connections_active", **b)] == 4
    fw = {"vip": "", "vport": "0", "proto": "TCP", "fwmark": "3"}
    assert got[key("lvstui_real_weight", **fw, rip=R[0].addr, rport=str(R[0].port))] == 7
    states = {
        labels["iname"]: value
        for (name, ls), value in got.items()
        if name == "keepalived_vrrp_state"
        for labels in [dict(ls)]
        if labels["ip_address"] == "192.0.2.2"
    }
    inst = {"iname": "vi1", "intf": "eth0", "vrid": "51", "state": "BACKUP"}
    assert got[key("keepalived_advertisements_received_total", **inst)] == 11
    assert got[key("keepalived_priority_zero_sent_total", **inst)] == 1
    assert got[key("keepalived_become_master_total", **inst)] == 2
    stopped = {"iname": "vi4", "intf": "eth0", "vrid": "54", "state": ""}  # STOP: no name
    assert got[key("keepalived_advertisements_received_total", **stopped)] == 14
    assert got[key("lvstui_vrrp_adverts_received_total", vrrp_instance="vi3")] == 13
    assert got[key("lvstui_vrrp_become_master_total", vrrp_instance="vi0")] == 2
    assert states == {"vi0": 0, "vi1": 1, "vi2": 2, "vi3": 3}  # STOP has no keepalived number
    assert (
        got[
            key(
                "keepalived_vrrp_state", iname="vi2", intf="eth0", vrid="52", ip_address="192.0.2.1"
            )
        ]
        == 2
    )


def test_keepalived_compat_matches_the_exporter() -> None:
    """As cafebazaar's keepalived-exporter publishes keepalived 2.2's data: ip_address bare
    for a host address and with its prefix otherwise (keepalived's data dump), intf the
    address's own dev, the state name on the per-instance counters, release_master, and
    keepalived's error counters summed from lvstui's drop reasons."""
    from lvstui.metrics import EngineCollector
    from lvstui.model import Snapshot, VrrpRunState, VrrpView

    view = VrrpView(
        "VI_1",
        "eth0",
        51,
        VrrpRunState.MASTER,
        150,
        150,
        2,
        1.0,
        vips=("192.0.2.9/32", "192.0.2.10/24", "2001:db8::9/128", "192.0.2.11/32"),
        vip_devs=("", "", "", "eth1"),
        become_master=3,
        release_master=2,
        drops=(("addr_count", 1), ("bad_auth", 4), ("too_short", 2), ("ttl", 5)),
        scripts=(("chk_haproxy", True), ("chk_link", False), ("chk_ok", True)),
    )
    other = replace(view, name="VI_2", vrid=52, scripts=(("chk_haproxy", False),))
    got = {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in EngineCollector(
            lambda: Snapshot(1, 0.0, vrrp=(view, other)), compat=(MetricsCompat.KEEPALIVED,)
        ).collect()
        for s in fam.samples
    }
    states = {
        (dict(ls)["ip_address"], dict(ls)["intf"]): v
        for (name, ls), v in got.items()
        if name == "keepalived_vrrp_state" and dict(ls)["iname"] == "VI_1"
    }
    assert states == {
        ("192.0.2.9", "eth0"): 2,
        ("192.0.2.10/24", "eth0"): 2,
        ("2001:db8::9", "eth0"): 2,
        ("192.0.2.11", "eth1"): 2,
    }
    inst = {"iname": "VI_1", "intf": "eth0", "vrid": "51", "state": "MASTER"}
    assert got[key("keepalived_release_master_total", **inst)] == 2
    assert got[key("keepalived_become_master_total", **inst)] == 3
    assert got[key("keepalived_packet_length_errors_total", **inst)] == 3
    assert got[key("keepalived_authentication_failure_total", **inst)] == 4
    assert got[key("keepalived_ip_ttl_errors_total", **inst)] == 5
    assert got[key("keepalived_address_list_errors_total", **inst)] == 0
    # one series a script, BAD (0) when any instance saw it fail
    scripts = {dict(ls)["name"]: v for (n, ls), v in got.items() if n == "keepalived_script_status"}
    assert scripts == {"chk_link": 0, "chk_haproxy": 0, "chk_ok": 1}


async def test_vrrp_drops_by_reason_reach_the_endpoint() -> None:
    """The VRRP side's drop counters (VrrpGroup.drops) go through the engine's counters to
    `lvstui_vrrp_adverts_dropped_total{reason}`."""
    from lvstui.metrics import EngineCollector
    from tests.engine.builders import FakeVrrp

    vr = FakeVrrp()
    e = Engine(config(), dataplane=MemoryDataplane(), vrrp=vr)
    await e.start()
    try:
        vr.dropped = {"auth": 3, "vrid": 1}
        got = {
            (s.name, s.labels.get("reason")): s.value
            for fam in EngineCollector(e.published_snapshot, e.counters).collect()
            for s in fam.samples
        }
    finally:
        await e.stop()
    assert got[("lvstui_vrrp_adverts_dropped_total", "auth")] == 3
    assert got[("lvstui_vrrp_adverts_dropped_total", "vrid")] == 1
