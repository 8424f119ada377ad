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
    netns: str, text: str, env: dict[str, str] | None = None, *, prefix: str = "lvt-vrrp-"
) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    """The daemon on config `text` inside `netns`: (process, config file, its stderr). Its
    control socket is `control.sock` beside the config file; it is stopped on the way out."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        cfg = Path(tmp, "lvstui.toml")
        cfg.write_text(text)
        err = Path(tmp, "stderr")
        with err.open("wb") as errf:
            proc = subprocess.Popen(
                [
                    *("ip", "netns", "exec", netns, sys.executable, "-m", "lvstui", "--daemon"),
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
