"""The daemon watches itself (issue 10): it lifts its descriptor limit at start and says so,
and `lvstui status` and the metrics show its tasks, descriptors and memory, and the
control socket's refusals."""

from __future__ import annotations

import json
import resource
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cli.harness import Daemon, LoopbackServers, NotifyListener, free_port, write_config


@pytest.fixture
def daemon() -> Iterator[tuple[Daemon, int]]:
    d = Path(tempfile.mkdtemp(prefix="restart-pv-"))
    servers = LoopbackServers(("alpha",))
    notify = NotifyListener(d / "notify.sock")
    metrics_port = free_port()
    cfg = write_config(d / "config.toml", free_port(), [servers.port("alpha")])
    text = cfg.read_text().replace(
        "[lvstui]\n", f'[lvstui]\nmetrics_listen = "127.0.0.1:{metrics_port}"\n', 1
    )
    cfg.write_text(text)
    dm = Daemon(cfg, d / "control.sock", d / "state", notify)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        # the daemon inherits systemd's default soft limit, and lifts it itself
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
        try:
            dm.start()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        yield dm, metrics_port
    finally:
        dm.kill()
        notify.close()
        servers.close()
        shutil.rmtree(d, ignore_errors=True)


def test_limit_raised_and_resources_shown(daemon: tuple[Daemon, int]) -> None:
    dm, metrics_port = daemon
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard > 1024:
        assert f"descriptor limit raised from 1024 to {hard}" in dm.output()
    out = dm.ctl("status", "--json")
    assert out.returncode == 0, out.stderr
    process = json.loads(out.stdout)["process"]
    assert process["tasks"] > 0
    assert 0 < process["descriptors"] < process["descriptor_limit"] == hard
    assert process["rss_bytes"] > 1 << 20
    text = dm.ctl("status")
    assert f"/{hard} descriptors" in text.stdout and " tasks, " in text.stdout
    r = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5.0)
    got = {s.name: s.value for fam in text_string_to_metric_families(r.text) for s in fam.samples}
    assert got["lvstui_asyncio_tasks"] > 0
    assert got["lvstui_descriptor_limit"] == hard
    assert got["lvstui_control_refused_total"] == 0
    assert got["lvstui_audit_failures_total"] == 0
    assert got["lvstui_resident_memory_bytes"] > 1 << 20
