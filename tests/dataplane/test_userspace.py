"""Real traffic through the userspace forwarder to real servers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import pytest

from lvstui.config.schema import LbKind, Protocol
from lvstui.dataplane.base import (
    AddService,
    DesiredDest,
    DesiredService,
    EditDest,
    ObservedService,
)
from lvstui.dataplane.reconcile import reconcile
from lvstui.dataplane.userspace import proxyproto
from lvstui.dataplane.userspace.forwarder import UserspaceDataplane
from lvstui.errors import UnsupportedError
from lvstui.model import RealKey, ServiceKey
from tests.dataplane.contract import free_port
from tests.helpers import async_wait_until

VIP = "127.0.0.1"
NAMES = "ABCD"


@dataclass
class Backend:
    """A real server: answers its name after `...END\\n`, then echoes until EOF."""

    name: str
    host: str
    port: int
    heads: list[bytes] = field(default_factory=list)
    conns: int = 0
    server: asyncio.Server | None = None
    udp: asyncio.DatagramTransport | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.conns += 1
        me = asyncio.current_task()
        assert me is not None
        self.tasks.add(me)  # type: ignore[arg-type]
        try:
            head = await reader.readuntil(b"END\n")
            self.heads.append(head)
            if head.endswith(b"BULK END\n"):
                h = hashlib.sha256()
                n = 0
                while data := await reader.read(1 << 16):
                    h.update(data)
                    n += len(data)
                writer.write(f"{self.name} {n} {h.hexdigest()}\n".encode())
                await writer.drain()
                return
            writer.write(self.name.encode() + b"\n")
            await writer.drain()
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
            self.tasks.discard(me)  # type: ignore[arg-type]

    async def start(self, udp: bool = False) -> None:
        if udp:
            name = self.name.encode()
            backend = self

            class Echo(asyncio.DatagramProtocol):
                def connection_made(self, transport: asyncio.BaseTransport) -> None:
                    self.t = transport

                def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                    backend.heads.append(data)
                    self.t.sendto(name + b" " + data, addr)  # type: ignore[attr-defined]

            loop = asyncio.get_running_loop()
            self.udp, _ = await loop.create_datagram_endpoint(
                Echo, local_addr=(self.host, self.port)
            )
        else:
            self.server = await asyncio.start_server(self.handle, self.host, self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for t in list(self.tasks):
                t.cancel()
            for t in list(self.tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            await self.server.wait_closed()
        if self.udp is not None:
            self.udp.close()


@dataclass
class Lab:
    dp: UserspaceDataplane
    backends: list[Backend]
    port: int

    def dest(self, i: int, weight: int = 1) -> DesiredDest:
        return DesiredDest(RealKey(self.backends[i].host, self.port), weight)

    def by_host(self, host: str) -> str:
        return next(b.name for b in self.backends if b.host == host)

    async def serve(self, svc: DesiredService) -> None:
        await self.dp.apply(reconcile([svc], await self.dp.observe()))

    async def observed(self, key: ServiceKey) -> ObservedService:
        return next(s for s in await self.dp.observe() if s.key == key)


@pytest.fixture(params=[True, False], ids=["splice", "copy"])
async def lab(request: pytest.FixtureRequest) -> AsyncIterator[Lab]:
    dp = UserspaceDataplane(inact_linger=60.0, use_splice=request.param)
    port = free_port()
    backends = [Backend(n, f"127.0.0.{i + 2}", port) for i, n in enumerate(NAMES)]
    for b in backends:
        await b.start()
    await dp.start()
    try:
        yield Lab(dp, backends, port)
    finally:
        await dp.close()
        for b in backends:
            await b.stop()


class Client:
    def __init__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter, name: str) -> None:
        self.r, self.w, self.name = r, w, name

    async def close(self) -> None:
        self.w.close()
        with contextlib.suppress(ConnectionError):
            await self.w.wait_closed()


async def connect(port: int, payload: bytes = b"hi", src: str | None = None) -> Client:
    r, w = await asyncio.open_connection(VIP, port, local_addr=(src, 0) if src else None)
    w.write(payload + b" END\n")
    await w.drain()
    line = await asyncio.wait_for(r.readline(), 5)
    return Client(r, w, line.decode().strip())


async def ask(port: int, payload: bytes = b"hi", src: str | None = None) -> str:
    c = await connect(port, payload, src)
    await c.close()
    return c.name


def udp_clients(port: int, n: int, socks: list[socket.socket]) -> None:
    """`n` non-blocking UDP sockets connected to the VIP's `port`, appended to `socks` (the
    caller closes them, even when a later step fails)."""
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        socks.append(s)
        s.setblocking(False)
        s.connect((VIP, port))


async def udp_ask(s: socket.socket, data: bytes) -> bytes:
    """One datagram out on `s`, its answer back (5 s at most)."""
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(s, data)
    async with asyncio.timeout(5):
        return await loop.sock_recv(s, 2048)


def svc(key: ServiceKey, sched: str, *dests: DesiredDest, **kw: object) -> DesiredService:
    return DesiredService(key, sched, dests=dests, **kw)  # type: ignore[arg-type]


def tcp_key() -> ServiceKey:
    return ServiceKey(Protocol.TCP, VIP, free_port())


# --- distribution ----------------------------------------------------------------------------


async def test_rr_and_wrr_follow_the_kernel_sequence(lab: Lab) -> None:
    key = tcp_key()
    await lab.serve(svc(key, "rr", lab.dest(0), lab.dest(1), lab.dest(2)))
    got = "".join([await ask(key.port) for _ in range(6)])
    assert got == "CBACBA"  # kernel order: newest real server first
    await lab.serve(svc(key, "wrr", lab.dest(0, 1), lab.dest(1, 2), lab.dest(2, 3)))
    got = "".join([await ask(key.port) for _ in range(12)])
    # EditService swaps the scheduler with the dests present (cw = mw), see test_sched
    assert Counter(got) == {"C": 6, "B": 4, "A": 2}, got


async def test_wlc_with_open_connections_matches_hand_computed_kernel_sequence(lab: Lab) -> None:
    key = tcp_key()
    await lab.serve(svc(key, "wlc", lab.dest(0, 1), lab.dest(1, 2), lab.dest(2, 3)))
    held = [await connect(key.port) for _ in range(8)]
    try:
        assert "".join(c.name for c in held) == "CBACBCCB"
        obs = await lab.observed(key)
        assert {lab.by_host(d.key.addr): d.active_conns for d in obs.dests} == {
            "A": 1,
            "B": 3,
            "C": 4,
        }
    finally:
        for c in held:
            await c.close()


EXPECTED = {
    # 60 short connections, weights A1 B2 C3 (closed ones stay InActConn: linger 60 s)
    "rr": {"A": 20, "B": 20, "C": 20},
    "wrr": {"A": 10, "B": 20, "C": 30},
    "lc": {"A": 20, "B": 20, "C": 20},
    "wlc": {"A": 10, "B": 20, "C": 30},
    "sed": {"C": 60},  # no active connection: (0+1)/w is least for the heaviest
    "nq": {"C": 60},  # an idle server is taken at once: the first in the list
    "fo": {"C": 60},
}


@pytest.mark.parametrize("sched", sorted(EXPECTED))
async def test_distribution_per_scheduler(lab: Lab, sched: str) -> None:
    key = tcp_key()
    await lab.serve(svc(key, sched, lab.dest(0, 1), lab.dest(1, 2), lab.dest(2, 3)))

    async def settled() -> bool:  # the forwarder has seen the close (no race with the next)
        return sum(d.active_conns for d in (await lab.observed(key)).dests) == 0

    got: Counter[str] = Counter()
    for _ in range(60):
        got[await ask(key.port)] += 1
        await async_wait_until(settled, timeout=5, interval=0.001)
    assert got == EXPECTED[sched], got
    assert (await lab.observed(key)).stats.conns == 60

    async def all_lingering() -> bool:  # all closed, counted as InActConn for the linger time
        return sum(d.inact_conns for d in (await lab.observed(key)).dests) == 60

    await async_wait_until(all_lingering, timeout=5)


@pytest.mark.parametrize("sched", ["sh", "dh", "mh"])
async def test_hashing_schedulers_keep_a_client_on_one_server(lab: Lab, sched: str) -> None:
    key = tcp_key()
    await lab.serve(svc(key, sched, lab.dest(0), lab.dest(1), lab.dest(2)))
    for src in ("127.1.0.1", "127.1.0.2", "127.1.0.3"):
        assert len({await ask(key.port, src=src) for _ in range(4)}) == 1
    if sched != "dh":  # dh hashes the (single) VIP
        spread = {await ask(key.port, src=f"127.1.{i}.{i + 1}") for i in range(24)}
        assert len(spread) >= 2


async def test_random_honours_weights(lab: Lab) -> None:
    key = tcp_key()
    await lab.serve(svc(key, "random", lab.dest(0, 1), lab.dest(1, 0), lab.dest(2, 4)))
    got = Counter([await ask(key.port) for _ in range(80)])
    assert got["B"] == 0 and got["C"] > got["A"]


# --- drain, persistence, sorry server --------------------------------------------------------


async def test_drained_server_keeps_its_connection_and_gets_no_new_one(lab: Lab) -> None:
    key = tcp_key()
    await lab.serve(svc(key, "rr", lab.dest(0), lab.dest(1)))
    held = await connect(key.port)
    assert held.name == "B"
    ops = reconcile([svc(key, "rr", lab.dest(0), lab.dest(1, 0))], await lab.dp.observe())
    assert ops == [EditDest(key, lab.dest(1, 0))]
    await lab.dp.apply(ops)
    assert {await ask(key.port) for _ in range(6)} == {"A"}
    # the open connection still works both ways
    held.w.write(b"still here\n")
    await held.w.drain()
    assert await asyncio.wait_for(held.r.readline(), 5) == b"still here\n"
    obs = await lab.observed(key)
    b = next(d for d in obs.dests if d.key == lab.dest(1).key)
    assert (b.weight, b.active_conns) == (0, 1)
    await held.close()

    async def b_idle() -> bool:
        o = await lab.observed(key)
        return next(d for d in o.dests if d.key == lab.dest(1).key).active_conns == 0

    await async_wait_until(b_idle, timeout=5)


async def test_persistence_by_client_network(lab: Lab) -> None:
    key = tcp_key()
    await lab.serve(
        svc(
            key,
            "rr",
            lab.dest(0),
            lab.dest(1),
            lab.dest(2),
            persistence_timeout=60,
            netmask="255.255.255.0",
        )
    )
    first = await ask(key.port, src="127.2.1.10")
    assert {await ask(key.port, src=f"127.2.1.{i}") for i in range(11, 16)} == {first}
    other = await ask(key.port, src="127.2.2.10")
    assert other != first  # another /24: scheduled (rr moves on)
    obs = await lab.observed(key)
    assert sum(d.persist_conns for d in obs.dests) == 2
    # drain the persistent server: its clients move, the template is not honoured
    dests = {"A": lab.dest(0), "B": lab.dest(1), "C": lab.dest(2)}
    dests[first] = replace(dests[first], weight=0)
    await lab.serve(
        svc(
            key,
            "rr",
            dests["A"],
            dests["B"],
            dests["C"],
            persistence_timeout=60,
            netmask="255.255.255.0",
        )
    )
    moved = await ask(key.port, src="127.2.1.10")
    assert moved != first
    assert await ask(key.port, src="127.2.1.99") == moved


async def test_sorry_server_is_just_a_desired_dest(lab: Lab) -> None:
    key = tcp_key()
    sorry = lab.dest(3)  # D
    await lab.serve(svc(key, "wlc", sorry))  # every real server down: the engine desires D
    assert {await ask(key.port) for _ in range(3)} == {"D"}
    await lab.serve(svc(key, "wlc", lab.dest(0), lab.dest(1)))  # back: sorry removed
    assert {await ask(key.port) for _ in range(4)} <= {"A", "B"}


async def test_no_real_server_closes_the_client(lab: Lab) -> None:
    key = tcp_key()
    await lab.serve(svc(key, "rr", lab.dest(0, 0)))
    assert await ask(key.port) == ""


# --- bytes, half-close, stats ----------------------------------------------------------------


async def test_bulk_half_close_and_byte_counters(lab: Lab) -> None:
    key = tcp_key()
    await lab.serve(svc(key, "rr", lab.dest(0)))
    payload = os.urandom(3 << 20)
    r, w = await asyncio.open_connection(VIP, key.port)
    w.write(b"BULK END\n")
    w.write(payload)
    await w.drain()
    w.write_eof()  # half-close: the server reads to EOF, then answers
    line = await asyncio.wait_for(r.readline(), 20)
    w.close()
    await w.wait_closed()
    name, n, digest = line.decode().split()
    assert (name, int(n), digest) == ("A", len(payload), hashlib.sha256(payload).hexdigest())
    obs = await lab.observed(key)
    d = obs.dests[0]
    assert d.stats.conns == 1 and obs.stats.conns == 1
    assert d.stats.inbytes == len(payload) + len(b"BULK END\n")
    assert d.stats.outbytes == len(line)
    assert d.stats.inpkts >= 1 and d.stats.outpkts >= 1
    assert obs.stats.inbytes == d.stats.inbytes


async def test_active_then_inactive(lab: Lab) -> None:
    key = tcp_key()
    await lab.serve(svc(key, "rr", lab.dest(0)))
    c = await connect(key.port)
    d = (await lab.observed(key)).dests[0]
    assert (d.active_conns, d.inact_conns) == (1, 0)
    await c.close()

    async def inactive() -> bool:
        d = (await lab.observed(key)).dests[0]
        return (d.active_conns, d.inact_conns) == (0, 1)

    await async_wait_until(inactive, timeout=5)


async def test_inact_linger_expires() -> None:
    dp = UserspaceDataplane(inact_linger=0.2)
    port = free_port()
    b = Backend("A", "127.0.0.2", port)
    await b.start()
    await dp.start()
    try:
        key = tcp_key()
        await dp.apply(reconcile([svc(key, "rr", DesiredDest(RealKey(b.host, port), 1))], []))
        assert await ask(key.port) == "A"

        async def gone() -> bool:
            return (await dp.observe())[0].dests[0].inact_conns == 0

        await async_wait_until(gone, timeout=5)
    finally:
        await dp.close()
        await b.stop()


# --- PROXY protocol, application hash ---------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
async def test_proxy_protocol_header(lab: Lab, version: int) -> None:
    key = tcp_key()
    await lab.serve(svc(key, "rr", lab.dest(0), proxy_protocol=version))
    c = await connect(key.port, src="127.3.0.7")
    client = c.w.get_extra_info("sockname")
    await c.close()
    head = lab.backends[0].heads[-1]
    hdr, used = proxyproto.parse(head)
    assert hdr.version == version
    assert hdr.src == ("127.3.0.7", client[1])
    assert hdr.dst == (VIP, key.port)
    assert head[used:] == b"hi END\n"


async def test_app_hash_is_consistent_per_request_line(lab: Lab) -> None:
    key = tcp_key()
    await lab.serve(svc(key, "rr", lab.dest(0), lab.dest(1), lab.dest(2), app_hash=True))
    seen: dict[str, set[str]] = {}
    for path in [f"/page/{i}" for i in range(12)] * 3:
        req = f"GET {path} HTTP/1.1\r\nHost: x\r\n".encode()
        seen.setdefault(path, set()).add(await ask(key.port, req))
    assert all(len(v) == 1 for v in seen.values()), seen
    assert len(set().union(*seen.values())) >= 2
    # the request line reached the server intact
    assert any(h.startswith(b"GET /page/") for b in lab.backends for h in b.heads)


# --- UDP --------------------------------------------------------------------------------------


async def test_udp_flows_and_idle_timeout() -> None:
    dp = UserspaceDataplane()
    port = free_port()
    backends = [Backend(n, f"127.0.0.{i + 2}", port) for i, n in enumerate("AB")]
    for b in backends:
        await b.start(udp=True)
    await dp.start()
    socks: list[socket.socket] = []
    try:
        key = ServiceKey(Protocol.UDP, VIP, free_port())
        dests = tuple(DesiredDest(RealKey(b.host, port), 1) for b in backends)
        await dp.apply(
            reconcile([DesiredService(key, "rr", dests=dests, udp_idle_timeout=1.5)], [])
        )
        udp_clients(key.port, 2, socks)
        names = [(await udp_ask(s, b"x")).split()[0] for s in socks]
        assert sorted(names) == [b"A", b"B"]
        # a flow sticks to its server
        assert (await udp_ask(socks[0], b"again")) == names[0] + b" again"
        obs = (await dp.observe())[0]
        assert obs.stats.conns == 2 and obs.stats.inpkts == 3 and obs.stats.outpkts == 3
        assert sum(d.inact_conns for d in obs.dests) == 2

        async def idle() -> bool:
            return sum(d.inact_conns for d in (await dp.observe())[0].dests) == 0

        await async_wait_until(idle, timeout=5)
        await udp_ask(socks[0], b"new flow")
        assert (await dp.observe())[0].stats.conns == 3
    finally:
        for s in socks:
            s.close()
        await dp.close()
        for b in backends:
            await b.stop()


async def test_udp_proxy_v2_per_datagram() -> None:
    dp = UserspaceDataplane()
    port = free_port()
    b = Backend("A", "127.0.0.2", port)
    await b.start(udp=True)
    await dp.start()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        key = ServiceKey(Protocol.UDP, VIP, free_port())
        await dp.apply(
            reconcile(
                [
                    DesiredService(
                        key, "rr", proxy_protocol=2, dests=(DesiredDest(RealKey(b.host, port), 1),)
                    )
                ],
                [],
            )
        )
        s.setblocking(False)
        s.connect((VIP, key.port))
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(s, b"dgram")
        async with asyncio.timeout(5):
            await loop.sock_recv(s, 2048)
        hdr, used = proxyproto.parse(b.heads[-1])
        assert hdr.protocol == "UDP" and hdr.src == s.getsockname()
        assert b.heads[-1][used:] == b"dgram"
    finally:
        s.close()
        await dp.close()
        await b.stop()


# --- refusals ---------------------------------------------------------------------------------


async def test_refusals_are_clear() -> None:
    dp = UserspaceDataplane()
    await dp.start()
    try:
        key = tcp_key()
        await dp.apply([AddService(DesiredService(key, "rr"))])
        for fwd in (LbKind.DR, LbKind.TUN):
            with pytest.raises(UnsupportedError, match=f"lb_kind {fwd.value}"):
                bad = svc(key, "rr", DesiredDest(RealKey("127.0.0.2", 80), 1, fwd))
                await dp.apply(reconcile([bad], await dp.observe()))
        with pytest.raises(UnsupportedError, match="firewall-mark"):
            await dp.apply(
                [AddService(DesiredService(ServiceKey(Protocol.TCP, "", 0, fwmark=3), "rr"))]
            )
        with pytest.raises(UnsupportedError, match="SCTP"):
            await dp.apply(
                [AddService(DesiredService(ServiceKey(Protocol.SCTP, VIP, free_port()), "rr"))]
            )
        with pytest.raises(UnsupportedError, match="kernel-only"):
            await dp.apply([AddService(DesiredService(tcp_key(), "lblcr"))])
        with pytest.raises(UnsupportedError, match="v1 has no UDP"):
            await dp.apply(
                [
                    AddService(
                        DesiredService(
                            ServiceKey(Protocol.UDP, VIP, free_port()), "rr", proxy_protocol=1
                        )
                    )
                ]
            )
        assert [s.key for s in await dp.observe()] == [key]
    finally:
        await dp.close()


async def test_port_in_use_is_a_dataplane_error() -> None:
    dp = UserspaceDataplane()
    await dp.start()
    blocker = socket.socket()
    try:
        blocker.bind((VIP, 0))
        blocker.listen(1)
        key = ServiceKey(Protocol.TCP, VIP, blocker.getsockname()[1])
        from lvstui.errors import DataplaneError

        with pytest.raises(DataplaneError, match=str(key.port)):
            await dp.apply([AddService(DesiredService(key, "rr"))])
    finally:
        blocker.close()
        await dp.close()


def test_forwarder_on_uvloop() -> None:
    """The forwarder's callbacks, splice relay and UDP also work on uvloop (new_event_loop)."""
    pytest.importorskip("uvloop", reason="uvloop is a dependency (pyproject)")
    from lvstui.dataplane.userspace import new_event_loop

    async def scenario() -> None:
        assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
        dp = UserspaceDataplane()
        port = free_port()
        backends = [Backend(n, f"127.0.0.{i + 2}", port) for i, n in enumerate("AB")]
        for b in backends:
            await b.start()
        await dp.start()
        try:
            key = tcp_key()
            dests = tuple(DesiredDest(RealKey(b.host, port), 1) for b in backends)
            await dp.apply(reconcile([DesiredService(key, "rr", dests=dests)], []))
            assert [await ask(key.port) for _ in range(4)] == ["B", "A", "B", "A"]
            c = await connect(key.port)
            c.w.write(os.urandom(1 << 20))
            await c.w.drain()
            await c.close()
        finally:
            await dp.close()
            for b in backends:
                await b.stop()

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(scenario())


