"""check-config's findings about what this host cannot do: accept mode without nftables, and
per-command users the host does not have (keepalived leaves those scripts out)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lvstui.cli import main
from lvstui.commands import check_config
from lvstui.commands.check_config import _host_facts as read_host  # before conftest's stand-in
from lvstui.config.lint import HostFacts, lint
from lvstui.config.load import load_config_text

USER = "kaparity-no-such-user"

CONFIG = f"""\
[vrrp_script.chk]
script = "/bin/true"
user = "{USER}"

[vrrp_instance.VI_1]
interface = "lo"
virtual_router_id = 51
accept = false
track_script = ["chk"]
virtual_ipaddress = ["192.0.2.1"]
notify_master = "/bin/true"
notify_master_user = "{USER}"
notify_backup = "/bin/true"
notify_backup_user = "root"

[vrrp_instance.VI_2]
interface = "lo"
virtual_router_id = 52
virtual_ipaddress = ["192.0.2.2"]

[[virtual_server]]
ip = "192.0.2.1"
port = 80

[[virtual_server.real_server]]
ip = "192.0.2.10"
port = 80
notify_up = "/bin/true"
notify_up_user = "{USER}"

[[virtual_server.real_server.misc_check]]
misc_path = "/bin/true"
user = "{USER}"
"""


def _topic(facts: HostFacts, topic: str) -> list[tuple[str, str]]:
    cfg = load_config_text(CONFIG)
    return [(f.key, f.message) for f in lint(cfg, facts) if f.topic == topic]


def test_accept_mode_without_nftables_is_a_warning() -> None:
    (found,) = _topic(HostFacts(nftables="the nft command is not installed"), "no-nftables")
    key, message = found
    assert key == "vrrp_instance.VI_1.accept"  # VI_2 accepts: nothing to drop
    assert "not installed" in message and "take the traffic keepalived drops" in message
    assert not _topic(HostFacts(nftables=""), "no-nftables")  # nft takes the table
    assert not _topic(HostFacts(), "no-nftables")  # not known


def test_unknown_per_command_users_are_warnings() -> None:
    found = dict(_topic(HostFacts(missing_users=frozenset({USER})), "unknown-user"))
    assert sorted(found) == [
        "virtual_server[0].real_server[0].misc_check[0].user",
        "virtual_server[0].real_server[0].notify_up_user",
        "vrrp_instance.VI_1.notify_master_user",
        "vrrp_script.chk.user",
    ]
    assert all("keepalived leaves this script out" in m for m in found.values())
    assert "fails every run" in found["vrrp_script.chk.user"]
    assert "the server goes down" in found["virtual_server[0].real_server[0].misc_check[0].user"]
    assert not _topic(HostFacts(missing_users=frozenset()), "unknown-user")


def test_check_config_reads_the_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "lvstui.toml"
    path.write_text(CONFIG)
    monkeypatch.setattr(check_config, "_host_facts", read_host)  # this test reads the host
    monkeypatch.setenv("PATH", str(tmp_path))  # no nft on this PATH
    assert main(["check-config", "-f", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"vrrp_script.chk.user: warning: no user '{USER}' on this host" in out
    assert "notify_backup_user" not in out  # root exists
    assert "vrrp_instance.VI_1.accept: warning: accept mode" in out
    assert "the nft command is not installed" in out
    assert "insecure script" not in out  # an unknown user is not a security finding


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("nft") is None, reason="nft --check needs root and nft"
)
def test_check_config_with_nft_that_takes_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check_config, "_host_facts", read_host)
    path = tmp_path / "lvstui.toml"
    path.write_text(CONFIG)
    assert main(["check-config", "-f", str(path)]) == 0
    assert "accept mode" not in capsys.readouterr().out


def test_a_track_file_in_a_missing_directory_is_a_warning(tmp_path: Path) -> None:
    """keepalived: "Track file directory for NAME does not exist - removing"."""
    text = (
        f'[track_file.gone]\nfile = "{tmp_path}/nodir/state"\n'
        f'[track_file.here]\nfile = "{tmp_path}/state"\n'
        '[vrrp_instance.VI_1]\ninterface = "lo"\nvirtual_router_id = 51\n'
        'virtual_ipaddress = ["192.0.2.1"]\ntrack_file = ["gone", "here"]\n'
    )
    cfg = load_config_text(text)
    facts = read_host(cfg)
    assert facts.missing_dirs == frozenset({"gone"})
    found = [f for f in lint(cfg, facts) if f.topic == "track-file-dir"]
    assert [(f.key, "keepalived stops tracking it" in f.message) for f in found] == [
        ("track_file.gone.file", True)
    ]
