"""A real `lvstui --daemon` (userspace dataplane) over two loopback HTTP servers."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.harness import Daemon, LoopbackServers, NotifyListener, free_port, write_config

__all__ = ["answers", "daemon_lab"]


@pytest.fixture
def daemon_lab() -> Iterator[tuple[Path, LoopbackServers, Daemon, int]]:
    d = Path(tempfile.mkdtemp(prefix="lvt-engine-ov-"))
    servers = LoopbackServers(("alpha", "bravo"))
    notify = NotifyListener(d / "notify.sock")
    vip_port = free_port()
    cfg = write_config(d / "config.toml", vip_port, [servers.port("alpha"), servers.port("bravo")])
    daemon = Daemon(cfg, d / "control.sock", d / "state", notify)
    try:
        yield d, servers, daemon, vip_port
    finally:
        daemon.kill()
        notify.close()
        servers.close()
        shutil.rmtree(d, ignore_errors=True)


def answers(vip_port: int, n: int) -> set[str]:
    out = set()
    for _ in range(n):
        try:
            r = httpx.get(f"http://127.0.0.1:{vip_port}/", timeout=5.0)
        except httpx.TransportError as exc:
            out.add(f"error: {type(exc).__name__}")
        else:
            out.add(r.text.strip().removeprefix("Hello from "))
    return out
