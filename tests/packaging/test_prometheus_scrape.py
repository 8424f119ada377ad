"""A real Prometheus (apt `prometheus`) scrapes a running lvstui (userspace dataplane on
loopback, `metrics_compat = ["node_exporter", "keepalived"]`): node_exporter's ipvs families
carry the numbers `lvstui list --stats --exact` and `lvstui list --exact` print, and the
rules file loads into the server."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lvstui.handover import stop_process
from tests.cli.harness import (
    Daemon,
    LoopbackServers,
    NotifyListener,
    free_port,
    write_config,
)
from tests.helpers import wait_until

pytestmark = pytest.mark.prometheus

NAMES = ("alpha", "bravo")


class Prom:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        r = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        r.raise_for_status()
        body = r.json()
        assert body["status"] == "success", body
        return [(s["metric"], float(s["value"][1])) for s in body["data"]["result"]]


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[Daemon, Prom, int, LoopbackServers]]:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("no prometheus (apt install prometheus)")
    d = Path(tempfile.mkdtemp(prefix="metrics-prom-"))
    servers = LoopbackServers(NAMES)
    notify = NotifyListener(d / "notify.sock")
    vip_port, metrics_port, prom_port = free_port(), free_port(), free_port()
    cfg = write_config(d / "config.toml", vip_port, [servers.port(n) for n in NAMES])
    cfg.write_text(
        cfg.read_text().replace(
            '[lvstui]\ndataplane = "userspace"\n',
            '[lvstui]\ndataplane = "userspace"\n'
            f'metrics_listen = "127.0.0.1:{metrics_port}"\n'
            'metrics_compat = ["node_exporter", "keepalived"]\n',
        )
    )
    daemon = Daemon(cfg, d / "run" / "control.sock", d / "state", notify)
    (d / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files: [{Path(__file__).parents[2] / 'packaging/prometheus/lvstui-rules.yml'}]\n"
        "scrape_configs:\n  - job_name: lvstui\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{metrics_port}']\n"
    )
    log = (d / "prometheus.log").open("wb")
    proc: subprocess.Popen[bytes] | None = None
    try:
        daemon.start()
        proc = subprocess.Popen(
            [
                prometheus,
                f"--config.file={d / 'prometheus.yml'}",
                f"--storage.tsdb.path={d / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        prom = Prom(f"http://127.0.0.1:{prom_port}")

        def target_up() -> bool:
            try:
                return [v for _, v in prom.query('up{job="lvstui"}')] == [1.0]
            except (httpx.HTTPError, AssertionError):
                return False

        wait_until(target_up, timeout=60)
        yield daemon, prom, vip_port, servers
    finally:
        if proc is not None:
            stop_process(proc)
        log.close()
        daemon.kill()
        notify.close()
        servers.close()
        shutil.rmtree(d, ignore_errors=True)


def _listing(daemon: Daemon, *opts: str) -> tuple[list[int], dict[str, list[int]]]:
    """(service numbers, {real server: numbers}) of the one service in `lvstui list`."""
    r = daemon.ctl("list", "--exact", *opts)
    assert r.returncode == 0, r.stderr
    service: list[int] = []
    reals: dict[str, list[int]] = {}
    for line in r.stdout.splitlines():
        words = line.split()
        if words[:1] == ["TCP"]:
            service = [int(w) for w in words[2:] if w.isdigit()]
        elif words[:1] == ["->"] and words[1][0].isdigit():
            reals[words[1]] = [int(w) for w in words[2:] if w.isdigit()]
    return service, reals


def test_node_exporter_families_match_lvstui_list(
    lab: tuple[Daemon, Prom, int, LoopbackServers],
) -> None:
    daemon, prom, vip_port, _servers = lab
    with httpx.Client() as client:
        for _ in range(7):
            assert client.get(f"http://127.0.0.1:{vip_port}/").status_code == 200
    # Traffic has stopped: the counters hold still once the dataplane's next publication
    # is in. Wait for two listings alike, then for a scrape after the second one.
    prev: object = None

    def settled() -> bool:
        nonlocal prev
        now = (_listing(daemon, "--stats"), _listing(daemon))
        same, prev = now == prev, now
        return same

    wait_until(settled, timeout=30, interval=1.5)
    taken = time.time()
    (svc_stats, _), (_, reals) = prev  # type: ignore[misc]
    wait_until(
        lambda: all(v > taken for _, v in prom.query("timestamp(node_ipvs_connections_total)")),
        timeout=30,
    )
    conns, inpkts, outpkts, inbytes, outbytes = svc_stats
    assert conns >= 7
    got = {
        name: prom.query(f"node_ipvs_{name}_total")
        for name in (
            "connections",
            "incoming_packets",
            "outgoing_packets",
            "incoming_bytes",
            "outgoing_bytes",
        )
    }
    assert {k: [v for _, v in s] for k, s in got.items()} == {
        "connections": [conns],
        "incoming_packets": [inpkts],
        "outgoing_packets": [outpkts],
        "incoming_bytes": [inbytes],
        "outgoing_bytes": [outbytes],
    }
    # `lvstui list --exact`: -> RS:PORT Forward Weight ActiveConn InActConn
    for family, column in (
        ("node_ipvs_backend_weight", 0),
        ("node_ipvs_backend_connections_active", 1),
        ("node_ipvs_backend_connections_inactive", 2),
    ):
        series = prom.query(family)
        seen = {f"{m['remote_address']}:{m['remote_port']}": v for m, v in series}
        assert seen == {rs: float(nums[column]) for rs, nums in reals.items()}, family
        for m, _ in series:  # an empty label (local_mark) is no label in Prometheus
            assert (m["local_address"], m["local_port"], m["proto"], m.get("local_mark", "")) == (
                "127.0.0.1",
                str(vip_port),
                "TCP",
                "",
            )
    # lvstui's own families join with them on the split labels
    joined = prom.query(
        "lvstui_real_weight * on (rip, rport) group_left "
        "label_replace(label_replace(node_ipvs_backend_weight, "
        '"rip", "$1", "remote_address", "(.*)"), "rport", "$1", "remote_port", "(.*)")'
    )
    assert len(joined) == len(NAMES)


def test_rules_load_into_the_server(lab: tuple[Daemon, Prom, int, LoopbackServers]) -> None:
    _daemon, prom, _vip, _servers = lab
    r = httpx.get(f"{prom.url}/api/v1/rules", timeout=10)
    rules = [rule["name"] for g in r.json()["data"]["groups"] for rule in g["rules"]]
    assert "LvstuiQuorumLost" in rules and len(rules) == 7
    assert all(g["rules"][0]["health"] != "err" for g in r.json()["data"]["groups"])


# Panels whose series this lab cannot have: no VRRP instance, no director group, no drain.
# Their queries must still be valid PromQL (the server says success) and return nothing
# here; tests/e2e/test_grafana_lab.py checks their values in a lab that has them.
ABSENT_HERE = {
    "Drained real servers",
    "VRRP state (MASTER = 1)",
    "VRRP priority",
    "Director group peers up",
    "Director group split brain",
    "Director group config drift",
}


def test_every_grafana_panel_query(lab: tuple[Daemon, Prom, int, LoopbackServers]) -> None:
    """packaging/grafana/lvstui.json: each panel's query runs on the real server; the ones
    this lab can feed return the values lvstui has (weights 1, quorum up, nothing down)."""
    import json

    _daemon, prom, vip_port, servers = lab
    dash = json.loads((Path(__file__).parents[2] / "packaging/grafana/lvstui.json").read_text())
    results: dict[str, list[list[tuple[dict[str, str], float]]]] = {}
    for panel in dash["panels"]:
        exprs = [t["expr"].replace("$__rate_interval", "30s") for t in panel["targets"]]
        results[panel["title"]] = [prom.query(e) for e in exprs]
    assert set(results) >= ABSENT_HERE
    for title, per_target in results.items():
        if title in ABSENT_HERE:
            assert per_target == [[]] * len(per_target), title
        else:
            assert all(per_target), f"{title}: a query returned no series"

    def values(title: str) -> dict[str, float]:
        (series,) = results[title]
        return {f"{m.get('rip', '')}:{m.get('rport', '')}": v for m, v in series}

    reals = {f"127.0.0.1:{servers.port(n)}" for n in NAMES}
    assert values("Real server weight") == dict.fromkeys(reals, 1.0)
    assert list(values("Quorum up").values()) == [1.0]
    assert list(values("Sorry server serving").values()) == [0.0]
    assert list(values("Real servers down").values()) == [0.0]
    assert list(values("Stale checks").values()) == [0.0]
    (cps,) = results["Connections per second by service"][0]
    assert cps[0]["vport"] == str(vip_port) and cps[1] >= 0
    assert len(results["Check latency"][0]) == len(NAMES)
