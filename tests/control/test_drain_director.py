"""`ctl drain-director` over a real control socket: the command crosses the protocol, the
director's drain answers it (not the engine), the log says who did it, and a director
without bgp VIPs refuses it clearly."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from lvstui.announce.director import DirectorDrainer, DrainPhase
from lvstui.clock import FakeClock
from lvstui.control.client import connect
from lvstui.control.local import LocalClient
from lvstui.control.protocol import decode_command, encode
from lvstui.control.server import ControlServer, Peer
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.model import DrainDirector, LogEvent, UndrainDirector
from tests.engine.builders import config


def test_the_commands_cross_the_protocol() -> None:
    for cmd in (DrainDirector(), DrainDirector(2.5), UndrainDirector()):
        assert decode_command(encode(cmd)) == cmd


async def test_drain_and_undrain_over_the_socket() -> None:
    d = Path(tempfile.mkdtemp(prefix="ddr-ctl-"))  # short: Unix socket paths max 107 bytes
    engine = Engine(config(), dataplane=MemoryDataplane(), clock=FakeClock())
    drainer = DirectorDrainer()

    def factory(peer: Peer, read_only: bool) -> LocalClient:
        return LocalClient(engine, read_only=read_only, who=peer.who, director=drainer)

    server = ControlServer(d / "c.sock", factory)
    await server.start()
    await engine.start()
    try:
        client = await connect(server.path)
        try:
            events = client.events(replay=True)
            r = await client.call(DrainDirector(4.0))
            assert r.ok and "draining" in r.message
            assert drainer.status.phase is DrainPhase.DRAINING and drainer.status.settle == 4.0
            again = await client.call(DrainDirector())
            assert again.ok and "already draining" in again.message
            r = await client.call(UndrainDirector())
            assert r.ok and "undrained" in r.message
            assert drainer.status.phase is DrainPhase.NORMAL
            logged = []
            async with asyncio.timeout(10):  # bounded: the three log lines are there already
                async for ev in events:
                    if isinstance(ev, LogEvent) and "director" in ev.message:
                        logged.append(ev.message)
                    if len(logged) == 3:
                        break
            assert "drain-director settle 4s" in logged[0]
            assert "undrain-director" in logged[2]
        finally:
            await client.close()
        # no bgp VIP: no director drain to ask
        bare = LocalClient(engine)
        r = await bare.call(DrainDirector())
        assert not r.ok and "no VIP over BGP" in r.message
    finally:
        await engine.stop()
        await server.close()
        shutil.rmtree(d, ignore_errors=True)
