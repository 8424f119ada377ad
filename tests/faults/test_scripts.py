"""Faults in scripts and checks (issue 10 items 1 and 3, issue 14 item 5), through a real
daemon on the userspace dataplane (uvloop) with traffic through the VIP. Each fault is
local to lvstui's host, so the count of failed requests must be 0."""

from __future__ import annotations

import os

from tests.faults.harness import FaultLab, eventually, misc_check
from tests.helpers import process_alive

MIB = 1024

# A hostile MISC_CHECK: a grandchild leaves for a session of its own holding our stdout
# (it outlives the check's timeout), then 8 MB of NULs and terminal escapes, then success.
CHECK_SH = """#!/bin/sh
setsid sh -c 'echo $$ >> {dir}/escaped.pids; exec sleep 30' &
printf 'up\\000\\033[2J'
head -c 8000000 /dev/zero
exit 0
"""

# A hostile notify command: logs "EVENT-PORT", escapes a grandchild on stdout, writes 50 MB;
# for the real server whose port is in hang.port it then hangs.
HANG_SH = """#!/bin/sh
echo "$1-$2" >> {dir}/notify.log
setsid sh -c 'echo $$ >> {dir}/escaped.pids; exec sleep 60' &
head -c 50000000 /dev/zero
if [ "$2" = "$(cat {dir}/hang.port)" ]; then echo "$$" >> {dir}/hung.pids; exec sleep 120; fi
"""


def test_misc_check_on_uvloop_with_an_escaping_chatty_grandchild() -> None:
    user = "nobody" if os.geteuid() == 0 else None  # the user switch, where we may switch
    with FaultLab(
        "misc",
        check=misc_check("{dir}/check.sh", timeout=10, user=user),
        scripts={"check.sh": CHECK_SH},
    ) as lab:
        lab.wait_serving()  # the misc checks pass: both real servers are up
        assert "event loop uvloop" in lab.log()
        before = lab.stats()
        with lab.traffic() as t:
            t.wait_requests(200)  # several check rounds (delay_loop 1 s)
        after = lab.stats()
        lab.report("misc on uvloop, escaping chatty grandchild", t, before, after)
        assert t.failed == 0, t.errors
        assert set(t.answered_by) == set(lab.names)
        assert after.rss_kib - before.rss_kib < 32 * MIB  # 8 MB per check is never held
        # no pipe left behind per check (a check in flight holds a few: ~10 rounds ran)
        eventually(lambda: lab.stats().fds - before.fds <= 6)
        log = lab.log()
        assert "\x00" not in log and "\x1b" not in log
        assert lab.daemon.stop() == 0


def test_hung_notify_script_blocks_only_its_own_real_server() -> None:
    lab = FaultLab(
        "notify",
        reals=3,
        check=misc_check("test -e {dir}/up.{port}"),
        real_extra=(
            'notify_up = "{dir}/hang.sh up {port}"\nnotify_down = "{dir}/hang.sh down {port}"'
        ),
        lvstui_extra="notify_timeout = 300",
        scripts={"hang.sh": HANG_SH},
    )
    p0, p1, _ = (lab.servers.port(n) for n in lab.names)
    (lab.dir / "hang.port").write_text(f"{p0}\n")
    flags = {n: lab.dir / f"up.{lab.servers.port(n)}" for n in lab.names}
    for flag in flags.values():
        flag.touch()
    events = lab.dir / "notify.log"

    def logged() -> list[str]:
        return events.read_text().split() if events.exists() else []

    with lab:
        lab.wait_serving()
        before = lab.stats()
        with lab.traffic() as t:
            flags["rs0"].unlink()  # rs0's check fails: notify_down rs0 runs and hangs
            eventually(lambda: logged() == [f"down-{p0}"])
            eventually(lambda: (lab.dir / "hung.pids").exists())
            flags["rs1"].unlink()  # another source: runs although rs0's script hangs
            eventually(lambda: logged() == [f"down-{p0}", f"down-{p1}"])
            flags["rs1"].touch()
            eventually(lambda: logged() == [f"down-{p0}", f"down-{p1}", f"up-{p1}"])
            flags["rs0"].touch()  # rs0 is back: its notify_up waits behind its hung script
            lab.wait_serving()
            t.wait_requests(100)
        after = lab.stats()
        lab.report("hung notify script, 50 MB outputs, escaping grandchildren", t, before, after)
        assert t.failed == 0, t.errors
        assert logged() == [f"down-{p0}", f"down-{p1}", f"up-{p1}"]  # order per source kept
        assert after.rss_kib - before.rss_kib < 32 * MIB  # 3 x 50 MB read, never held
        (hung,) = (int(p) for p in (lab.dir / "hung.pids").read_text().split())
        assert process_alive(hung)
        # stop: bounded although a script hangs (notify_timeout 300 s), its group killed
        assert lab.daemon.stop(timeout=60) == 0
        eventually(lambda: not process_alive(hung))
        log = lab.log()
        assert "\x00" not in log and "stopped" in log
        assert "stop: 2 notify command(s) still running or queued after 10s: abandoned" in log
