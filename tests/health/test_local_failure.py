"""A check that cannot run for a reason on this host (EMFILE, ENFILE, ENOBUFS, no fork) is
*unknown*: it never marks a server DOWN; it is counted and reported (issue 10, item 2)."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap

import httpx
import pytest

from lvstui.health.base import CheckResult, CheckSpec, is_local_failure
from lvstui.model import Health
from tests.health.conftest import Rig, spec


class Flaky:
    """A checker whose runs follow a script: "P" pass, "F" fail, "E" EMFILE, "N" ENOBUFS."""

    def __init__(self, spec: CheckSpec, script: str) -> None:
        self._spec = spec
        self.script = script
        self.calls = 0

    @property
    def spec(self) -> CheckSpec:
        return self._spec

    async def run(self) -> CheckResult:
        c = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if c == "E":
            raise OSError(errno.EMFILE, "Too many open files")
        if c == "N":
            try:
                raise OSError(errno.ENOBUFS, "No buffer space available")
            except OSError as exc:  # wrapped, the way httpx wraps it
                raise httpx.ConnectError("connect failed") from exc
        return CheckResult(c == "P", "scripted")


def test_local_failure_classification() -> None:
    assert is_local_failure(OSError(errno.EMFILE, "x"))
    assert is_local_failure(OSError(errno.ENFILE, "x"))
    assert is_local_failure(OSError(errno.EAGAIN, "fork"))
    assert not is_local_failure(ConnectionRefusedError(errno.ECONNREFUSED, "x"))
    assert not is_local_failure(OSError(errno.EHOSTUNREACH, "x"))
    wrapped = httpx.ConnectError("boom")
    wrapped.__cause__ = OSError(errno.EMFILE, "x")
    assert is_local_failure(wrapped)


async def test_local_failures_never_mark_a_server_down(rig: Rig) -> None:
    seen: list[tuple[str, str]] = []
    rig.mon.on_local_failure = lambda k, why: seen.append((k, why))
    ck = Flaky(spec(retry=2, fall=1), "PEEENEEP")
    rig.mon.add("rs", [ck])
    for i in range(8):
        await rig.step(1.0 if i else 0.0)
        assert rig.mon.health("rs") is Health.UP, i
    assert rig.changes == []
    (view,) = rig.mon.views("rs")
    assert (view.unknown, view.failures) == (6, 0)
    assert ck.calls == 8  # unknown runs are not retried
    assert rig.mon.local_failures == 6 and len(seen) == 6
    assert "Too many open files" in seen[0][1]


async def test_a_real_failure_still_counts_after_unknown_runs(rig: Rig) -> None:
    ck = Flaky(spec(fall=2), "EFEF")
    rig.mon.add("rs", [ck])
    for i in range(3):
        await rig.step(1.0 if i else 0.0)
    # F, E, F: the unknown run in between neither counts nor resets the failure streak
    assert rig.mon.health("rs") is Health.UP
    await rig.step(1.0)
    assert rig.mon.health("rs") is Health.DOWN
    (view,) = rig.mon.views("rs")
    assert (view.unknown, view.failures) == (2, 2)


# A real TCP check at the descriptor limit, in a child process (a low RLIMIT_NOFILE there
# cannot starve pytest), on asyncio and on uvloop.
_CHILD = textwrap.dedent(
    """
    import asyncio, random, resource, socket, sys
    from lvstui.clock import SystemClock
    from lvstui.config.schema import RealServer, TcpCheck, VirtualServer
    from lvstui.health.build import build_checkers
    from lvstui.health.scheduler import HealthMonitor

    async def main():
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0)); srv.listen(64)
        port = srv.getsockname()[1]
        vs = VirtualServer("127.0.0.1", port, delay_loop=0.05)
        real = RealServer("127.0.0.1", port, checks=(TcpCheck(),))
        changes = []
        mon = HealthMonitor(SystemClock(), on_change=lambda *a: changes.append(a),
                            rng=random.Random(1))
        mon.add("rs", build_checkers(real, vs))
        task = asyncio.create_task(mon.run())
        await asyncio.sleep(0.3)
        hold = []
        try:
            while True:
                hold.append(socket.socket())
        except OSError:
            pass
        for _ in range(200):  # bounded: up to 10 s for three unknown runs
            await asyncio.sleep(0.05)
            if mon.views("rs")[0].unknown >= 3:
                break
        during = mon.health("rs").value
        (v,) = mon.views("rs")
        for s in hold:
            s.close()
        for _ in range(200):  # and for a run after the descriptors are back
            await asyncio.sleep(0.05)
            if mon.views("rs")[0].runs > v.runs + 1:
                break
        mon.stop(); await task
        (v2,) = mon.views("rs")
        print(during, v.unknown, v.failures, mon.health("rs").value, v2.runs > v.runs,
              len(changes))

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard))
    if sys.argv[1] == "uvloop":
        import uvloop
        uvloop.run(main())
    else:
        asyncio.run(main())
    """
)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_tcp_check_at_the_descriptor_limit_is_unknown(loop: str) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, loop],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    during, unknown, failures, after, ran_again, changes = out.stdout.split()
    assert during == Health.UP.value
    assert int(unknown) >= 3 and int(failures) == 0
    assert after == Health.UP.value and ran_again == "True"
    assert changes == "0"
