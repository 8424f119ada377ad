"""A console attaching to a running daemon is replayed its recent events over the socket."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from lvstui.clock import FakeClock
from lvstui.control.client import connect
from lvstui.control.local import LocalClient
from lvstui.control.server import ControlServer, Peer
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.model import LogEvent
from tests.engine.builders import config


async def test_subscribe_with_replay_gets_the_recent_events_first() -> None:
    d = Path(tempfile.mkdtemp(prefix="conlog-ctl-"))  # short: Unix socket paths max 107 bytes
    engine = Engine(config(), dataplane=MemoryDataplane(), clock=FakeClock())

    def factory(peer: Peer, read_only: bool) -> LocalClient:
        return LocalClient(engine, read_only=read_only, who=peer.who, published=True)

    server = ControlServer(d / "c.sock", factory)
    await server.start()
    await engine.start()
    try:
        engine.log("error", "before anyone attached")
        late, plain = await connect(server.path), await connect(server.path)
        try:
            replayed = late.events(replay=True)
            live = plain.events()
            got = await asyncio.wait_for(anext(replayed), 5)
            while got != LogEvent(got.time, "error", "before anyone attached"):
                got = await asyncio.wait_for(anext(replayed), 5)
            # without replay the stream starts now: the next thing it says is news
            first_live = asyncio.ensure_future(anext(live))
            await asyncio.sleep(0.2)
            engine.log("info", "after")
            news = await asyncio.wait_for(first_live, 5)
            assert isinstance(news, LogEvent) and news.message == "after"
        finally:
            await late.close()
            await plain.close()
    finally:
        await engine.stop()
        await server.close()
        shutil.rmtree(d, ignore_errors=True)
