"""Two or three members over in-memory links: replication, catch-up, partitions, agreement."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest

from lvstui.clock import SystemClock
from lvstui.config.schema import Config, GlobalDefs
from lvstui.group.agree import Status, VrrpRole, config_sections
from lvstui.group.channel import MemoryLink
from lvstui.group.member import Member
from lvstui.group.store import Entry, Store
from lvstui.model import CommandResult, RealKey, ServiceKey, VrrpRunState
from tests.group.helpers import act
from tests.helpers import async_wait_until

SVC = ServiceKey.parse("TCP 198.51.100.9:80")
R1 = RealKey.parse("198.51.100.21:80")
R2 = RealKey.parse("198.51.100.22:80")


class Sink:
    def __init__(self) -> None:
        self.applied: list[Entry] = []
        self.events: list[tuple[str, str]] = []
        self.commands: list[tuple[Mapping[str, Any], str, str]] = []

    def group_applied(self, won: Sequence[Entry]) -> None:
        self.applied.extend(won)

    async def group_command(
        self, command: Mapping[str, Any], operator: str, origin: str
    ) -> CommandResult:
        self.commands.append((command, operator, origin))
        return CommandResult(True, f"did {command['kind']}")

    def group_event(self, level: str, message: str) -> None:
        self.events.append((level, message))


class Net:
    """Links between members, cut and restored at will (a partition)."""

    def __init__(self) -> None:
        self.tasks: dict[tuple[str, str], list[asyncio.Task[None]]] = {}
        self.links: dict[tuple[str, str], tuple[MemoryLink, MemoryLink]] = {}

    def connect(self, a: Member, b: Member) -> None:
        """`a` dials `b` (b's address is its name here)."""
        la, lb = MemoryLink.pair(a.name, b.name)
        self.links[(a.name, b.name)] = (la, lb)
        self.tasks[(a.name, b.name)] = [
            asyncio.create_task(a.run_link(la, True)),
            asyncio.create_task(b.run_link(lb, False)),
        ]

    def mesh(self, *members: Member) -> None:
        for a in members:
            for b in members:
                if a is not b:
                    self.connect(a, b)

    async def cut(self, a: Member, b: Member) -> None:
        for key in ((a.name, b.name), (b.name, a.name)):
            la, _ = self.links.pop(key)
            la.close()
            await asyncio.gather(*self.tasks.pop(key), return_exceptions=True)

    async def close(self) -> None:
        for la, _ in self.links.values():
            la.close()
        for ts in self.tasks.values():
            await asyncio.gather(*ts, return_exceptions=True)


def member(name: str, peers: list[str], **kw: Any) -> tuple[Member, Sink]:
    m = Member(name, peers, SystemClock(), **kw)
    sink = Sink()
    m.attach(sink)
    return m, sink


async def until(cond: Any, timeout: float = 3.0) -> None:
    await async_wait_until(cond, timeout=timeout)


async def test_a_change_on_one_director_reaches_the_other() -> None:
    a, _ = member("lb1", ["lb2"])
    b, sink_b = member("lb2", ["lb1"])
    net = Net()
    net.mesh(a, b)
    try:
        assert await a.wait_synced(2.0) and await b.wait_synced(2.0)
        await act(a, lambda ov: ov.drain((SVC, R1), None), "uid 0 (root)")
        await until(lambda: b.store.overrides().drained == {(SVC, R1): None})
        assert sink_b.applied[-1].origin == "lb1"
        assert sink_b.applied[-1].operator == "uid 0 (root)"
        await act(b, lambda ov: ov.undrain((SVC, R1)), "alice")
        await until(lambda: a.store.overrides().is_empty())
    finally:
        await net.close()


async def test_a_wiped_director_catches_up_on_connect_and_waits_for_it() -> None:
    a, _ = member("lb1", ["lb2"])
    for i in range(50):
        real = RealKey("198.51.100.50", 1000 + i)
        await act(a, lambda ov, r=real, w=i: ov.set_weight((SVC, r), w), "root")
    await act(a, lambda ov: ov.drain((SVC, R1), None), "root")
    saved: list[Store] = []
    b, sink_b = member("lb2", ["lb1"], save=saved.append)
    net = Net()
    net.mesh(a, b)
    try:
        assert await b.wait_synced(2.0)
        assert b.store.entries == a.store.entries
        assert len(sink_b.applied) == 51
        await b.flush()
        assert saved[-1].entries == a.store.entries  # persisted with the clocks
    finally:
        await net.close()


async def test_wait_synced_gives_up_after_its_bound() -> None:
    a, _ = member("lb1", ["198.51.100.12:7400"])
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert not await a.wait_synced(0.3)
    assert 0.25 <= loop.time() - t0 < 2.0
    lone, _ = member("lb9", [])
    assert await lone.wait_synced(0.1)  # no peer configured: nothing to wait for


async def test_the_store_is_written_off_the_event_loop_and_a_burst_is_one_write() -> None:
    gate = threading.Event()
    writes: list[tuple[int, Store]] = []

    started = threading.Event()

    def save(store: Store) -> None:  # a slow disk: the first write waits for the gate
        started.set()
        gate.wait(5)
        writes.append((threading.get_ident(), store))

    a, _ = member("lb1", [], save=save)
    await act(a, lambda ov: ov.drain((SVC, R1), None), "root")
    await until(started.is_set)  # its write is under way, and waits
    for w in range(2, 7):  # the loop is free meanwhile: these apply at once
        await act(a, lambda ov, w=w: ov.set_weight((SVC, R2), w), "root")
    assert a.store.overrides().weights == {(SVC, R2): 6}
    gate.set()
    await a.flush()
    assert threading.get_ident() not in {t for t, _ in writes}
    assert len(writes) == 2  # the first, then the five that came while it was under way
    assert writes[-1][1].entries == a.store.entries


async def test_partition_with_changes_on_each_side_heals_to_one_table() -> None:
    a, _ = member("lb1", ["lb2"])
    b, _ = member("lb2", ["lb1"])
    net = Net()
    net.mesh(a, b)
    try:
        assert await a.wait_synced(2.0)
        await net.cut(a, b)
        await act(a, lambda ov: ov.set_weight((SVC, R1), 3), "root")
        await act(b, lambda ov: ov.set_weight((SVC, R2), 7), "root")
        await asyncio.sleep(0.01)
        await act(b, lambda ov: ov.set_weight((SVC, R1), 9), "root")  # later: wins
        assert [p.pending for p in a.peers()] == [1]
        # in ctl's words, for the console and `status --json`
        assert [p.pending_changes for p in a.peers()] == [(f"weight {SVC} {R1} 3",)]
        assert not a.peers()[0].reachable
        net.mesh(a, b)
        await until(lambda: a.store.entries == b.store.entries and a.peers()[0].synced)
        assert a.store.overrides().weights == {(SVC, R1): 9, (SVC, R2): 7}
        assert [(p.pending, p.pending_changes) for p in a.peers()] == [(0, ())]
    finally:
        await net.close()


async def test_changes_travel_through_a_third_director() -> None:
    a, _ = member("lb1", ["lb2", "lb3"])
    b, _ = member("lb2", ["lb1", "lb3"])
    c, _ = member("lb3", ["lb1", "lb2"])
    net = Net()
    net.connect(a, b)
    net.connect(b, c)
    net.connect(c, b)
    net.connect(b, a)
    try:
        await act(a, lambda ov: ov.drain((SVC, R2), None), "root")
        await until(lambda: b.store.overrides().drained == {(SVC, R2): None})
        # lb3 never talks to lb1: it learns at its next anti-entropy round with lb2
        net.connect(c, a)
        await until(lambda: c.store.entries == a.store.entries)
    finally:
        await net.close()


def status(name: str, state: VrrpRunState, section_hash: str = "x") -> Status:
    return Status(
        name,
        {"virtual_server TCP 198.51.100.9:80": section_hash},
        (VrrpRole("VI_1", 57, 4, state, 100),),
        "t",
    )


async def test_agreement_drift_and_split_brain_seen_through_the_group() -> None:
    mine = {"s": status("lb1", VrrpRunState.MASTER)}
    theirs = {"s": status("lb2", VrrpRunState.BACKUP, "y")}
    a, sink_a = member("lb1", ["lb2"], status=lambda: mine["s"])
    b, _ = member("lb2", ["lb1"], status=lambda: theirs["s"])
    net = Net()
    net.mesh(a, b)
    try:
        await until(lambda: a.peers(mine["s"])[0].config_same is not None)
        view = a.peers(mine["s"])[0]
        assert view.name == "lb2" and view.reachable
        assert view.differing == ("virtual_server TCP 198.51.100.9:80",)
        assert view.vrrp == ("VI_1 57 BACKUP 100",)
        assert not a.split_brains()
        theirs["s"] = status("lb2", VrrpRunState.MASTER)
        await until(lambda: bool(a.split_brains()), timeout=8)  # must last SPLIT_BRAIN_AFTER
        assert str(a.split_brains()[0]) == "split brain: VRID 57 is MASTER on lb1, lb2"
        assert ("error", "split brain: VRID 57 is MASTER on lb1, lb2") in sink_a.events
    finally:
        await net.close()


async def test_hash_tables_compared_through_the_group() -> None:
    """The mh/sh table digests travel in the status (over the wire codec too) and the peer
    view names the services whose tables differ; a service only one side runs is not one."""
    svc, other = "TCP 198.51.100.10:80", "TCP 198.51.100.11:80"
    base = status("lb1", VrrpRunState.MASTER)
    mine = {"s": replace(base, hashes={svc: "aaaa", other: "cccc"})}
    theirs = {"s": replace(status("lb2", VrrpRunState.BACKUP), hashes={svc: "bbbb"})}
    assert Status.from_doc(json.loads(json.dumps(theirs["s"].to_doc()))) == theirs["s"]
    a, _ = member("lb1", ["lb2"], status=lambda: mine["s"])
    b, _ = member("lb2", ["lb1"], status=lambda: theirs["s"])
    net = Net()
    net.mesh(a, b)
    try:
        await until(lambda: a.peers(mine["s"])[0].config_same is not None)
        assert a.peers(mine["s"])[0].hash_differ == (svc,)
        theirs["s"] = replace(theirs["s"], hashes={svc: "aaaa"})
        await until(lambda: a.peers(mine["s"])[0].hash_differ == (), timeout=8)
    finally:
        await net.close()


async def test_acting_through_a_peer() -> None:
    a, _ = member("lb1", ["lb2"])
    b, sink_b = member("lb2", ["lb1"])
    net = Net()
    net.mesh(a, b)
    try:
        await a.wait_synced(2.0)
        res = await a.call("lb2", {"kind": "drain"}, "uid 0 (root)")
        assert res.ok and res.message == "did drain"
        assert sink_b.commands == [({"kind": "drain"}, "uid 0 (root)", "lb1")]
        res = await a.call("lb7", {"kind": "drain"}, "root")
        assert not res.ok and "lb7" in res.message and "lb2" in res.message
    finally:
        await net.close()


async def test_a_peer_sending_garbage_is_dropped_and_nothing_applies(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, sink = member("lb1", ["lb2"])
    la, lb = MemoryLink.pair("lb1", "lb2")
    task = asyncio.create_task(a.run_link(lb, False))
    from lvstui.group.protocol import Hello

    await la.send(Hello("lb2"))
    la.other._inbox.put_nowait(b'{"t":"entries","entries":[{"field":"colour"}],"kind":"delta"}\n')  # type: ignore[union-attr]
    await asyncio.wait_for(task, 2.0)
    assert sink.applied == [] and len(a.store) == 0
    assert "bad message" in caplog.text


def test_config_sections_ignore_what_differs_by_design() -> None:
    one = Config(global_defs=GlobalDefs(router_id="lb1"))
    two = Config(global_defs=GlobalDefs(router_id="lb2"))
    assert config_sections(one) == config_sections(two)
    three = Config(global_defs=GlobalDefs(router_id="lb2", smtp_alert=True))
    assert config_sections(one)["global_defs"] != config_sections(three)["global_defs"]
