"""config.toml.example loads and is the tutorial's setup; check-config and import-keepalived."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from lvstui.cli import main
from lvstui.config.load import load_config_text
from lvstui.config.schema import HttpCheck, LbKind, MiscCheck, TcpCheck, VrrpState
from tests.helpers import REPO

EXAMPLE = REPO / "config.toml.example"
FIX = Path(__file__).parent / "fixtures"


def test_example_is_the_tutorial_setup() -> None:
    # as written: the scripts it names are not on this host, and loading the file here
    # would disable them (as keepalived does; tests/config/test_script_security.py)
    cfg = load_config_text(EXAMPLE.read_text(), str(EXAMPLE))
    gd = cfg.global_defs
    assert gd.notification_email == ("georgette@example.com",)
    assert (gd.notification_email_from, gd.smtp_server, gd.smtp_connect_timeout, gd.router_id) == (
        "lvs@example.com",
        "relayhost.example.com",
        30.0,
        "LVS",
    )
    assert cfg.vrrp_sync_groups[0].name == "VG1"
    assert cfg.vrrp_sync_groups[0].group == ("linuxfr",)
    (inst,) = cfg.vrrp_instances
    assert (inst.name, inst.state, inst.interface, inst.virtual_router_id) == (
        "linuxfr",
        VrrpState.MASTER,
        "eth0",
        51,
    )
    assert inst.smtp_alert is True and inst.auth_pass == "1111"
    assert {v.address for v in inst.virtual_ipaddress} == {"192.168.2.9", "192.168.10.9"}
    web, second = cfg.virtual_servers
    assert (web.ip, web.port, web.lb_kind, web.lb_algo, web.delay_loop) == (
        "192.168.10.9",
        80,
        LbKind.DR,
        "rr",
        6.0,
    )
    assert [r.ip for r in web.real_servers] == ["192.168.10.98", "192.168.10.85"]
    for rs in web.real_servers:
        (check,) = rs.checks
        assert isinstance(check, TcpCheck)
        assert (check.common.connect_port, check.common.connect_timeout) == (80, 3.0)
    assert (second.ip, second.port, second.persistence_timeout) == ("192.168.10.9", 443, 60)
    assert second.virtualhost == "supervision.fr.local"
    assert (second.quorum, second.hysteresis) == (30, 2)
    assert second.quorum_up and second.quorum_down
    assert second.sorry_server is not None
    assert (second.sorry_server.ip, second.sorry_server.port) == ("192.168.10.55", 80)
    # the weights make quorum 30 mean "two of three servers"
    weights = [r.weight for r in second.real_servers]
    assert sum(weights) >= 30 + second.hysteresis
    assert all(sum(weights) - w >= 30 for w in weights)
    assert all(w < 30 - second.hysteresis for w in weights)
    checks = [c for r in second.real_servers for c in r.checks]
    http = [c for c in checks if isinstance(c, HttpCheck)]
    assert http and http[0].urls[0].digest == "5f1a4b7e269b7f5ddf6bbce06856c1e8"
    assert http[0].urls[0].path == "/test_vie.php"
    misc = [c for c in checks if isinstance(c, MiscCheck)]
    assert misc and misc[0].misc_dynamic and misc[0].misc_timeout == 15
    assert misc[0].misc_path == "/usr/local/bin/test_ldap.pl 192.168.10.72"


def test_example_comments_every_key() -> None:
    """Every `key = value` line of the example carries a comment, or sits in a commented
    group whose first line explains it (continuation lines of arrays are exempt)."""
    lines = EXAMPLE.read_text().splitlines()
    data = tomllib.loads(EXAMPLE.read_text())
    assert data  # parses
    missing = []
    for n, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#") or s.startswith("[") or "=" not in s.split("#")[0]:
            continue
        prev = lines[n - 2] if n > 1 else ""  # a comment block at column 0 above it
        if "#" not in line and not prev.startswith("#") and not _same_as_above(lines, n):
            missing.append((n, line))
    assert not missing, missing


def _same_as_above(lines: list[str], n: int) -> bool:
    """A repeated real server / check block: its keys were commented the first time."""
    key = lines[n - 1].split("=")[0].strip()
    return any(line.split("=")[0].strip() == key and "#" in line for line in lines[: n - 1])


def test_check_config_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "-f", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "valid: 1 vrrp instance(s), 2 virtual server(s), 5 real server(s)" in out
    # PASS in clear is the only warning the tutorial's own setup keeps, besides its three
    # scripts, which are not on this host: disabled, as keepalived disables them
    assert out.count(": warning: ") == 4
    assert out.count("disabled (as keepalived does)") == 3
    assert "PASS authentication is sent in clear" in out
    assert f"{EXAMPLE}:" in out


def test_check_config_prints_every_error_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    text = EXAMPLE.read_text()
    text = text.replace("virtual_router_id = 51", "virtual_router_id = 510")
    text = text.replace('lb_algo = "wrr"', 'lb_algo = "wrrr"')
    bad.write_text(text)
    assert main(["check-config", "-f", str(bad)]) == 2
    err = capsys.readouterr().err
    vrid_line = (
        text.splitlines().index(
            next(x for x in text.splitlines() if x.startswith("virtual_router_id = 510"))
        )
        + 1
    )
    assert f"{bad}:{vrid_line}: vrrp_instance.linuxfr.virtual_router_id: out of range" in err
    assert "virtual_server[1].lb_algo: unknown scheduler 'wrrr'" in err
    assert "hint: did you mean `wrr`?" in err
    assert f"{bad}: 2 errors" in err


def test_check_config_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "-f", str(tmp_path / "none.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_import_keepalived_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text((FIX / "tutorial_full.conf").read_text() + "static_track_group g1 {\n}\n")
    assert main(["import-keepalived", str(conf)]) == 0
    cap = capsys.readouterr()
    assert cap.out.startswith("# lvstui configuration imported from")
    cfg = load_config_text(cap.out, "imported.toml")
    assert len(cfg.virtual_servers) == 2
    assert f"{conf}:97: static_track_group: not supported" in cap.err
    # -o writes the same text to a file; check-config accepts it
    out = tmp_path / "config.toml"
    assert main(["import-keepalived", str(conf), "-o", str(out)]) == 0
    assert out.read_text() == cap.out
    capsys.readouterr()
    assert main(["check-config", "-f", str(out)]) == 0


def test_import_keepalived_stray_brace(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIX / "tutorial_virtual_server.conf"
    # keepalived runs past it ("Extra '}' found"): the import converts the file and names
    # the brace's line on stderr
    assert main(["import-keepalived", str(path)]) == 0
    cap = capsys.readouterr()
    assert "[[virtual_server]]" in cap.out
    assert f"{path}:24: }}: no block is open here" in cap.err


def test_check_config_runs_as_a_program_without_the_console() -> None:
    """`lvstui check-config` works from a fresh interpreter and never imports textual."""
    code = (
        "import sys; from lvstui.cli import main; rc = main(['check-config', '-q', '-f', "
        f"{str(EXAMPLE)!r}]); assert 'textual' not in sys.modules, 'textual loaded'; "
        "sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "valid:" in proc.stdout
