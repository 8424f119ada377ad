"""Snapshot deltas: applying one reproduces the full snapshot exactly; the fast codec agrees
with the reference codec; over the socket, deltas carry only what changed."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lvstui.config.schema import LbKind
from lvstui.control import delta
from lvstui.control.client import SocketClient
from lvstui.control.delta import MAX_SHIFT
from lvstui.control.protocol import ProtocolError, decode, encode, parse_reply
from lvstui.control.server import ControlServer, Peer
from lvstui.model import Health, RemoveReal, ServiceView, Snapshot
from lvstui.ui.fake import FakeClient as ToyEngine
from tests.control.fakes import SVC
from tests.control.test_protocol import strategy_for

U64 = 2**64 - 1


def _fits_u64(value: Any) -> bool:
    """msgspec keeps integers to 64 bits (counters are u64); the generic strategy goes past."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -(2**63) <= value <= U64
    if isinstance(value, tuple | list | frozenset):
        return all(_fits_u64(v) for v in value)
    if dataclasses.is_dataclass(value):
        return all(_fits_u64(getattr(value, f.name)) for f in dataclasses.fields(value))
    return True


_SNAPSHOTS = strategy_for(Snapshot).filter(_fits_u64)


@st.composite
def related(draw: st.DrawFn) -> tuple[Snapshot, Snapshot]:
    """A base and a next snapshot sharing some services (same key, same or changed view,
    histories moved on or not), with others removed, added and reordered: what a daemon's
    next second looks like."""
    samples = st.lists(st.integers(0, 2**32), min_size=10, max_size=40).map(tuple)

    def long(v: Any) -> Any:
        return dataclasses.replace(v, history=draw(samples))

    base = draw(_SNAPSHOTS)
    base = dataclasses.replace(
        base,
        services=tuple(
            dataclasses.replace(long(s), real_servers=tuple(long(r) for r in s.real_servers))
            for s in base.services
        ),
    )
    other = draw(_SNAPSHOTS)

    def moved_on(h: tuple[int, ...]) -> tuple[int, ...]:
        """A ring buffer some seconds later: full (same length) or still filling."""
        grown = h + tuple(draw(st.lists(st.integers(0, 2**32), max_size=MAX_SHIFT + 2)))
        return grown[len(grown) - len(h) :] if h and draw(st.booleans()) else grown

    kept = [s for s in base.services if draw(st.booleans())]
    changed = [
        dataclasses.replace(
            s,
            live_weight=s.live_weight + 1,
            history=moved_on(s.history),
            real_servers=tuple(
                dataclasses.replace(r, history=moved_on(r.history), weight=r.weight + 1)
                if draw(st.booleans())
                else r
                for r in s.real_servers
            ),
        )
        for s in base.services
        if draw(st.booleans())
    ]
    services = draw(st.permutations(kept + changed + list(other.services)))
    new = dataclasses.replace(other, services=tuple(services))
    return base, new


@settings(max_examples=150, deadline=None)
@given(pair=related())
def test_applying_a_delta_reproduces_the_snapshot(pair: tuple[Snapshot, Snapshot]) -> None:
    base, new = pair
    wire = delta.encode_delta(base, new)
    back = delta.apply_delta(base, wire)
    assert back == new
    assert all(type(a) is type(b) for a, b in zip(back.services, new.services, strict=True))
    # every service equal to the base's at its key went as a reference, never in full
    reference = decode(Snapshot, encode(base))
    assert base == reference  # the base was not written to
    sent = json.loads(wire)["services"]
    by_key = {s.key: s for s in base.services}
    for item, view in zip(sent, new.services, strict=True):
        assert isinstance(item, int) == (by_key.get(view.key) == view)


@settings(max_examples=80, deadline=None)
@given(snap=_SNAPSHOTS)
def test_fast_codec_agrees_with_the_reference_codec(snap: Snapshot) -> None:
    fast = delta.encode_snapshot_json(snap)
    assert json.loads(fast) == json.loads(json.dumps(encode(snap)))
    assert delta.decode_snapshot_json(fast) == snap == decode(Snapshot, json.loads(fast))


async def test_a_delta_of_a_busy_table_carries_only_what_changed() -> None:
    toy = ToyEngine(200, 10)
    toy.tick(60)  # histories of 60 samples: long enough to travel as shifts
    base = await toy.snapshot()
    toy.set_health(3, 2, Health.DOWN, "connection refused")
    new = await toy.snapshot()
    # only service 3 changed in the toy (no tick): one view in full, 199 references
    wire = delta.encode_delta(base, new)
    items = json.loads(wire)["services"]
    assert [i for i, v in enumerate(items) if not isinstance(v, int)] == [3]
    assert len(wire) * 50 < len(delta.encode_snapshot_json(new))
    assert delta.apply_delta(base, wire) == new
    # a second later every service changed, and every history moved on by one sample:
    # the histories travel as shifts of one sample each
    toy.tick()
    later = await toy.snapshot()
    wire = delta.encode_delta(new, later)
    sent = json.loads(wire)
    assert len(sent["shifts"]) == 200 * 11
    assert all(len(s[5]) == 1 for s in sent["shifts"])  # [service, base, real, .., tail]
    assert all(v["history"] == [] for v in sent["services"])
    assert len(wire) < 0.9 * len(delta.encode_snapshot_json(later))
    back = delta.apply_delta(new, wire)
    assert back == later
    assert new == await_free_copy(new)  # the base was not touched


def await_free_copy(snap: Snapshot) -> Snapshot:
    """The snapshot through the reference codec: a deep copy to compare the base with."""
    copy: Snapshot = decode(Snapshot, encode(snap))
    return copy


