"""Issue 14 item 5, through the VRRP driver: a notify script that hangs on one instance does
not delay another instance's notify_master (real scripts; the order of events is measured,
no timing is asserted)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lvstui.clock import FakeClock
from lvstui.config.schema import Config, VipAddress
from lvstui.model import VrrpRunState as S
from lvstui.vrrp.transport import MemoryHub
from tests.helpers import process_alive
from tests.vrrp.test_node import Director, inst, run_for, until


async def test_hung_notify_of_one_instance_does_not_delay_anothers_master(
    tmp_path: Path,
) -> None:
    hub, clock = MemoryHub(), FakeClock()
    events = tmp_path / "events"
    note = f"sh -c 'echo $0 >> {events}'"
    hang = f"sh -c 'echo $$ > {tmp_path}/hung.pid; echo VI_1-backup >> {events}; sleep 300'"
    vi1 = inst(100, notify_backup=hang, notify_master=f"{note} VI_1-master")
    vi2 = inst(
        100,
        name="VI_2",
        virtual_router_id=52,
        virtual_ipaddress=(VipAddress("198.51.100.10", 24),),
        notify_backup=f"{note} VI_2-backup",
        notify_master=f"{note} VI_2-master",
    )
    a = Director(hub, clock, "198.51.100.11", Config(vrrp_instances=(vi1, vi2)))
    a.group.runner.timeout = 300  # VI_1's backup script would hold a serial queue 300 s
    lines: list[str] = []

    def logged() -> list[str]:
        lines[:] = events.read_text().split() if events.exists() else []
        return lines

    await a.group.start()
    try:
        await until(clock, lambda: a.state("VI_1") == S.MASTER and a.state("VI_2") == S.MASTER)
        for _ in range(3000):  # real time for the scripts: bounded, not a speed goal
            if "VI_2-master" in logged():
                break
            await run_for(clock, 0.005)
            await asyncio.sleep(0.01)
        hung = int((tmp_path / "hung.pid").read_text())
        assert process_alive(hung)  # VI_1's notify_backup still hangs...
        # ...yet VI_2 went through BACKUP and MASTER; VI_1's master waits behind its backup
        assert [e for e in lines if e.startswith("VI_2")] == ["VI_2-backup", "VI_2-master"]
        assert [e for e in lines if e.startswith("VI_1")] == ["VI_1-backup"]
    finally:
        await a.group.stop()  # bounded although a script hangs: its group is killed
    assert not process_alive(hung)
    assert "VI_1-master" not in logged()  # queued behind the hung script, not run after stop
