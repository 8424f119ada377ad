"""vrrp_track_process: keepalived's matching (name, full command, parameters), quorum and
delays (pure), /proc read for real, and two directors on the in-memory LAN whose priorities
move with a tracked process (the keepalived side: tests/vrrp/test_lab.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from lvstui.clock import FakeClock
from lvstui.config.load import load_config_text
from lvstui.config.schema import Config, TrackWeight, VrrpTrackProcess
from lvstui.errors import ConfigError
from lvstui.model import VrrpRunState as S
from lvstui.vrrp.process import MemoryProcesses, Proc, ProcScan, Quorum, matches, step
from lvstui.vrrp.transport import MemoryHub
from tests.vrrp.test_node import Director, inst, run_for, until

NGINX = Proc(10, "nginx", ("/usr/sbin/nginx", "-g", "daemon off;"))


def tp(**kw: object) -> VrrpTrackProcess:
    base: dict[str, object] = {"name": "p", "process": "nginx"}
    base.update(kw)
    return VrrpTrackProcess(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("track", "hit"),
    [
        (tp(), True),  # the name, as /proc/PID/comm has it
        (tp(process="ngin"), False),  # exact, not pgrep's regular expression
        (tp(process="/usr/sbin/nginx", full_command=True), True),
        (tp(process="nginx", full_command=True), False),  # argv[0] is the path
        (
            tp(
                process="/usr/sbin/nginx",
                params=("-g", "daemon off;"),
                param_match="exact",
                full_command=True,
            ),
            True,
        ),
        (
            tp(process="/usr/sbin/nginx", params=("-g",), param_match="exact", full_command=True),
            False,
        ),
        (
            tp(process="/usr/sbin/nginx", params=("-g",), param_match="partial", full_command=True),
            True,
        ),
        (
            tp(
                process="/usr/sbin/nginx",
                params=("-g", "daemon"),
                param_match="initial",
                full_command=True,
            ),
            True,
        ),
        (
            tp(
                process="/usr/sbin/nginx",
                params=("-g", "daemon"),
                param_match="partial",
                full_command=True,
            ),
            False,
        ),
        (
            tp(process="/usr/sbin/nginx", params=(), param_match="exact", full_command=True),
            False,
        ),  # no params wanted
    ],
)
def test_matching_is_keepaliveds(track: VrrpTrackProcess, hit: bool) -> None:
    assert matches(track, NGINX) is hit


def test_quorum_and_delays() -> None:
    t = tp(quorum=2, quorum_max=3, fork_delay=1.0, terminate_delay=2.0)
    q = Quorum(False)
    q = step(t, q, 2, 10.0)
    assert q == Quorum(False, 10.0)  # quorum reached: waits fork_delay
    assert step(t, q, 1, 10.5) == Quorum(False)  # undone before the delay: nothing
    q = step(t, step(t, q, 2, 10.5), 2, 11.5)
    assert q.ok
    q = step(t, q, 4, 12.0)  # above quorum_max: a failure, after terminate_delay
    assert q == Quorum(True, 12.0) and step(t, q, 4, 14.0) == Quorum(False)
    none = tp(quorum=0, quorum_max=0)  # OK only while nothing matches
    assert step(none, Quorum(False), 0, 0.0).ok and not step(none, Quorum(True), 1, 0.0).ok


def test_config_follows_keepalived_and_refuses_what_it_refuses() -> None:
    base = """
[vrrp_track_process.web]
process = "nginx"
{extra}
[vrrp_instance.VI_1]
interface = "eth0"
virtual_router_id = 51
virtual_ipaddress = ["192.0.2.9"]
track_process = ["{track}"]
"""
    cfg = load_config_text(
        base.format(extra='params = ["-g"]\ndelay = 0.5', track="web weight -30")
    )
    (t,) = cfg.vrrp_track_processes
    assert (t.param_match, t.full_command, t.fork_delay, t.terminate_delay) == (
        "exact",
        True,
        0.5,
        0.5,
    )
    assert cfg.vrrp_instances[0].track_process_weight == (TrackWeight("web", -30),)
    with pytest.raises(ConfigError, match="unknown vrrp_track_process 'nope'"):
        load_config_text(base.format(extra="", track="nope"))
    with pytest.raises(ConfigError, match="quorum 3 is above quorum_max 2"):
        load_config_text(base.format(extra="quorum = 3\nquorum_max = 2", track="web"))
    with pytest.raises(ConfigError, match="param_match"):
        load_config_text(base.format(extra='param_match = "regex"', track="web"))


def test_proc_scan_reads_the_real_proc() -> None:
    """A child with a distinctive command line is found by name and by its parameters, and
    no longer once it has exited."""
    marker = f"lvt-proc-{os.getpid()}"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", marker])
    try:
        exe = sys.executable
        by_params = tp(
            process=exe,
            params=("-c", "import time; time.sleep(30)", marker),
            param_match="exact",
            full_command=True,
        )
        found = [p for p in ProcScan().scan(True) if matches(by_params, p)]
        assert [p.pid for p in found] == [child.pid]
        assert found[0].comm == Path(exe).name[:15]
    finally:
        child.kill()
        child.wait()
    assert not [p for p in ProcScan().scan(True) if matches(by_params, p)]


def test_proc_scan_skips_zombies(tmp_path: Path) -> None:
    for pid, state in (("7", "S"), ("8", "Z")):
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "stat").write_text(f"{pid} (my (odd) name) {state} 1 1 1\n")
        (tmp_path / pid / "cmdline").write_bytes(b"/bin/x\0a\0")
    assert ProcScan(str(tmp_path)).scan(True) == [Proc(7, "my (odd) name", ("/bin/x", "a"))]


async def test_priorities_move_with_the_process() -> None:
    """`track_process { web weight -60 }`: nginx gone lowers 150 to 90 below the peer's 100,
    which takes over (BACKUP here, not FAULT); back, it preempts again. Weight 0: FAULT."""
    hub, clock = MemoryHub(), FakeClock()
    web = VrrpTrackProcess("web", "nginx", weight=-60)
    tracking = inst(150, track_process=("web",))
    cfg = Config(vrrp_track_processes=(web,), vrrp_instances=(tracking,))
    procs = MemoryProcesses([NGINX])
    a = Director(hub, clock, "198.51.100.11", cfg, proc_table=procs)
    b = Director(hub, clock, "198.51.100.12", Config(vrrp_instances=(inst(100),)))
    await a.group.start()
    await b.group.start()
    try:
        await until(clock, lambda: a.state() == S.MASTER and b.state() == S.BACKUP)
        procs.procs.clear()
        await until(clock, lambda: b.state() == S.MASTER and a.state() == S.BACKUP, 3)
        assert a.group.nodes["VI_1"]._effective_priority() == 90
        procs.procs.append(NGINX)
        await until(clock, lambda: a.state() == S.MASTER and b.state() == S.BACKUP, 3)
        # reload: the same process at weight 0 makes its absence a FAULT
        await a.group.reload(replace(cfg, vrrp_track_processes=(replace(web, weight=0),)))
        procs.procs.clear()
        await until(clock, lambda: a.state() == S.FAULT and b.state() == S.MASTER, 3)
        procs.procs.append(NGINX)
        await until(clock, lambda: a.state() == S.MASTER, 3)
        await run_for(clock, 0.2)
    finally:
        await a.group.stop()
        await b.group.stop()
