"""What an operator sees when there is no daemon, no config, or a wrong argument."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvstui.config.schema import DEFAULT_CONFIG_PATH
from tests.cli.harness import free_port, lvstui, write_config


@pytest.mark.parametrize(
    "argv",
    [
        ["list"],
        ["status", "--json"],
        ["ctl", "reload"],
        ["ctl", "drain", "127.0.0.1:80", "127.0.0.1:81"],
    ],
)
def test_no_daemon_listening(tmp_path: Path, argv: list[str]) -> None:
    sock = tmp_path / "none.sock"
    r = lvstui(*argv, "--socket", str(sock))
    assert r.returncode == 3
    assert r.stderr == (
        f"lvstui: no daemon listening on {sock}\n  hint: start `lvstui --daemon` or pass --socket\n"
    )
    assert r.stdout == ""


@pytest.mark.parametrize(
    "argv",
    [["list"], ["status"], ["ctl", "reload"], ["ctl", "undrain", "127.0.0.1:80", "127.0.0.1:81"]],
)
def test_global_options_before_the_sub_command_apply_to_it(tmp_path: Path, argv: list[str]) -> None:
    sock = tmp_path / "before.sock"
    r = lvstui("--socket", str(sock), *argv)
    assert r.returncode == 3 and f"no daemon listening on {sock}\n" in r.stderr
    # given on both sides, the sub-command's own wins
    r = lvstui("--socket", str(tmp_path / "outer.sock"), *argv, "--socket", str(sock))
    assert r.returncode == 3 and f"no daemon listening on {sock}\n" in r.stderr
    # -f FILE: the control socket of that configuration
    cfg = write_config(tmp_path / "c.toml", free_port(), [18001])
    cfg.write_text(cfg.read_text().replace("[lvstui]", f'[lvstui]\ncontrol_socket = "{sock}"'))
    r = lvstui("-f", str(cfg), *argv)
    assert r.returncode == 3 and f"no daemon listening on {sock}\n" in r.stderr
    r = lvstui("-f", str(tmp_path / "nope.toml"), *argv)
    assert r.returncode == 2 and "nope.toml: no such file" in r.stderr


def test_daemon_without_a_config_suggests_the_demo(tmp_path: Path) -> None:
    if Path(DEFAULT_CONFIG_PATH).exists():
        pytest.skip(f"{DEFAULT_CONFIG_PATH} exists on this machine")
    r = lvstui("--daemon", "--socket", str(tmp_path / "c.sock"), "--state-dir", str(tmp_path))
    assert r.returncode == 1
    assert f"{DEFAULT_CONFIG_PATH}: no such configuration file" in r.stderr
    assert "lvstui demo" in r.stderr


def test_missing_explicit_config(tmp_path: Path) -> None:
    r = lvstui("--dry-run", "-f", str(tmp_path / "nope.toml"))
    assert r.returncode == 2
    assert "nope.toml: no such configuration file" in r.stderr


def test_dry_run_prints_what_would_be_programmed(tmp_path: Path) -> None:
    port = free_port()
    cfg = write_config(tmp_path / "c.toml", port, [18001, 18002])
    r = lvstui("--dry-run", "-f", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert f"add service TCP 127.0.0.1:{port} scheduler rr" in out
    assert f"add real TCP 127.0.0.1:{port} -> 127.0.0.1:18001 NAT weight 1" in out
    assert "IP Virtual Server version 1.2.1 (size=4096)" in out
    assert f"TCP  127.0.0.1:{port} rr" in out
    assert not (tmp_path / "state").exists()  # nothing written
    # nothing listens on the VIP: it was a dry run
    import socket

    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_ctl_usage_errors_exit_2(tmp_path: Path) -> None:
    r = lvstui("ctl", "weight", "127.0.0.1:80", "--socket", str(tmp_path / "x"))
    assert r.returncode == 2
    assert "which real server?" in r.stderr


def test_console_without_config_or_daemon_suggests_the_demo(tmp_path: Path) -> None:
    from lvstui.config.schema import DEFAULT_CONTROL_SOCKET
    from lvstui.wiring import probe_socket

    if Path(DEFAULT_CONFIG_PATH).exists() or probe_socket(DEFAULT_CONTROL_SOCKET):
        pytest.skip("this machine has a config or a daemon on the default paths")
    r = lvstui()
    assert r.returncode == 2
    assert "no such configuration file" in r.stderr and "lvstui demo" in r.stderr


def test_ctl_drain_director_usage_and_no_daemon(tmp_path: Path) -> None:
    r = lvstui("ctl", "drain-director", "--settle", "-1", "--socket", str(tmp_path / "x"))
    assert r.returncode == 2 and "--settle must be ≥ 0" in r.stderr
    r = lvstui("ctl", "undrain-director", "--socket", str(tmp_path / "x"))
    assert r.returncode not in (0, 2)  # parsed; no daemon there
    assert "no lvstui" in r.stderr.lower() or "daemon" in r.stderr.lower()
