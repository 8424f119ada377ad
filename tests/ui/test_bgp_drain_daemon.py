"""The console's director drain against a real daemon (issue 16): `lvstui --daemon` in a
namespace of ours with a bgp VIP (userspace dataplane, the route handoff into table 245),
the console attached to its socket. `D` and the confirmation drain it: the BGP pane says
DRAINING while the VIP's route is at metric 65535, then SAFE once no new connection came
for the settle time, with the route gone; `D` again undrains and the route is back at
metric 0."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lvstui.control.client import connect
from lvstui.ui.announcepane import AnnouncePanel
from lvstui.ui.dialogs import ConfirmDialog
from tests.announce.test_daemon_bgp import listen, reap, start_daemon
from tests.announce.test_daemon_reload_upgrade import VIP, config
from tests.announce.test_kernel_table import metrics, tun_namespace
from tests.helpers import async_wait_until
from tests.ui.conftest import running

pytestmark = [pytest.mark.root, pytest.mark.netns]

NS = f"bgpcon-{os.getpid()}"
SETTLE = 1.5  # [lvstui.announce] drain_settle: the quiet time before SAFE
# a bgp VIP on lo with one real server, the route handoff into table 245 (as the announce
# tests run it), and a short settle time
CONFIG = config("bgp").replace(
    "[lvstui.announce]\n", f"[lvstui.announce]\ndrain_settle = {SETTLE}\n"
)


@pytest.fixture
def netns() -> Iterator[str]:
    with tun_namespace(NS, "a daemon announcing a bgp VIP") as name:
        subprocess.run(["ip", "-n", name, "addr", "add", f"{VIP}/32", "dev", "lo"], check=True)
        yield name


async def test_the_key_drains_a_real_daemon_to_safe_and_back(netns: str, tmp_path: Path) -> None:
    cfg = tmp_path / "bgp.toml"
    cfg.write_text(CONFIG)
    daemon, log = start_daemon(netns, cfg, tmp_path)
    listener = listen(netns)
    client = None
    try:
        client = await connect(tmp_path / "c.sock", timeout=30)
        async with running(client, poll_interval=0.2) as (app, pilot):
            pane = app.main.query_one(AnnouncePanel)

            def says(text: str) -> bool:
                return pane.display and text in str(pane.content)

            await async_wait_until(lambda: says(f"▲ {VIP} announced"), 30)
            assert says("director: normal (D: drain)")
            assert metrics(netns) == {VIP: [0]}
            await pilot.press("D")
            await async_wait_until(lambda: isinstance(app.screen, ConfirmDialog), 10)
            await pilot.press("y")
            await async_wait_until(
                lambda: says("director: DRAINING (D: undrain)\nno new connection for"), 10
            )
            assert f"of {SETTLE:g} s" in str(pane.content)
            # within a tick of the announcement loop: announced less preferred (or already
            # withdrawn, should a slow host take longer than the short settle time)
            await async_wait_until(lambda: metrics(netns) in ({VIP: [65535]}, {}), 10)
            await async_wait_until(lambda: says("director: SAFE"), 30)
            assert says(f"▼ {VIP} withdrawn: director drained")
            assert metrics(netns) == {}
            await pilot.press("D")
            await async_wait_until(lambda: isinstance(app.screen, ConfirmDialog), 10)
            await pilot.press("y")
            await async_wait_until(lambda: says("director: normal"), 10)
            await async_wait_until(lambda: metrics(netns) == {VIP: [0]}, 10)
    except AssertionError:
        print((tmp_path / "daemon.log").read_text(errors="replace")[-3000:])
        raise
    finally:
        if client is not None:
            await client.close()
        reap(daemon, listener)
        log.close()