async def test_upper_threshold_overloads_a_server(lab: Lab) -> None:
    key = tcp_key()
    a = replace(lab.dest(0, 5), u_threshold=2)
    await lab.serve(svc(key, "wlc", a, lab.dest(1, 1)))
    held = [await connect(key.port) for _ in range(4)]
    try:
        # list B A: B (first, all idle), A, A (256*5 > 256*1); A is now at its threshold
        # (overloaded), so the 4th goes to B, where plain wlc would pick A (256*5 > 512*1)
        assert [c.name for c in held] == ["B", "A", "A", "B"]
        obs = await lab.observed(key)
        assert {lab.by_host(d.key.addr): d.active_conns for d in obs.dests} == {"A": 2, "B": 2}
    finally:
        for c in held:
            await c.close()


async def test_refused_real_server_closes_the_client_and_balances_counters(lab: Lab) -> None:
    key = tcp_key()
    dead = DesiredDest(RealKey("127.0.0.9", lab.port), 1)  # nothing listens there
    await lab.serve(svc(key, "rr", dead))
    assert await ask(key.port) == ""

    async def settled() -> bool:
        d = (await lab.observed(key)).dests[0]
        return (d.active_conns, d.inact_conns, d.stats.conns) == (0, 0, 1)

    await async_wait_until(settled, timeout=5)


