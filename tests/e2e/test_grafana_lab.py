"""The Grafana panels that need VRRP, a director group and a drain, with their values: a real
Prometheus (apt `prometheus`) scrapes two `lvstui --daemon` of one director group in the
namespace lab of tests/e2e/lab.py (VRRPv3 at 0.1 s, userspace dataplane, a group key made
with `lvstui.group.keys.generate`), one real server drained on lb1.

tests/packaging/test_prometheus_scrape.py runs every panel of packaging/grafana/lvstui.json
against a single daemon on loopback and checks the values of those it can feed; the panels
it lists in ABSENT_HERE get their values here: VRRP state and priority per director, the
group's peers up, configs alike, no split brain, the drained server on both directors.

Prometheus runs in lb1's namespace and scrapes both directors over the lab's LAN
(198.51.100.0/24, assigned by the lab); the test asks it through `ip netns exec`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lvstui.group.keys import generate
from tests.e2e.lab import ADDR, VIP, VPORT, Daemon, Lab, daemon_config
from tests.e2e.test_group_lab import group_extra
from tests.helpers import REPO, require_cmd, require_root, wait_until
from tests.packaging.test_prometheus_scrape import ABSENT_HERE

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.prometheus]

METRICS_PORT = 9465
PROM_PORT = 9466
R1 = f"{ADDR['r1']}:80"

# asks the Prometheus of lb1's namespace one instant query; prints the result as JSON
_QUERY = """
import httpx, json, sys
r = httpx.get(sys.argv[1] + "/api/v1/query", params={"query": sys.argv[2]}, timeout=10)
r.raise_for_status()
print(json.dumps(r.json()))
"""


class Prom:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.url = f"http://127.0.0.1:{PROM_PORT}"

    def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        argv = ["ip", "netns", "exec", self.lab.ns("d1"), sys.executable, "-c", _QUERY]
        r = subprocess.run(
            [*argv, self.url, expr], capture_output=True, text=True, timeout=30, check=False
        )
        assert r.returncode == 0, r.stderr
        body = json.loads(r.stdout)
        assert body["status"] == "success", body
        return [(s["metric"], float(s["value"][1])) for s in body["data"]["result"]]


def _config(name: str, me: str, peer: str, key: Path, priority: int, state: str) -> str:
    text = daemon_config(name, priority, state, extra=group_extra(name, me, peer, key))
    listen = f'metrics_listen = "{ADDR[me]}:{METRICS_PORT}"\n'
    return text.replace("directors = 2\n", "directors = 2\n" + listen, 1)


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[Lab, Daemon, Daemon, Prom]]:
    require_root("network namespaces, veths and raw VRRP sockets")
    require_cmd("ip", "prometheus")
    lab = Lab(f"graf{os.getpid() % 10000}-")
    try:
        lab.up()
        for host in ("r1", "r2"):
            lab.http(host)
        key = lab.dir / "group.pem"
        key.write_text(generate())
        key.chmod(0o600)
        lb1 = lab.daemon("d1", _config("lb1", "d1", "d2", key, 150, "MASTER"))
        lb2 = lab.daemon("d2", _config("lb2", "d2", "d1", key, 100, "BACKUP"))
        (lab.dir / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: lvstui\n    static_configs:\n"
            f"      - targets: ['{ADDR['d1']}:{METRICS_PORT}', '{ADDR['d2']}:{METRICS_PORT}']\n"
        )
        prometheus = shutil.which("prometheus")
        assert prometheus is not None
        lab.spawn(
            "d1",
            [
                prometheus,
                f"--config.file={lab.dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={lab.dir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{PROM_PORT}",
            ],
            "prometheus",
        )
        lb1.wait_state("MASTER", timeout=30)
        lb2.wait_state("BACKUP", timeout=30)
        prom = Prom(lab)

        def targets_up() -> bool:
            try:
                return sorted(v for _, v in prom.query('up{job="lvstui"}')) == [1.0, 1.0]
            except (AssertionError, json.JSONDecodeError):
                return False

        wait_until(targets_up, timeout=60, interval=1.0)
        yield lab, lb1, lb2, prom
    finally:
        lab.close()


def _by_director(series: list[tuple[dict[str, str], float]]) -> dict[str, float]:
    """{director's address: value} of one series per director."""
    out = {m["instance"].rsplit(":", 1)[0]: v for m, v in series}
    assert len(out) == len(series), series
    return out


def test_vrrp_group_and_drain_panels_have_their_values(
    lab: tuple[Lab, Daemon, Daemon, Prom],
) -> None:
    _lab, lb1, _lb2, prom = lab
    r = lb1.cli("ctl", "drain", f"{VIP}:{VPORT}", R1)
    assert r.returncode == 0, r.stdout + r.stderr
    d1, d2 = ADDR["d1"], ADDR["d2"]
    dash = json.loads((REPO / "packaging/grafana/lvstui.json").read_text())
    panels = {p["title"]: [t["expr"] for t in p["targets"]] for p in dash["panels"]}
    expected = {
        "VRRP state (MASTER = 1)": {d1: 1.0, d2: 0.0},
        "VRRP priority": {d1: 150.0, d2: 100.0},
        "Director group peers up": {d1: 1.0, d2: 1.0},
        "Director group split brain": {d1: 0.0, d2: 0.0},
        "Director group config drift": {d1: 1.0, d2: 1.0},  # 1: the peer's config is the same
        "Drained real servers": {d1: 1.0, d2: 1.0},  # lb1's drain, replicated to lb2
    }
    assert set(expected) == ABSENT_HERE  # every panel the loopback test cannot feed
    got: dict[str, dict[str, float]] = {}

    def all_there() -> bool:
        for title in expected:
            (expr,) = panels[title]
            got[title] = _by_director(prom.query(expr.replace("$__rate_interval", "30s")))
        return got == expected

    with contextlib.suppress(AssertionError):  # the comparison below says what differs
        wait_until(all_there, timeout=30, interval=1.0)
    assert got == expected
    (expr,) = panels["Drained real servers"]
    for m, _ in prom.query(expr):
        assert (m["vip"], m["vport"], m["rip"], m["rport"]) == (VIP, str(VPORT), *R1.split(":"))
