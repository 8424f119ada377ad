"""`ctl add` of a real server of the other address family: the kernel takes one only for
tunnelling (TUN), so NAT and DR are refused by the engine, with nothing changed, instead of
being accepted and then refused by the dataplane every second."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvstui.clock import FakeClock
from lvstui.config.schema import Config, LbKind, RealServer, VirtualServer
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.model import AddReal, RealKey, ServiceKey
from tests.engine.builders import SK, config

V6 = RealKey("2001:db8::7", 80)
V4 = RealKey("192.0.2.77", 80)
SK6 = ServiceKey.parse("TCP [2001:db8::1]:80")


def v6_config(kind: LbKind) -> Config:
    vs = VirtualServer(
        ip="2001:db8::1",
        port=80,
        lb_kind=kind,
        real_servers=(RealServer("2001:db8::2", 80),),
    )
    return Config(path="<test>", virtual_servers=(vs,))


@pytest.mark.parametrize(
    ("cfg", "svc", "real", "cmd_kind"),
    [
        (config(lb_kind=LbKind.NAT), SK, V6, None),
        (config(lb_kind=LbKind.DR), SK, V6, None),
        (config(lb_kind=LbKind.TUN), SK, V6, LbKind.NAT),  # the command's own kind counts
        (v6_config(LbKind.NAT), SK6, V4, None),
    ],
)
async def test_other_family_refused_unless_tun(
    tmp_path: Path, cfg: Config, svc: ServiceKey, real: RealKey, cmd_kind: LbKind | None
) -> None:
    dp = MemoryDataplane()
    e = Engine(cfg, dataplane=dp, clock=FakeClock(), state_dir=tmp_path)
    await e.start()
    try:
        ops = len(dp.ops)
        res = await e.call(AddReal(svc, real, 1, cmd_kind))
        assert not res.ok
        fam, other = ("6", "4") if ":" in real.addr else ("4", "6")
        assert res.message == (
            f"cannot add {real} to {svc}: an IPv{fam} real server ({real.addr}) in an "
            f"IPv{other} service "
            f"needs TUN forwarding, not {(cmd_kind or cfg.virtual_servers[0].lb_kind).value}"
        )
        assert "TUN" in res.detail  # the hint: what to do instead
        # nothing changed: no override saved, nothing sent to the dataplane, not in the view
        assert e.overrides.is_empty()
        assert not (tmp_path / "overrides.toml").exists()
        assert len(dp.ops) == ops and e.apply_errors == 0
        assert real not in {r.key for r in e.snapshot().services[0].real_servers}
    finally:
        await e.stop()


@pytest.mark.parametrize(
    ("cfg", "cmd_kind"),
    [(config(lb_kind=LbKind.TUN), None), (config(lb_kind=LbKind.NAT), LbKind.TUN)],
)
async def test_other_family_accepted_for_tun(cfg: Config, cmd_kind: LbKind | None) -> None:
    dp = MemoryDataplane()
    e = Engine(cfg, dataplane=dp, clock=FakeClock())
    await e.start()
    try:
        res = await e.call(AddReal(SK, V6, 1, cmd_kind))
        assert res.ok, res
        (svc,) = await dp.observe()
        assert V6 in {d.key for d in svc.dests} and e.apply_errors == 0
        # and the same family is of course fine with NAT
        assert (await e.call(AddReal(SK, V4, 1, LbKind.NAT))).ok
    finally:
        await e.stop()
