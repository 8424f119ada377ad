"""The engine on the in-memory dataplane, with health transitions fed by hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import tomli_w

from lvstui.clock import FakeClock
from lvstui.config.schema import Config, GlobalDefs, SorryServer, SyncDaemon
from lvstui.control.local import LocalClient
from lvstui.dataplane.base import DelDest, ObservedService, SyncRole
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.errors import PermissionDenied
from lvstui.model import (
    AddReal,
    ConfigReloaded,
    Drain,
    DrainProgress,
    DrainState,
    Event,
    Health,
    LogEvent,
    OperatorAction,
    QuorumChanged,
    RealKey,
    Reload,
    RemoveReal,
    ServiceKey,
    SetWeight,
    Undrain,
    VrrpChanged,
    VrrpRunState,
)
from lvstui.wiring import start_metrics
from tests.engine.builders import SK, SORRY, FakeVrrp, R, config
from tests.helpers import async_wait_until


async def table(dp: MemoryDataplane) -> dict[ServiceKey, dict[RealKey, int]]:
    return {s.key: {d.key: d.weight for d in s.dests} for s in await dp.observe()}


@pytest.fixture
async def engine_factory(tmp_path: Path) -> AsyncIterator[object]:
    made: list[Engine] = []

    def make(cfg: Config, dp: MemoryDataplane | None = None, **kw: object) -> Engine:
        e = Engine(cfg, dataplane=dp or MemoryDataplane(), clock=FakeClock(), **kw)  # type: ignore[arg-type]
        made.append(e)
        return e

    yield make
    for e in made:
        await e.stop()


async def set_health(e: Engine, real: RealKey, h: Health) -> None:
    e.set_health(SK, real, h, reason="test")
    await async_wait_until(
        lambda: next(r for r in e.snapshot().services[0].real_servers if r.key == real).health is h
    )


async def test_quorum_commands_run_with_hysteresis(engine_factory, recorder) -> None:  # type: ignore[no-untyped-def]
    script, log = recorder
    # 3 servers of weight 2: live 6. quorum 4, hysteresis 1 → down below 3, up at 5 or more
    cfg = config(
        quorum=4,
        hysteresis=1,
        quorum_up=f"{script} quorum_up",
        quorum_down=f"{script} quorum_down",
        sorry_server=SorryServer(SORRY.addr, SORRY.port),
    )
    dp = MemoryDataplane()
    e = engine_factory(cfg, dp)
    events = e.subscribe()
    await e.start()
    assert await table(dp) == {SK: {R[0]: 2, R[1]: 2, R[2]: 2}}

    await set_health(e, R[0], Health.DOWN)  # live 4: still ≥ 3, quorum stays up
    assert e.snapshot().services[0].quorum_up
    await set_health(e, R[1], Health.DOWN)  # live 2 < 3: quorum lost, sorry server in
    await async_wait_until(lambda: not e.snapshot().services[0].quorum_up)
    assert await table(dp) == {SK: {SORRY: 1}}
    await set_health(e, R[0], Health.UP)  # live 4 < 5: hysteresis keeps it down
    assert not e.snapshot().services[0].quorum_up
    assert await table(dp) == {SK: {SORRY: 1}}
    await set_health(e, R[1], Health.UP)  # live 6 ≥ 5: quorum back, sorry out
    await async_wait_until(lambda: e.snapshot().services[0].quorum_up)
    assert await table(dp) == {SK: {R[0]: 2, R[1]: 2, R[2]: 2}}

    await e.notifier.join()
    assert log.read_text().split() == ["quorum_down", "quorum_up"]
    seen: list[Event] = []
    while True:
        ev = await asyncio.wait_for(anext(events), 1)
        seen.append(ev)
        if isinstance(ev, QuorumChanged) and ev.up:
            break
    q = [(ev.up, ev.live_weight, ev.sorry_active) for ev in seen if isinstance(ev, QuorumChanged)]
    assert q == [(False, 2, True), (True, 6, False)]
    events.close()


async def test_sorry_server_when_all_down_and_notify_down_up(engine_factory, recorder) -> None:  # type: ignore[no-untyped-def]
    script, log = recorder
    cfg = config(sorry_server=SorryServer(SORRY.addr, SORRY.port))
    vs = cfg.virtual_servers[0]
    reals = tuple(
        replace(rs, notify_down=f"{script} down {rs.ip}", notify_up=f"{script} up {rs.ip}")
        for rs in vs.real_servers
    )
    cfg = replace(cfg, virtual_servers=(replace(vs, real_servers=reals),))
    dp = MemoryDataplane()
    e = engine_factory(cfg, dp)
    await e.start()
    for r in R:
        await set_health(e, r, Health.DOWN)
    await async_wait_until(lambda: e.snapshot().services[0].sorry_active)
    assert await table(dp) == {SK: {SORRY: 1}}
    view = e.snapshot().services[0]
    assert view.live_weight == 0 and [r.is_sorry for r in view.real_servers][-1]
    await set_health(e, R[2], Health.UP)
    await async_wait_until(lambda: not e.snapshot().services[0].sorry_active)
    assert await table(dp) == {SK: {R[2]: 2}}
    await e.notifier.join()
    lines = log.read_text().splitlines()
    # notify scripts keep their order per real server, and servers run independently
    assert sorted(lines) == ["down 192.0.2.1", "down 192.0.2.2", "down 192.0.2.3", "up 192.0.2.3"]
    assert lines.index("down 192.0.2.3") < lines.index("up 192.0.2.3")


async def test_active_passive_fo(engine_factory) -> None:  # type: ignore[no-untyped-def]
    dp = MemoryDataplane()
    e = engine_factory(config(lb_algo="fo"), dp)
    await e.start()
    (svc,) = await dp.observe()
    assert svc.scheduler == "fo"


async def test_drain_reaches_safe_and_expires(engine_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dp = MemoryDataplane()
    e = engine_factory(config(), dp)
    events = e.subscribe()
    await e.start()
    dp.set_counters(SK, R[0], active=3, inactive=1)
    res = await e.call(Drain(SK, R[0]), who="tester")
    assert res.ok, res
    assert (await table(dp))[SK][R[0]] == 0
    await e.tick()
    assert e.snapshot().services[0].real_servers[0].drain is DrainState.DRAINING
    dp.set_counters(SK, R[0], active=0, inactive=0)
    await e.tick()
    view = e.snapshot().services[0].real_servers[0]
    assert view.drain is DrainState.SAFE and view.weight == 0
    progress = []
    while len(progress) < 2 or progress[-1].state is not DrainState.SAFE:
        ev = await asyncio.wait_for(anext(events), 1)
        if isinstance(ev, DrainProgress):
            progress.append(ev)
        if isinstance(ev, OperatorAction):
            assert ev.who == "tester" and ev.ok and ev.action.startswith("drain")
    assert progress[-1].active_conns == 0

    # timeout on the kernel-like dataplane: the dest is deleted and kept out of the table
    # (re-adding it at once would take it back from the kernel's trash, connections included)
    dp.set_counters(SK, R[1], active=5)
    assert (await e.call(Drain(SK, R[1], timeout=10))).ok
    await e.tick()
    clock = e._clock
    assert isinstance(clock, FakeClock)
    clock.advance(11)
    n = len(dp.ops)
    await e.tick()
    assert dp.ops[n:] == [DelDest(SK, R[1])]
    assert e.snapshot().services[0].real_servers[1].drain is DrainState.EXPIRED
    await e.tick()
    assert e.snapshot().services[0].real_servers[1].drain is DrainState.EXPIRED
    assert R[1] not in (await table(dp))[SK]
    assert (await e.call(SetWeight(SK, R[2], 3))).ok  # another change: R[1] stays out
    assert R[1] not in (await table(dp))[SK]
    assert (await e.call(Undrain(SK, R[1]))).ok
    assert (await table(dp))[SK][R[1]] == 2
    events.close()


async def test_commands_validate(engine_factory) -> None:  # type: ignore[no-untyped-def]
    e = engine_factory(config())
    await e.start()
    other = ServiceKey.parse("TCP 198.51.100.10:80")
    res = await e.call(Drain(other, R[0]))
    assert not res.ok and "no virtual service TCP 198.51.100.10:80" in res.message
    assert "TCP 198.51.100.9:80" in res.detail
    res = await e.call(SetWeight(SK, RealKey("192.0.2.99", 80), 3))
    assert not res.ok and "not a real server" in res.message
    with pytest.raises(ValueError, match="out of range"):  # the model refuses it first
        SetWeight(SK, R[0], 70000)
    with pytest.raises(ValueError, match="not an IP address"):
        RealKey("999.1.1.1", 80)
    res = await e.call(AddReal(SK, R[0]))
    assert not res.ok and "already" in res.message


async def test_overrides_survive_restart_and_reload(tmp_path: Path, engine_factory) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    cfg = config()
    dp = MemoryDataplane()
    e1 = engine_factory(cfg, dp, state_dir=state)
    await e1.start()
    new = RealKey("192.0.2.44", 80)
    for cmd in (
        Drain(SK, R[0]),
        SetWeight(SK, R[1], 7),
        RemoveReal(SK, R[2]),
        AddReal(SK, new, weight=3),
    ):
        assert (await e1.call(cmd)).ok
    want = {SK: {R[0]: 0, R[1]: 7, new: 3}}
    assert await table(dp) == want
    await e1.stop(release=False)

    # a new engine on the same state dir and a fresh dataplane programs the same table
    dp2 = MemoryDataplane()
    e2 = engine_factory(cfg, dp2, state_dir=state)
    await e2.start()
    assert await table(dp2) == want
    views = {r.key: r for r in e2.snapshot().services[0].real_servers}
    assert views[R[0]].drain is not DrainState.NONE
    assert views[R[1]].weight_override == 7 and views[new].runtime_added

    # a reload (weights changed in the config) keeps the overrides on top
    vs = cfg.virtual_servers[0]
    cfg2 = replace(
        cfg,
        virtual_servers=(
            replace(vs, real_servers=tuple(replace(r, weight=5) for r in vs.real_servers)),
        ),
    )
    res = await e2.reload(cfg2)
    assert res.ok, res
    assert await table(dp2) == want  # every configured weight is overridden or removed
    assert (await e2.call(SetWeight(SK, R[1], None))).ok
    assert (await table(dp2))[SK][R[1]] == 5


async def test_reload_broken_config_keeps_serving(tmp_path: Path, engine_factory) -> None:  # type: ignore[no-untyped-def]
    from lvstui.config.dump import to_toml_dict

    path = tmp_path / "config.toml"
    cfg = replace(config(), path=str(path))
    path.write_text(tomli_w.dumps(to_toml_dict(cfg)))
    dp = MemoryDataplane()
    e = engine_factory(cfg, dp)
    events = e.subscribe()
    await e.start()
    before = await table(dp)
    batches = len(dp.batches)

    path.write_text("[[virtual_server]]\nip = 'not an address'\n")
    res = await e.call(Reload())
    assert not res.ok and "configuration rejected" in res.message
    assert e.config is cfg and await table(dp) == before and len(dp.batches) == batches
    got: list[Event] = []
    while not any(isinstance(x, ConfigReloaded) for x in got):
        got.append(await asyncio.wait_for(anext(events), 1))
    assert any(isinstance(x, ConfigReloaded) and not x.ok for x in got)

    # a good file: dry run prints the difference and applies nothing
    vs = cfg.virtual_servers[0]
    cfg2 = replace(
        cfg, virtual_servers=(replace(vs, lb_algo="rr", real_servers=vs.real_servers[:2]),)
    )
    path.write_text(tomli_w.dumps(to_toml_dict(cfg2)))
    res = await e.call(Reload(dry_run=True))
    assert res.ok, res
    assert res.detail.splitlines() == [
        "~ TCP 198.51.100.9:80 lb_algo wrr → rr",
        "- TCP 198.51.100.9:80 real 192.0.2.3:80",
    ]
    assert await table(dp) == before and len(dp.batches) == batches
    # and the real reload applies only that difference
    res = await e.call(Reload())
    assert res.ok, res
    new_ops = [op for b in dp.batches[batches:] for op in b]
    assert [type(op).__name__ for op in new_ops] == ["EditService", "DelDest"]
    events.close()


async def test_reload_refuses_what_the_dataplane_cannot_do(engine_factory) -> None:  # type: ignore[no-untyped-def]
    e = engine_factory(config())
    await e.start()
    res = await e.reload(config(lb_algo="nonesuch"))
    assert not res.ok and "no scheduler 'nonesuch'" in res.message
    assert e.config.virtual_servers[0].lb_algo == "wrr"


async def test_adopt_and_release_on_stop(engine_factory) -> None:  # type: ignore[no-untyped-def]
    foreign = ObservedService(ServiceKey.parse("TCP 203.0.113.1:22"), "rr")
    dp = MemoryDataplane([foreign])
    e = engine_factory(config(), dp)
    await e.start()
    assert set(await table(dp)) == {SK, foreign.key}
    await e.stop()
    assert set(await table(dp)) == {foreign.key}  # ours removed (keepalived), theirs kept
    assert dp.closed


async def test_lvs_flush_at_start_and_full_flush_on_stop(engine_factory) -> None:  # type: ignore[no-untyped-def]
    """keepalived's lvs_flush: every service goes at start, ours then come back;
    lvs_flush_on_stop "full": every service goes on stop, "vs" only ours."""
    foreign = ObservedService(ServiceKey.parse("TCP 203.0.113.1:22"), "rr")
    dp = MemoryDataplane([foreign])
    flush = GlobalDefs(lvs_flush=True, lvs_flush_on_stop="vs")
    e = engine_factory(replace(config(), global_defs=flush), dp)
    await e.start()
    assert set(await table(dp)) == {SK}
    dp2 = MemoryDataplane([foreign])
    e2 = engine_factory(replace(config(), global_defs=GlobalDefs(lvs_flush_on_stop="vs")), dp2)
    await e2.start()
    assert set(await table(dp2)) == {SK, foreign.key}  # without lvs_flush: adopted, kept
    await e2.stop()
    assert set(await table(dp2)) == {foreign.key}
    await e.stop()
    dp3 = MemoryDataplane([foreign])
    e3 = engine_factory(replace(config(), global_defs=GlobalDefs(lvs_flush_on_stop="full")), dp3)
    await e3.start()
    await e3.stop()
    assert await table(dp3) == {}


async def test_stop_without_release_keeps_table(engine_factory) -> None:  # type: ignore[no-untyped-def]
    dp = MemoryDataplane()
    e = engine_factory(config(), dp)
    await e.start()
    await e.stop(release=False)
    assert set(await table(dp)) == {SK}


async def test_sync_daemon_follows_vrrp_and_graceful_stop(engine_factory) -> None:  # type: ignore[no-untyped-def]
    cfg = replace(
        config(), global_defs=GlobalDefs(lvs_sync_daemon=SyncDaemon("eth0", "vi", syncid=7))
    )
    dp = MemoryDataplane()
    vr = FakeVrrp()
    e = engine_factory(cfg, dp, vrrp=vr)
    await e.start()
    assert dp.sync == (SyncRole.BACKUP, "eth0", 7)
    vr.state = VrrpRunState.MASTER
    await vr.queue.put(VrrpChanged(1.0, "vi", VrrpRunState.BACKUP, VrrpRunState.MASTER, "x"))
    await async_wait_until(lambda: dp.sync[0] is SyncRole.MASTER)
    assert e.snapshot().vrrp[0].state is VrrpRunState.MASTER
    await e.stop()
    assert vr.stopped == [True]
    assert dp.sync[0] is SyncRole.NONE


async def test_local_client(engine_factory) -> None:  # type: ignore[no-untyped-def]
    e = engine_factory(config())
    await e.start()
    ro = LocalClient(e, read_only=True)
    assert (await ro.snapshot()).read_only
    with pytest.raises(PermissionDenied):
        await ro.call(Drain(SK, R[0]))
    rw = LocalClient(e, who="alice")
    stream = rw.events()  # registered now: nothing published from here on is missed
    assert (await rw.call(Drain(SK, R[0]))).ok
    ev = await asyncio.wait_for(anext(stream), 1)
    while not isinstance(ev, OperatorAction):
        ev = await asyncio.wait_for(anext(stream), 1)
    assert ev.who == "alice"
    await rw.close()
    await ro.close()

    async def rest() -> list[Event]:
        return [ev async for ev in stream]

    await asyncio.wait_for(rest(), 1)  # closing the client ends its streams


def _set_aside(state: Path) -> list[Path]:
    return sorted(state.glob("overrides.toml.bad-*"))


async def test_broken_state_file_is_moved_aside_and_start_goes_on(tmp_path: Path) -> None:
    # (more in test_overrides_recovery.py) the operator's file is kept, never lost
    (tmp_path / "overrides.toml").write_text("garbage = [")
    e = Engine(config(), dataplane=MemoryDataplane(), state_dir=tmp_path)
    await e.start()
    try:
        assert e.overrides.is_empty()
        (moved,) = _set_aside(tmp_path)
        assert moved.read_text() == "garbage = ["
    finally:
        await e.stop()


class FlakyDataplane(MemoryDataplane):
    """Refuses the first `fail` apply() calls, like a kernel saying ENOMEM once."""

    def __init__(self, fail: int) -> None:
        super().__init__()
        self.fail = fail

    async def apply(self, ops):  # type: ignore[no-untyped-def]
        from lvstui.errors import DataplaneError

        if self.fail > 0:
            self.fail -= 1
            raise DataplaneError("refused for the test")
        await super().apply(ops)


async def test_refused_apply_is_retried_on_tick(engine_factory) -> None:  # type: ignore[no-untyped-def]
    dp = FlakyDataplane(fail=1)
    e = engine_factory(config(), dp)
    await e.start()
    assert await table(dp) == {} and e.apply_errors == 1
    await e.tick()
    await async_wait_until(lambda: bool(dp.ops))
    assert await table(dp) == {SK: {R[0]: 2, R[1]: 2, R[2]: 2}}


async def test_quorum_down_at_start_runs_its_command(engine_factory, recorder) -> None:  # type: ignore[no-untyped-def]
    script, log = recorder
    # live weight 6 < quorum 10 + 0: the service starts with its quorum lost
    e = engine_factory(config(quorum=10, quorum_down=f"{script} down-at-start"))
    await e.start()
    await e.notifier.join()
    assert log.read_text().split() == ["down-at-start"]
    assert not e.snapshot().services[0].quorum_up


async def test_unmatched_overrides_kept_and_reported(tmp_path: Path, engine_factory) -> None:  # type: ignore[no-untyped-def]
    from lvstui.config.schema import VirtualServer

    state = tmp_path / "state"
    cfg = config()
    other = VirtualServer(
        ip="198.51.100.10", port=80, real_servers=cfg.virtual_servers[0].real_servers
    )
    cfg2 = replace(cfg, virtual_servers=(*cfg.virtual_servers, other))
    e = engine_factory(cfg2, MemoryDataplane(), state_dir=state)
    await e.start()
    sk2 = ServiceKey.parse("TCP 198.51.100.10:80")
    assert (await e.call(SetWeight(sk2, R[0], 9))).ok
    res = await e.reload(cfg)  # the second service goes away
    assert res.ok
    assert "! weight 192.0.2.1:80 on TCP 198.51.100.10:80: no such service" in res.detail
    assert (sk2, R[0]) in e.overrides.weights  # kept
    res = await e.reload(cfg2)  # it comes back: so does the override
    assert res.ok
    views = {s.key: s for s in e.snapshot().services}
    assert views[sk2].real_servers[0].weight == 9


async def test_history_fills_one_sample_per_tick(engine_factory) -> None:  # type: ignore[no-untyped-def]
    from lvstui.model import Stats

    dp = MemoryDataplane()
    e = engine_factory(config(), dp)
    await e.start()
    for i in range(4):
        dp.set_counters(SK, R[0], active=i)
        dp.set_counters(SK, stats=Stats(conns=10 * i, cps=i))
        await e.tick()
    view = e.snapshot().services[0]
    assert view.real_servers[0].history == (0, 1, 2, 3)
    assert view.history == (0, 1, 2, 3)


async def test_restart_removes_service_dropped_from_config_meanwhile(
    tmp_path: Path,
    engine_factory,  # type: ignore[no-untyped-def]
) -> None:
    from lvstui.config.schema import VirtualServer

    state = tmp_path / "state"
    cfg = config()
    other = VirtualServer(ip="198.51.100.10", port=80)
    foreign = ObservedService(ServiceKey.parse("TCP 203.0.113.1:22"), "rr")
    dp = MemoryDataplane([foreign])
    e1 = engine_factory(
        replace(cfg, virtual_servers=(*cfg.virtual_servers, other)), dp, state_dir=state
    )
    await e1.start()
    await e1.stop(release=False)  # like keepalived --dont-release-ipvs: the table stays
    assert len(await dp.observe()) == 3
    e2 = engine_factory(cfg, dp, state_dir=state)  # the second service left the config
    await e2.start()
    assert set(await table(dp)) == {SK, foreign.key}
    await e2.stop()
    assert set(await table(dp)) == {foreign.key}
    assert "TCP" not in (state / "owned.toml").read_text().split("services")[1]


async def test_failed_start_leaves_nothing_half_started(engine_factory) -> None:  # type: ignore[no-untyped-def]
    from lvstui.errors import VrrpError

    class BrokenVrrp(FakeVrrp):
        async def start(self) -> None:
            raise VrrpError("no raw socket")

    dp = MemoryDataplane()
    e = Engine(config(), dataplane=dp, vrrp=BrokenVrrp())
    with pytest.raises(VrrpError):
        await e.start()
    assert dp.closed


async def test_metrics_port_in_use_does_not_stop_serving() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        base = config()
        cfg = replace(base, lvstui=replace(base.lvstui, metrics_listen=f"127.0.0.1:{port}"))
        dp = MemoryDataplane()
        e = Engine(cfg, dataplane=dp)
        sub = e.subscribe()
        await e.start()
        try:
            assert start_metrics(e) is None
            assert await table(dp) == {SK: {R[0]: 2, R[1]: 2, R[2]: 2}}
            sub.close()  # the iteration below ends with what was published so far
            logs = [ev.message async for ev in sub if isinstance(ev, LogEvent)]
            assert any(m.startswith("metrics disabled: ") for m in logs), logs
        finally:
            await e.stop()


async def test_health_transition_touches_only_its_service(engine_factory) -> None:  # type: ignore[no-untyped-def]
    from lvstui.config.schema import VirtualServer
    from lvstui.dataplane.base import DesiredDest, EditDest

    cfg = config()
    other = VirtualServer(
        ip="198.51.100.10", port=80, real_servers=cfg.virtual_servers[0].real_servers
    )
    cfg = replace(cfg, virtual_servers=(*cfg.virtual_servers, other))
    sk2 = ServiceKey.parse("TCP 198.51.100.10:80")
    dp = MemoryDataplane()
    e = engine_factory(cfg, dp)
    await e.start()
    await dp.apply([EditDest(sk2, DesiredDest(R[0], 9))])  # someone edits B by hand
    n = len(dp.ops)
    await set_health(e, R[1], Health.DOWN)  # A's server
    await async_wait_until(lambda: len(dp.ops) > n)
    assert [type(op).__name__ for op in dp.ops[n:]] == ["DelDest"]
    assert (await table(dp))[sk2][R[0]] == 9  # B untouched by A's transition
    views = {s.key: s for s in e.published_snapshot().services}
    assert views[SK].live_weight == 4 and views[sk2].live_weight == 6
    assert (await e.reload(cfg)).ok  # a full reconcile puts B back as configured
    assert (await table(dp))[sk2][R[0]] == 2
