"""The fault-injection lab: a real `lvstui --daemon` on the userspace dataplane, loopback real
servers, a client that counts failed requests through the VIP, and the daemon's RSS and open
descriptors before and after. Scenarios (tests/faults/test_*.py) inject one fault each.

    with FaultLab("misc", reals=2, check=misc_check("true")) as lab:
        before = lab.stats()
        with lab.traffic() as t:
            ...inject the fault...
        after = lab.stats()
        lab.report("misc on uvloop", t, before, after)
        assert t.failed == 0

Everything it creates (a temporary directory named lvt-reliab-*, the daemon, the servers'
threads) is torn down on exit; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from tests.cli.harness import Daemon, LoopbackServers, NotifyListener, free_port
from tests.helpers import wait_until

__all__ = [
    "FaultLab",
    "ProcStats",
    "Traffic",
    "children_of",
    "eventually",
    "http_check",
    "kill_pids_in",
    "misc_check",
    "raw_control",
]


def http_check() -> str:
    return """
[[virtual_server.real_server.http_get]]
connect_timeout = 1
retry = 0
[[virtual_server.real_server.http_get.url]]
path = "/health"
"""


def misc_check(path: str, *, timeout: float = 2.0, user: str | None = None) -> str:
    """A misc_check block (TOML) running `path` (a command line; use single quotes inside)."""
    who = f'user = "{user}"\n' if user else ""
    return f"""
[[virtual_server.real_server.misc_check]]
misc_path = "{path}"
misc_timeout = {timeout}
{who}"""


@dataclass(frozen=True, slots=True)
class ProcStats:
    rss_kib: int
    fds: int
    threads: int

    @staticmethod
    def of(pid: int) -> ProcStats:
        status = Path(f"/proc/{pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss = int(fields["VmRSS"].split()[0])
        return ProcStats(rss, len(os.listdir(f"/proc/{pid}/fd")), int(fields["Threads"]))


@dataclass
class Traffic:
    """Requests through the VIP, one after another, from a thread, until stopped."""

    url: str
    pause: float = 0.02
    ok: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    answered_by: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while not self._stop.is_set():
                try:
                    r = client.get(self.url, headers={"Connection": "close"})
                    r.raise_for_status()
                except httpx.HTTPError as exc:
                    self.failed += 1
                    name = type(exc).__name__
                    self.errors[name] = self.errors.get(name, 0) + 1
                else:
                    self.ok += 1
                    who = r.text.strip().removeprefix("Hello from ")
                    self.answered_by[who] = self.answered_by.get(who, 0) + 1
                self._stop.wait(self.pause)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)

    def wait_requests(self, n: int, timeout: float = 30.0) -> None:
        """Until `n` more requests were made (bounded): the fault had traffic to hurt."""
        target = self.ok + self.failed + n
        wait_until(lambda: self.ok + self.failed >= target, timeout=timeout)


def raw_control(path: Path, lines: Sequence[bytes], timeout: float = 10.0) -> list[bytes]:
    """Send each line on one control connection, read one reply line after each ("" when
    the daemon hung up)."""
    replies: list[bytes] = []
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        f = s.makefile("rb")
        for line in lines:
            try:
                s.sendall(line)
            except OSError:
                replies.append(b"")
                break
            try:
                replies.append(f.readline())
            except OSError:  # reset: the daemon hung up on a line it would not read
                replies.append(b"")
                break
    return replies


class FaultLab:
    """One daemon (userspace dataplane, no VRRP: it runs on uvloop) over `reals` loopback
    HTTP servers, each checked with `check` (TOML of one check block). `service_extra` and
    `real_extra` add keys to the virtual server and to each real server ("{port}" in
    `check` and `real_extra` is that real server's port, "{dir}" anywhere the lab's
    directory)."""

    def __init__(
        self,
        name: str,
        *,
        reals: int = 2,
        check: str = "",
        service_extra: str = "",
        real_extra: str = "",
        lvstui_extra: str = "",
        delay_loop: float = 1.0,
        scripts: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"lvt-reliab-{name}-"))
        # scripts may run as another user (misc_check user): they must reach their files
        self.dir.chmod(0o755)
        (self.dir / "escaped.pids").touch(0o666)
        (self.dir / "escaped.pids").chmod(0o666)
        # executable scripts in the lab's directory; "{dir}" in any TOML text names it
        for script, text in (scripts or {}).items():
            path = self.dir / script
            path.write_text(text.replace("{dir}", str(self.dir)))
            path.chmod(0o755)
        check, service_extra, real_extra, lvstui_extra = (
            t.replace("{dir}", str(self.dir))
            for t in (check, service_extra, real_extra, lvstui_extra)
        )
        self.names = tuple(f"rs{i}" for i in range(reals))
        self.servers = LoopbackServers(self.names)
        self.notify = NotifyListener(self.dir / "notify.sock")
        self.vip_port = free_port()
        self.config = self.dir / "config.toml"
        reals_toml = "".join(
            f"""
