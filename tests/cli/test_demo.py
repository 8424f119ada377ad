"""`lvstui demo --headless` really serves: HTTP through the VIP, the control socket, failure."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.harness import free_port, lvstui
from tests.helpers import REPO, wait_until


class Demo:
    def __init__(self, port: int) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lvstui", "demo", "--headless", "--port", str(port)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_line(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """The first line printed so far (or within `timeout`) that matches `pattern`."""
        found: list[re.Match[str]] = []

        def seen() -> bool:
            while not self.lines.empty():
                self.output.append(self.lines.get_nowait())
            for line in self.output:
                m = re.search(pattern, line)
                if m:
                    found.append(m)
                    return True
            return False

        wait_until(seen, timeout=timeout, interval=0.05)
        return found[0]


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    d = Demo(free_port())
    try:
        yield d
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
        d.proc.wait(10)
        if d.proc.stdout is not None:
            d.proc.stdout.close()


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=5.0)


def test_demo_prints_url_and_socket_and_serves(demo: Demo) -> None:
    url = demo.wait_line(r"serving (http://127\.0\.0\.1:\d+/)").group(1)
    assert url == f"http://127.0.0.1:{demo.port}/"
    sock = demo.wait_line(r"control socket: (\S+)").group(1)
    assert Path(sock).is_socket()
    assert demo.wait_line(r"headless: .*\((\w+) event loop\)").group(1) == "uvloop"
    demo.sock = sock  # type: ignore[attr-defined]
    # the checks run every second: wait until all three are in rotation
    seen: set[str] = set()

    def all_three() -> bool:
        r = get(url)
        if r.status_code == 200:
            seen.add(r.text.strip())
        return len(seen) == 3

    wait_until(all_three, timeout=20, interval=0.05)
    assert seen == {"Hello from alpha", "Hello from bravo", "Hello from charlie"}
    listing = lvstui("list", "--socket", sock)
    assert listing.returncode == 0, listing.stderr
    assert f"TCP  127.0.0.1:{demo.port} rr" in listing.stdout
    assert listing.stdout.count("Masq") == 3


def test_charlie_fails_and_recovers(demo: Demo) -> None:
    url = f"http://127.0.0.1:{demo.port}/"
    fail_url = demo.wait_line(r"curl (http://127\.0\.0\.1:\d+/fail)", timeout=5).group(1)
    assert get(fail_url).text.strip() == "charlie: failing=True"
    try:

        def out_of_rotation() -> bool:
            # charlie is out once 6 requests in a row (rr over the live ones) skip it
            answers = [get(url).text.strip() for _ in range(6)]
            return "Hello from charlie" not in answers and "charlie is failing" not in answers

        wait_until(out_of_rotation, timeout=20, interval=0.1)
    finally:
        assert get(fail_url).text.strip() == "charlie: failing=False"
    wait_until(lambda: get(url).text.strip() == "Hello from charlie", timeout=20, interval=0.05)


def test_sigterm_stops_cleanly(demo: Demo) -> None:
    sock = Path(demo.sock)  # type: ignore[attr-defined]
    demo.proc.send_signal(signal.SIGTERM)
    assert demo.proc.wait(20) == 0
    demo.reader.join(5)
    assert not sock.parent.exists()  # the temporary directory is gone
    with pytest.raises(httpx.TransportError):
        get(f"http://127.0.0.1:{demo.port}/")
    assert os.path.exists(REPO / "lvstui" / "demo.toml")
