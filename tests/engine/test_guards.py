"""Guards of the engine (issue 10): a reload that empties the site needs --force; `ctl add`
of a real server on port 0 in a port service is refused like the loader refuses it; an
operator change whose overrides cannot be saved is not applied, and says why."""

from __future__ import annotations

import errno
from dataclasses import replace
from pathlib import Path

import pytest

from lvstui.clock import FakeClock
from lvstui.config.schema import Config, RealServer
from lvstui.config.state import StateFile
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.model import AddReal, Drain, RealKey, SetWeight
from tests.engine.builders import SK, R, config, service


def four_services() -> Config:
    vss = tuple(
        service(ip=f"198.51.100.{10 + i}", real_servers=(RealServer(R[0].addr, 80),))
        for i in range(4)
    )
    return Config(path="/nonexistent/config.toml", virtual_servers=vss)


async def started(cfg: Config, tmp_path: Path) -> tuple[Engine, MemoryDataplane]:
    dp = MemoryDataplane()
    e = Engine(cfg, dataplane=dp, clock=FakeClock(), state_dir=tmp_path)
    await e.start()
    return e, dp


async def test_a_reload_that_removes_every_service_needs_force(tmp_path: Path) -> None:
    cfg = four_services()
    e, dp = await started(cfg, tmp_path)
    try:
        empty = replace(cfg, virtual_servers=())
        res = await e.reload(empty, who="SIGHUP")
        assert not res.ok
        assert "removes every service (4)" in res.message and "--force" in res.message
        assert len(await dp.observe()) == 4  # nothing removed
        dry = await e.reload(empty, dry_run=True)  # a dry run shows it, as always
        assert dry.ok and "4 change(s)" in dry.message
        forced = await e.reload(empty, force=True)
        assert forced.ok
        assert await dp.observe() == []
    finally:
        await e.stop(graceful=False)


async def test_a_reload_that_removes_more_than_the_share_needs_force(tmp_path: Path) -> None:
    cfg = four_services()
    e, dp = await started(cfg, tmp_path)
    try:
        three_gone = replace(cfg, virtual_servers=cfg.virtual_servers[:1])
        res = await e.reload(three_gone)
        assert not res.ok and "removes 3 of 4 services" in res.message
        half = replace(cfg, virtual_servers=cfg.virtual_servers[:2])
        assert (await e.reload(half)).ok  # 2 of 4 is the default share: allowed
        assert len(await dp.observe()) == 2
        # the new file may allow more itself
        lenient = replace(
            cfg,
            virtual_servers=(),
            lvstui=replace(cfg.lvstui, reload_max_removal=1.0),
        )
        res = await e.reload(lenient)
        assert not res.ok and "every service" in res.message  # never without --force
    finally:
        await e.stop(graceful=False)


async def test_ctl_add_on_port_0_of_a_port_service_is_refused(tmp_path: Path) -> None:
    e, dp = await started(config(), tmp_path)
    try:
        ops = len(dp.ops)
        res = await e.call(AddReal(SK, RealKey("192.0.2.77", 0), 1))
        assert not res.ok
        assert "port 0 in a service on port 80" in res.message
        assert "192.0.2.77:80" in res.detail
        assert len(dp.ops) == ops and e.overrides.is_empty()
    finally:
        await e.stop(graceful=False)


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS])
async def test_a_failed_state_save_applies_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, err: int
) -> None:
    e, dp = await started(config(), tmp_path)
    try:

        def fail(self: StateFile, overrides: object) -> None:
            raise OSError(err, "cannot write", str(tmp_path / "overrides.toml"))

        monkeypatch.setattr(StateFile, "save", fail)
        ops = len(dp.ops)
        for cmd in (Drain(SK, R[0]), SetWeight(SK, R[1], 0), AddReal(SK, RealKey("192.0.2.9", 80))):
            res = await e.call(cmd)
            assert not res.ok, cmd
            assert res.message.startswith("not applied: the overrides cannot be saved")
        assert len(dp.ops) == ops  # nothing reached the dataplane
        assert e.overrides.is_empty()
        assert e.counters()["state_save_failures"] == 3
        snap = e.published_snapshot()
        assert all(r.weight == 2 for s in snap.services for r in s.real_servers)
    finally:
        await e.stop(graceful=False)