[[virtual_server.real_server]]
ip = "127.0.0.1"
port = {self.servers.port(n)}
weight = 1
{real_extra}
{check or http_check()}""".replace("{port}", str(self.servers.port(n)))
            for n in self.names
        )
        self.config.write_text(
            f"""
[lvstui]
dataplane = "userspace"
{lvstui_extra}

[[virtual_server]]
ip = "127.0.0.1"
port = {self.vip_port}
lb_algo = "rr"
lb_kind = "NAT"
delay_loop = {delay_loop}
{service_extra}
{reals_toml}
"""
        )
        self.socket = self.dir / "control.sock"
        self.daemon = Daemon(self.config, self.socket, self.dir / "state", self.notify)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.vip_port}/"

    @property
    def pid(self) -> int:
        assert self.daemon.proc is not None
        return self.daemon.proc.pid

    def __enter__(self) -> FaultLab:
        try:
            self.daemon.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.daemon.kill()
        kill_pids_in(self.dir / "escaped.pids")  # scenarios' setsid grandchildren write here
        self.notify.close()
        self.servers.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stats(self) -> ProcStats:
        return ProcStats.of(self.pid)

    def wait_serving(self, timeout: float = 30.0) -> None:
        """Until every real server answers through the VIP (checks passed, table written)."""
        seen: set[str] = set()

        def all_seen() -> bool:
            try:
                r = httpx.get(self.url, timeout=2.0, headers={"Connection": "close"})
                seen.add(r.text.strip().removeprefix("Hello from "))
            except httpx.HTTPError:
                pass
            return seen >= set(self.names)

        wait_until(all_seen, timeout=timeout, interval=0.05)

    @contextmanager
    def traffic(self, pause: float = 0.02) -> Iterator[Traffic]:
        t = Traffic(self.url, pause)
        t.start()
        try:
            yield t
        finally:
            t.stop()

    def log(self) -> str:
        return self.daemon.output()

    def report(self, scenario: str, traffic: Traffic, before: ProcStats, after: ProcStats) -> str:
        """One line of figures (printed: `pytest -s` shows it; CI logs keep it)."""
        line = (
            f"fault[{scenario}]: requests {traffic.ok + traffic.failed}, failed "
            f"{traffic.failed} {traffic.errors or ''}; rss {before.rss_kib} -> "
            f"{after.rss_kib} KiB; fds {before.fds} -> {after.fds}; threads "
            f"{before.threads} -> {after.threads}"
        )
        print(line)
        return line


def eventually(cond: Callable[[], bool], timeout: float = 30.0) -> None:
    wait_until(cond, timeout=timeout, interval=0.05)


def children_of(pid: int) -> list[int]:
    """Running processes whose parent is `pid` (the daemon's scripts and checks)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            rest = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(rest[1]) == pid and rest[0] not in ("Z", "X"):
            out.append(int(entry))
    return out


def kill_pids_in(path: Path) -> None:
    """SIGKILL every pid listed in `path` (processes a scenario let escape on purpose)."""
    if not path.exists():
        return
    for word in path.read_text().split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(word), signal.SIGKILL)
