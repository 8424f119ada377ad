"""keepalived's three notify FIFOs side by side: `notify_fifo` gets the VRRP and the LVS
lines, `vrrp_notify_fifo` the VRRP ones only, `lvs_notify_fifo` the LVS ones only, each
read by a real reader on a real FIFO."""

from __future__ import annotations

from pathlib import Path

from lvstui.config.schema import GlobalDefs
from lvstui.notify.fifo import NotifyFifos
from tests.notify.test_fifo import Reader

VRRP_LINE = 'INSTANCE "VI_1" MASTER 100'
LVS_LINE = "RS [198.51.100.20]:80 [192.0.2.10]:tcp:80 DOWN"


def test_each_fifo_gets_its_lines(tmp_path: Path) -> None:
    paths = {k: tmp_path / f"{k}.fifo" for k in ("all", "vrrp", "lvs")}
    gd = GlobalDefs(
        notify_fifo=str(paths["all"]),
        vrrp_notify_fifo=str(paths["vrrp"]),
        lvs_notify_fifo=str(paths["lvs"]),
    )
    fifos = NotifyFifos.from_config(gd)
    assert fifos is not None
    fifos.create()
    readers = {k: Reader(p) for k, p in paths.items()}
    try:
        fifos.vrrp(VRRP_LINE)
        fifos.lvs(LVS_LINE)
        seen = {k: r.lines() for k, r in readers.items()}
    finally:
        for r in readers.values():
            r.close()
        for w in fifos.writers:
            w.close()
    assert seen == {"all": [VRRP_LINE, LVS_LINE], "vrrp": [VRRP_LINE], "lvs": [LVS_LINE]}
