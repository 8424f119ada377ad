"""The Prometheus endpoint, scraped over HTTP on 127.0.0.1."""

from __future__ import annotations

import sys
from dataclasses import replace

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

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
    cfg = replace(base, lvstui=replace(base.lvstui, metrics_listen="127.0.0.1:0"))
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
        svc, r0, r1, r2 = str(SK), str(R[0]), str(R[1]), str(R[2])
        assert m[key("lvstui_service_connections_total", service=svc)] == 42
        assert m[key("lvstui_service_bytes_total", service=svc, direction="in")] == 1000
        assert m[key("lvstui_service_connections_per_second", service=svc)] == 3
        assert m[key("lvstui_real_active_connections", service=svc, real=r0)] == 5
        assert m[key("lvstui_real_inactive_connections", service=svc, real=r0)] == 2
        assert m[key("lvstui_real_weight", service=svc, real=r0)] == 2
        assert m[key("lvstui_real_weight", service=svc, real=r1)] == 0
        assert m[key("lvstui_real_draining", service=svc, real=r1)] == 1
        assert m[key("lvstui_real_up", service=svc, real=r2)] == 0
        assert m[key("lvstui_service_live_weight", service=svc)] == 2
        assert m[key("lvstui_service_quorum_up", service=svc)] == 1
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
        assert m_value(resp.text, "lvstui_service_live_weight", service=str(SK)) == 6
    finally:
        await parts.stop(graceful=False)
    assert parts.metrics is None
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://{host}:{port}/metrics")


def m_value(text: str, name: str, **labels: str) -> float:
    return samples(text)[key(name, **labels)]
