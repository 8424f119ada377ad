"""global_defs.lvs_timeouts (keepalived's, ipvsadm --set) reach the dataplane at start and on
a reload that changes them; the kernel's own check is in tests/vm/guest_ipvs.py."""

from __future__ import annotations

from dataclasses import replace

from lvstui.clock import FakeClock
from lvstui.config.schema import GlobalDefs, LvsTimeouts
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from tests.engine.builders import config


async def test_lvs_timeouts_at_start_and_on_reload() -> None:
    cfg = replace(config(), global_defs=GlobalDefs(lvs_timeouts=LvsTimeouts(tcp=7200, udp=45)))
    dp = MemoryDataplane()
    assert dp.timeouts == (900, 120, 300)  # the kernel's at boot
    e = Engine(cfg, dataplane=dp, clock=FakeClock())
    await e.start()
    try:
        assert dp.timeouts == (7200, 120, 45)  # tcpfin unset: left as it was
        changed = replace(cfg, global_defs=GlobalDefs(lvs_timeouts=LvsTimeouts(tcpfin=30)))
        assert (await e.reload(changed)).ok
        assert dp.timeouts == (7200, 30, 45)
        dp.timeouts = (1, 2, 3)  # someone ran ipvsadm --set: an unchanged reload leaves it
        assert (await e.reload(changed)).ok
        assert dp.timeouts == (1, 2, 3)
    finally:
        await e.stop()
