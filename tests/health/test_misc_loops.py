"""MISC_CHECK on both event loops the daemon runs on (asyncio's and uvloop's), with real
processes: a `user` switch, a `setsid` grandchild holding the pipe, cancellation during the
clean-up, output that is bounded while read and sanitised for the log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvloop

from lvstui.child import printable, run_child
from lvstui.config.schema import MiscCheck, RealServer, VirtualServer
from lvstui.health.base import CheckResult
from lvstui.health.build import build_checker
from lvstui.health.misc import OUTPUT_CAP, MiscChecker
from tests.helpers import async_wait_until, process_alive, wait_until

T = TypeVar("T")
PY = sys.executable

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


@pytest.fixture(params=sorted(LOOPS))
def on_loop(request: pytest.FixtureRequest) -> Callable[[Coroutine[Any, Any, T]], T]:
    factory = LOOPS[request.param]

    def run(coro: Coroutine[Any, Any, T]) -> T:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(coro)

    return run


def checker(path: str, *, timeout: float = 10.0, user: str | None = None) -> MiscChecker:
    check = MiscCheck(path, misc_timeout=timeout, user=user)
    ck = build_checker(check, RealServer("127.0.0.1", 80), VirtualServer("192.0.2.9", 80))
    assert isinstance(ck, MiscChecker)
    return ck


def escape(pidfile: Path) -> str:
    """Shell text: a grandchild that leaves for a session of its own (holding our stdout),
    writes its pid to `pidfile` once it has left, and is waited for until then."""
    return (
        f'setsid sh -c "echo \\$\\$ > {pidfile}; exec sleep 120" & '
        f"while [ ! -s {pidfile} ]; do sleep 0.01; done;"
    )


def test_misc_check_runs(
    on_loop: Callable[[Coroutine[Any, Any, CheckResult]], CheckResult],
) -> None:
    assert on_loop(checker("sh -c 'echo up; exit 0'").run()).reason == "exit 0: up"
    down = on_loop(checker("sh -c 'echo no >&2; exit 1'").run())
    assert not down.ok and down.reason == "exit 1: no"


@pytest.mark.root
def test_user_switch(on_loop: Callable[[Coroutine[Any, Any, CheckResult]], CheckResult]) -> None:
    from tests.helpers import require_root

    require_root("switching to another user")
    r = on_loop(checker("sh -c 'echo $(id -un):$(id -gn):$(id -G)'", user="nobody").run())
    assert r.ok, r.reason
    import grp
    import pwd

    nobody = pwd.getpwnam("nobody")
    groups = " ".join(str(g) for g in os.getgrouplist("nobody", nobody.pw_gid))
    assert r.reason == f"exit 0: nobody:{grp.getgrgid(nobody.pw_gid).gr_name}:{groups}"
    # root's supplementary groups are not inherited
    assert "0" not in r.reason.rsplit(":", 1)[1].split()
    unknown = on_loop(checker("true", user="no-such-user-reliab").run())
    assert not unknown.ok and "no such user 'no-such-user-reliab'" in unknown.reason


def test_setsid_grandchild_holding_the_pipe(
    on_loop: Callable[[Coroutine[Any, Any, CheckResult]], CheckResult], tmp_path: Path
) -> None:
    # the script exits at once; a grandchild in a session of its own keeps stdout open
    pidfile = tmp_path / "pid"
    ck = checker(f"sh -c '{escape(pidfile)} echo fine'", timeout=60)
    r = on_loop(ck.run())
    pid = int(pidfile.read_text())
    try:
        assert r.ok and r.reason == "exit 0: fine"
        # the run ended while the grandchild still held the pipe: it did not wait for it
        assert process_alive(pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_cancellation_is_not_swallowed(
    on_loop: Callable[[Coroutine[Any, Any, tuple[bool, bool]]], tuple[bool, bool]],
    tmp_path: Path,
) -> None:
    # a hung check with a setsid grandchild on the pipe is cancelled (stop), then cancelled
    # again while it cleans up: the task ends cancelled, the hung script is gone
    pidfile = tmp_path / "pids"
    ck = checker(f"sh -c '{escape(pidfile)} echo $$ >> {pidfile}; sleep 120'", timeout=60)

    async def scenario() -> tuple[bool, bool]:
        task = asyncio.create_task(ck.run())
        await async_wait_until(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2)
        task.cancel()
        await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=30)  # a hang guard, not a speed goal
        return task in done, task.cancelled()

    finished, cancelled = on_loop(scenario())
    grandchild, script = (int(p) for p in pidfile.read_text().split())
    try:
        assert finished and cancelled
        assert not process_alive(script)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(grandchild, signal.SIGKILL)


def test_output_bounded_while_read(
    on_loop: Callable[[Coroutine[Any, Any, Any]], Any],
) -> None:
    # 64 MiB of output: read as it comes, only the cap kept, the rest counted
    async def scenario() -> Any:
        return await run_child(
            [PY, "-c", "import sys; sys.stdout.buffer.write(b'y' * (64 << 20))"],
            timeout=60,
            cap=OUTPUT_CAP,
        )

    r = on_loop(scenario())
    assert r.returncode == 0
    assert len(r.output) == OUTPUT_CAP
    assert r.dropped == (64 << 20) - OUTPUT_CAP


def test_reason_is_sanitised(
    on_loop: Callable[[Coroutine[Any, Any, CheckResult]], CheckResult],
) -> None:
    r = on_loop(
        checker(f"{PY} -c \"import sys; sys.stdout.write('a\\x00b\\x1b[31mc' + 'z' * 500)\"").run()
    )
    assert r.ok
    assert "\x00" not in r.reason and "\x1b" not in r.reason
    assert r.reason.startswith("exit 0: a\\x00b\\x1b[31mc")
    assert r.reason.endswith("bytes)")  # cut, and says so


def test_printable() -> None:
    assert printable(b"ok\n") == "ok"
    assert printable(b"a\nb\tc\r\x00\x7f") == "a\\nb\\tc\\r\\x00\\x7f"
    assert printable("é\u202e".encode()) == "é\\u202e"  # bidi override: not printable
    assert printable(b"\xff") == "\ufffd"
    assert printable(b"x" * 10, limit=4) == "xxxx … (+6 bytes)"
    assert printable(b"x", dropped=100) == "x … (+100 bytes)"


def marked(marker: str) -> list[int]:
    """Running processes whose command line contains `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmd and process_alive(int(entry)):
                found.append(int(entry))
    return found


def test_cancelled_while_starting_leaves_nothing(
    on_loop: Callable[[Coroutine[Any, Any, None]], None],
) -> None:
    # a stop may cancel a check while its child is still being started: the group is killed
    # all the same (the loops themselves would kill the leader only, if anything)
    marker = f"{os.getpid()}.{id(on_loop)}"
    argv = ["sh", "-c", f"sleep 120.{marker} & sleep 121.{marker}"]

    async def scenario() -> None:
        for steps in range(8):
            task = asyncio.create_task(run_child(argv, timeout=60))
            for _ in range(steps):
                await asyncio.sleep(0)
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=30)  # a hang guard
            assert task in done and task.cancelled()

    on_loop(scenario())
    try:
        wait_until(lambda: marked(marker) == [], timeout=10)
    finally:
        for pid in marked(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
