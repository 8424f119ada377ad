"""global_defs vrrp_garp_interval / vrrp_gna_interval reach the VRRP group's announcer at
start and on a reload (the spacing on the wire is tests/vrrp/test_kernel_edges.py's)."""

from __future__ import annotations

from dataclasses import replace

from lvstui.config.schema import Config, GlobalDefs
from tests.vrrp.test_node import Director, inst, lan  # noqa: F401  (lan: the fixture)


async def test_intervals_at_start_and_on_reload(lan) -> None:  # noqa: F811
    hub, clock = lan
    gd = GlobalDefs(vrrp_garp_interval=0.2, vrrp_gna_interval=0.3)
    cfg = Config(global_defs=gd, vrrp_instances=(inst(100),))
    a = Director(hub, clock, "198.51.100.11", cfg)
    assert a.garp.intervals == (0.2, 0.3)
    await a.group.start()
    try:
        changed = replace(cfg, global_defs=GlobalDefs(vrrp_garp_interval=0.05))
        await a.group.reload(changed)
        assert a.garp.intervals == (0.05, 0.0)
    finally:
        await a.group.stop()