async def test_ipv6_service() -> None:
    dp = UserspaceDataplane()
    port = free_port()
    b = Backend("A", "::1", port)
    try:
        await b.start()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    await dp.start()
    try:
        key = ServiceKey(Protocol.TCP, "::1", free_port(), family=6)
        dest = DesiredDest(RealKey("::1", port), 1)
        await dp.apply(reconcile([svc(key, "wlc", dest, proxy_protocol=2)], []))
        r, w = await asyncio.open_connection("::1", key.port)
        w.write(b"v6 END\n")
        await w.drain()
        assert await asyncio.wait_for(r.readline(), 5) == b"A\n"
        w.close()
        await w.wait_closed()
        hdr, _ = proxyproto.parse(b.heads[-1])
        assert hdr.dst == ("::1", key.port) and hdr.src[0] == "::1"
    finally:
        await dp.close()
        await b.stop()


async def test_udp_flow_cap_drops_new_clients() -> None:
    dp = UserspaceDataplane(max_udp_flows=1)
    port = free_port()
    b = Backend("A", "127.0.0.2", port)
    await b.start(udp=True)
    await dp.start()
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        key = ServiceKey(Protocol.UDP, VIP, free_port())
        dest = DesiredDest(RealKey(b.host, port), 1)
        await dp.apply(reconcile([DesiredService(key, "rr", dests=(dest,))], []))
        loop = asyncio.get_running_loop()
        for s in socks:
            s.setblocking(False)
            s.connect((VIP, key.port))
        await loop.sock_sendall(socks[0], b"first")
        async with asyncio.timeout(5):
            assert await loop.sock_recv(socks[0], 100) == b"A first"
        await loop.sock_sendall(socks[1], b"second")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await loop.sock_recv(socks[1], 100)
        assert (await dp.observe())[0].stats.conns == 1
    finally:
        for s in socks:
            s.close()
        await dp.close()
        await b.stop()


async def test_rates_like_the_kernel_estimator() -> None:
    dp = UserspaceDataplane(auto_sample=False)  # samples taken by hand: no 2 s wait
    port = free_port()
    b = Backend("A", "127.0.0.2", port)
    await b.start()
    await dp.start()
    try:
        key = tcp_key()
        await dp.apply(reconcile([svc(key, "rr", DesiredDest(RealKey(b.host, port), 1))], []))
        dp.sample_rates()  # baseline
        for _ in range(16):
            await ask(key.port)
        dp.sample_rates()  # 16 connections in one 2 s period: 8/s, EWMA weight 1/4 → 2/s
        obs = (await dp.observe())[0]
        assert obs.stats.cps == 2 and obs.dests[0].stats.cps == 2
        assert obs.stats.inbps > 0 and obs.stats.outbps > 0
    finally:
        await dp.close()
        await b.stop()
