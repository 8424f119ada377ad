"""Shared test helpers: where ../shared is, self-skipping requirements, bounded waits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_dir() -> Path | None:
    """The read-only shared/ folder beside the repository (LVSTUI_SHARED overrides)."""
    env = os.environ.get("LVSTUI_SHARED")
    for cand in ([Path(env)] if env else []) + [
        REPO.parent / "shared",
        REPO.parent.parent / "shared",
    ]:
        if (cand / "tools").is_dir():
            return cand
    return None


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"{what} needs root (CI runs it as root)")


def require_cmd(*names: str) -> None:
    for name in names:
        if shutil.which(name) is None:
            pytest.skip(f"needs `{name}` on PATH (apt; .ci/run installs it)")


def require_shared_tool(rel: str) -> Path:
    base = shared_dir()
    if base is None or not (base / "tools" / rel).exists():
        pytest.skip(f"needs ../shared/tools/{rel} (set LVSTUI_SHARED)")
    return base / "tools" / rel


def wait_until(cond: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> None:
    """Poll `cond` until true; fail the test (not hang) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


async def async_wait_until(
    cond: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0, interval: float = 0.02
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        r = cond()
        if not isinstance(r, bool):
            r = await r
        if r:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


@contextlib.contextmanager
def network_namespace(name: str, *veths: tuple[str, str]) -> Iterator[str]:
    """A namespace of our own (with these veth pairs), deleted afterwards whatever happens."""
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
    try:
        for a, b in veths:
            subprocess.run(
                ["ip", "-n", name, "link", "add", a, "type", "veth", "peer", "name", b],
                check=True,
                timeout=10,
            )
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=10)


def process_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, killed and waiting to be reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace` seconds; reaped either way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)
