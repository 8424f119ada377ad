"""`lvstui attach` before the console starts: socket errors, config-driven theme and keys."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Static

from lvstui.cli import main
from lvstui.config.load import load_config_text
from lvstui.ui.fake import FakeClient
from lvstui.ui.widgets import ServiceTable
from tests.helpers import REPO, async_wait_until
from tests.ui.conftest import running


def test_attach_without_a_daemon_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["attach", "--socket", str(tmp_path / "nobody.sock")])
    assert rc == 3
    assert "no daemon listening" in capsys.readouterr().err


def test_attach_refuses_a_bad_key_map_from_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[lvstui]\ncontrol_socket = "/nonexistent/x.sock"\n[lvstui.keys]\nfly = "f"\n')
    rc = main(["attach", "-f", str(cfg), "--socket", str(tmp_path / "nobody.sock")])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "unknown console action 'fly'" in err and "lvstui.keys.fly" in err


def test_attach_refuses_an_unknown_theme(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["attach", "--theme", "purple", "--socket", str(tmp_path / "nobody.sock")])
    assert rc == 2
    assert "unknown theme 'purple'" in capsys.readouterr().err


async def test_config_keys_and_theme_drive_the_console() -> None:
    config = load_config_text('[lvstui]\ntheme = "light"\n[lvstui.keys]\ndrain = "D"\n')
    client = FakeClient(1, 2)
    async with running(client, theme=config.lvstui.theme, keys=config.lvstui.keys) as (app, pilot):
        assert app.theme == "light"
        assert app.keys["drain"] == "D"
        bound = {b.binding.key for b in app.screen.active_bindings.values()}
        assert "D" in bound and "d" not in bound
        del pilot


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_daemon(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "lvstui", "--daemon", "-f", str(config)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def test_attached_console_survives_a_daemon_restart(tmp_path: Path) -> None:
    """A real daemon, a real SocketClient: stop the daemon → banner; start it → recovered."""
    from lvstui.commands.demo import demo_config
    from lvstui.control.client import SocketClient, connect

    ports = [_free_port() for _ in range(5)]
    config = demo_config(tmp_path, ports[0], ports[1:4], ports[4])
    sock = tmp_path / "control.sock"
    daemon = _start_daemon(config)
    try:
        await async_wait_until(sock.exists, 30)
        client = await connect(sock, timeout=20)

        async def reconnect() -> SocketClient:
            await client.reconnect(timeout=1.0, interval=0.1)
            return client

        try:
            async with running(client, reconnect=reconnect, poll_interval=0.2) as (app, pilot):
                banner = app.main.query_one("#banner", Static)
                table = app.main.query_one(ServiceTable)
                assert table.row_count >= 4 and "attached to" in app.client.description
                _stop(daemon)
                await async_wait_until(lambda: banner.display, 20)
                assert "disconnected — retrying" in str(banner.render())
                daemon = _start_daemon(config)
                await async_wait_until(lambda: not banner.display, 40)
                seq = app.snapshot.seq if app.snapshot else -1
                await async_wait_until(
                    lambda: app.snapshot is not None and app.snapshot.seq != seq, 20
                )
                assert table.row_count >= 4
                del pilot
        finally:
            await client.close()
    finally:
        _stop(daemon)
