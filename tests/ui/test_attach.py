"""`lvstui attach` before the console starts: socket errors, config-driven theme and keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvstui.cli import main
from lvstui.config.load import load_config_text
from lvstui.ui.fake import FakeClient
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
