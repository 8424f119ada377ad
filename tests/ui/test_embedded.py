"""The console on the real embedded engine: LocalClient + Engine + userspace dataplane, with
real HTTP servers on loopback and a real client connection through the VIP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lvstui.commands.demo import demo_config
from lvstui.control.local import LocalClient
from lvstui.demo.servers import DemoServer
from lvstui.model import DrainState, RealServerView, SetWeight
from lvstui.ui.dialogs import ConfirmDialog
from lvstui.ui.logview import EventLog
from lvstui.ui.render import real_row_key
from lvstui.ui.screens import DetailScreen, MainScreen
from lvstui.ui.widgets import ServiceTable
from lvstui.wiring import build_engine
from tests.helpers import async_wait_until
from tests.ui.conftest import running


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def engine_client(tmp_path: Path) -> AsyncIterator[tuple[LocalClient, Any, int]]:
    from lvstui.config.load import load_config

    servers = [DemoServer("alpha"), DemoServer("bravo"), DemoServer("charlie")]
    sorry = DemoServer("sorry", status=503)
    for s in [*servers, sorry]:
        await s.start()
    vip_port = _free_port()
    path = demo_config(tmp_path, vip_port, [s.port for s in servers], sorry.port)
    config = load_config(path)
    state = tmp_path / "state"
    state.mkdir()
    parts = build_engine(config, dataplane="userspace", state_dir=state)
    engine = parts.engine
    await engine.start()
    client = LocalClient(engine, who="console")
    try:
        yield client, engine, vip_port
    finally:
        await client.close()
        await engine.stop(graceful=False)
        for s in [*servers, sorry]:
            await s.close()


def _reals(snap: Any) -> list[RealServerView]:
    return [r for r in snap.services[0].real_servers if not r.is_sorry]


async def test_embedded_engine_drain_with_a_live_connection(
    engine_client: tuple[LocalClient, Any, int],
) -> None:
    client, _engine, vip_port = engine_client
    async with running(client, poll_interval=0.2) as (app, pilot):
        t = app.main.query_one(ServiceTable)
        await async_wait_until(
            lambda: (
                app.snapshot is not None
                and all(r.checks and r.checks[0].last_ok for r in _reals(app.snapshot))
            ),
            15,
        )
        # A real client connection through the VIP, held open.
        reader, writer = await asyncio.open_connection("127.0.0.1", vip_port)
        try:
            await async_wait_until(lambda: any(r.active_conns for r in _reals(app.snapshot)), 10)
            busy = next(r for r in _reals(app.snapshot) if r.active_conns)
            svc = app.snapshot.services[0].key  # type: ignore[union-attr]
            key = real_row_key(svc, busy.key)
            assert t.select_key(key)
            await pilot.press("d")
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("y")
            await async_wait_until(lambda: str(t.get_cell(key, "status")).startswith("drain"), 10)
            assert str(t.get_cell(key, "weight")).startswith("0")
        finally:
            writer.close()
            await writer.wait_closed()
        await async_wait_until(lambda: str(t.get_cell(key, "status")) == "safe", 15)
        log = app.main.query_one(EventLog)
        await async_wait_until(lambda: any("safe" in x for x in log.lines_text), 10)
        snap = await client.snapshot()
        assert next(r for r in _reals(snap) if r.key == busy.key).drain is DrainState.SAFE
        # undrain from the keyboard
        await pilot.press("u")
        await async_wait_until(lambda: str(t.get_cell(key, "status")) == "up", 10)
        del reader


async def test_embedded_engine_weight_reload_and_drill_down(
    engine_client: tuple[LocalClient, Any, int],
) -> None:
    client, _engine, _port = engine_client
    async with running(client, poll_interval=0.2) as (app, pilot):
        t = app.main.query_one(ServiceTable)
        snap = app.snapshot
        assert snap is not None
        svc = snap.services[0].key
        real = _reals(snap)[1].key
        key = real_row_key(svc, real)
        t.select_key(key)
        await pilot.press("w", "9", "enter")
        await async_wait_until(lambda: str(t.get_cell(key, "weight")).startswith("9"), 10)
        snap = await client.snapshot()
        assert next(r for r in _reals(snap) if r.key == real).weight == 9
        # reload: the dry run's difference is shown first, nothing changed until confirmed
        await pilot.press("r")
        await async_wait_until(lambda: isinstance(app.screen, ConfirmDialog), 10)
        await pilot.press("y")
        await async_wait_until(lambda: isinstance(app.screen, MainScreen), 10)
        # drill-down on the server shows its check
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        await async_wait_until(lambda: app.screen.query_one("#checks").row_count >= 1, 10)  # type: ignore[attr-defined]
        await pilot.press("escape")
        # an engine-refused command is a notification, not a crash
        bad = SetWeight(svc, real.__class__("203.0.113.7", 1), 3)
        app.run_command(bad)
        await async_wait_until(
            lambda: any(
                "203.0.113.7" in str(n.message) or "failed" in str(n.message)
                for n in app._notifications
            ),
            10,
        )
