"""For the VRRP namespace tests: `sh` (a command that must succeed), and the whole daemon
inside a test's namespace for those that need the real process (reload by SIGHUP, an
interface that comes and goes)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lvstui.handover import stop_process

REPO = Path(__file__).resolve().parents[2]


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd}: {r.stderr}")
    return r


@contextlib.contextmanager
def daemon(
    netns: str | None,
    text: str,
    env: dict[str, str] | None = None,
    *,
    prefix: str = "lvt-vrrp-",
) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    """The daemon on config `text` inside `netns` (None: started where the test runs):
    (process, config file, its stderr). Its control socket is `control.sock` beside the
    config file; it is stopped on the way out."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        cfg = Path(tmp, "lvstui.toml")
        cfg.write_text(text)
        err = Path(tmp, "stderr")
        with err.open("wb") as errf:
            proc = subprocess.Popen(
                [
                    *(("ip", "netns", "exec", netns) if netns else ()),
                    *(sys.executable, "-m", "lvstui", "--daemon"),
                    *("-f", str(cfg), "--socket", f"{tmp}/control.sock"),
                    *("--state-dir", f"{tmp}/state"),
                ],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=errf,
                env={**os.environ, **(env or {})},
            )
            try:
                yield proc, cfg, err
            finally:
                stop_process(proc)


@contextlib.contextmanager
def veth_netns(ns: str, addr: str = "198.51.100.11/24") -> Iterator[str]:
    """A namespace `ns` with lo up and eth0 (one end of a veth pair, both ends up, `addr` on
    it): a multicast-capable link for adverts. Deleted on the way out."""
    sh("ip", "netns", "del", ns, check=False)
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
        sh("ip", "-n", ns, "addr", "add", addr, "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "eth0p", "up")
        yield ns
    finally:
        sh("ip", "netns", "del", ns, check=False)