@pytest.mark.parametrize(
    ("patch", "where"),
    [
        (b'{"seq":1,"time":0,"services":[5]}', "$.delta.services[0]: no service 5"),
        (b'{"seq":1,"time":0,"services":[{"key":3}]}', "$.delta.services[0]"),
        (b'{"seq":"x","time":0}', "$.delta.seq"),
        (b"[1]", "$.delta"),
        (
            b'{"seq":1,"time":0,"services":[0],"shifts":[[0,0,-1,-1,1,[]]]}',
            "$.delta.shifts[0]: service 0 is a reference",
        ),
        (
            b'{"seq":1,"time":0,"services":[],"shifts":[[3,0,-1,-1,1,[]]]}',
            "$.delta.shifts[0]: no service 3",
        ),
        (b"{nope", "not JSON"),
    ],
)
def test_a_bad_delta_is_a_protocol_error_naming_the_path(patch: bytes, where: str) -> None:
    base = Snapshot(seq=0, time=0.0, services=(ServiceView(SVC, "rr", LbKind.NAT),))
    with pytest.raises(ProtocolError) as exc:
        delta.apply_delta(base, patch)
    assert where in str(exc.value)


def test_replies_keep_snapshots_as_raw_json() -> None:
    msg = parse_reply(b'{"v":1,"type":"snapshot","id":2,"ref":1,"snapshot":{"seq":1,"time":0}}')
    assert msg["ref"] == 1 and isinstance(msg["snapshot"], msgspec.Raw)
    assert delta.decode_snapshot_json(msg["snapshot"]) == Snapshot(seq=1, time=0.0)
    # integers past 64 bits still parse (through the reference parser)
    assert parse_reply(b'{"v":1,"type":"result","id":1,"result":{"n":' + b"9" * 30 + b"}}")


# --- over the socket ---------------------------------------------------------------------


class _Shared:
    """One toy engine behind every connection (the server closes its clients)."""

    def __init__(self, toy: ToyEngine, read_only: bool) -> None:
        self.toy = toy
        self.read_only = read_only
        self.description = "toy"

    async def snapshot(self) -> Snapshot:
        return dataclasses.replace(await self.toy.snapshot(), read_only=self.read_only)

    def events(self, replay: bool = False) -> Any:
        return self.toy.events()

    async def call(self, command: Any) -> Any:
        return await self.toy.call(command)

    async def close(self) -> None:
        pass


@pytest.fixture
def sockdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="lvt-ctl-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
async def toy_server(sockdir: Path) -> AsyncIterator[tuple[ControlServer, ToyEngine]]:
    toy = ToyEngine(30, 4)

    def factory(peer: Peer, read_only: bool) -> _Shared:
        return _Shared(toy, read_only)

    server = ControlServer(sockdir / "c.sock", factory)
    await server.start()
    try:
        yield server, toy
    finally:
        await server.close()


class _Counting(SocketClient):
    """Counts what the daemon sent: full snapshots and deltas, and their bytes."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.kinds: list[str] = []

    def _snapshot_from(self, reply: dict[str, Any]) -> Snapshot:
        self.kinds.append("delta" if "delta" in reply else "full")
        return super()._snapshot_from(reply)


async def test_deltas_over_the_socket_match_full_snapshots(
    toy_server: tuple[ControlServer, ToyEngine],
) -> None:
    server, toy = toy_server
    fast = _Counting(server.path)
    full = _Counting(server.path, deltas=False)
    try:
        for step in range(6):
            a = await fast.snapshot()
            b = await full.snapshot()
            assert a == b == dataclasses.replace(await toy.snapshot(), read_only=False)
            if step == 2:
                toy.set_health(1, 0, Health.DOWN, "refused")
            elif step == 3:
                s0 = toy.services[0]
                await toy.call(RemoveReal(s0.key, s0.reals[1].key))
            else:
                toy.tick()
        assert fast.kinds == ["full"] + ["delta"] * 5
        assert full.kinds == ["full"] * 6
        # a new connection starts over with a full snapshot
        await fast.reconnect(timeout=5)
        assert await fast.snapshot() == await full.snapshot()
        assert fast.kinds[-1] == "full"
    finally:
        await fast.close()
        await full.close()


async def test_a_client_out_of_step_gets_a_full_snapshot(
    toy_server: tuple[ControlServer, ToyEngine],
) -> None:
    server, toy = toy_server
    client = _Counting(server.path)
    try:
        await client.snapshot()
        client._base_ref = 12345  # as if it lost a reply: the server no longer has its base
        toy.tick()
        assert await client.snapshot() == await toy.snapshot()
        assert client.kinds == ["full", "full"]
        # a delta for a base it does not hold is refused, and replaced by a full one
        client._base = dataclasses.replace(client._base or Snapshot(0, 0.0), services=())
        assert await client.snapshot() == await toy.snapshot()
        assert client.kinds == ["full", "full", "delta", "full"]
    finally:
        await client.close()


async def test_a_full_snapshot_client_never_gets_a_delta(
    toy_server: tuple[ControlServer, ToyEngine],
) -> None:
    """What a client of the first protocol version sends: no base, no ref in the reply."""
    server, toy = toy_server
    reader, writer = await asyncio.open_unix_connection(str(server.path), limit=2**24)
    try:
        for i in (1, 2):
            writer.write(b'{"v":1,"type":"snapshot","id":%d}\n' % i)
            await writer.drain()
            reply = json.loads(await reader.readline())
            assert "delta" not in reply and "ref" not in reply
            assert decode(Snapshot, reply["snapshot"]) == await toy.snapshot()
            toy.tick()
    finally:
        writer.close()
        await writer.wait_closed()
