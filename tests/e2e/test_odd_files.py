"""`check-config` and `import-keepalived` on the files an operator really has lying around:
empty, binary, a directory, missing, Windows line endings, tabs, a byte-order mark, Latin-1.
Each answer is one clear line (with its line number where there is one), the documented
exit status, and never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

KEEPALIVED = """! Configuration File for keepalived
global_defs {
\trouter_id LVS_TEST
}
vrrp_instance VI_1 {
\tstate MASTER
\tinterface eth0
\tvirtual_router_id 51
\tpriority 150
\tvirtual_ipaddress {
\t\t198.51.100.9
\t}
}
virtual_server 198.51.100.9 80 {
\tlb_algo wrr
\tprotocol TCP
\treal_server 203.0.113.10 80 {
\t\tweight 2
\t}
}
"""
TOML = '[global_defs]\nrouter_id = "x"\n'
BOM = b"\xef\xbb\xbf"


def lvstui(*args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [sys.executable, "-m", "lvstui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    assert "Traceback" not in r.stderr, r.stderr
    return r


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "empty.toml").write_bytes(b"")
    (tmp_path / "garbage.bin").write_bytes(b"[g\n\x90\xff\x00binary")
    (tmp_path / "adir").mkdir()
    (tmp_path / "bom.toml").write_bytes(BOM + TOML.encode())
    (tmp_path / "crlf.toml").write_bytes(TOML.replace("\n", "\r\n").encode())
    (tmp_path / "tabs.conf").write_text(KEEPALIVED)
    (tmp_path / "crlf.conf").write_bytes(KEEPALIVED.replace("\n", "\r\n").encode())
    (tmp_path / "bom.conf").write_bytes(BOM + KEEPALIVED.encode())
    (tmp_path / "bomcrlf.conf").write_bytes(BOM + KEEPALIVED.replace("\n", "\r\n").encode())
    (tmp_path / "latin1.conf").write_bytes("! caf\xe9\n".encode("latin-1") + KEEPALIVED.encode())
    return tmp_path


@pytest.mark.parametrize(
    ("name", "rc", "message"),
    [
        ("empty.toml", 0, "valid: 0 vrrp instance(s)"),
        ("bom.toml", 0, "valid"),
        ("crlf.toml", 0, "valid"),
        ("garbage.bin", 2, "garbage.bin:2: not UTF-8 text: byte 0x90 at column 1"),
        ("adir", 2, "adir: is a directory, not a file"),
        ("missing.toml", 2, "missing.toml: no such file"),
        ("tabs.conf", 2, "looks like a keepalived.conf: `lvstui import-keepalived"),
        ("crlf.conf", 2, "looks like a keepalived.conf"),
    ],
)
def test_check_config_odd_files(files: Path, name: str, rc: int, message: str) -> None:
    r = lvstui("check-config", "-f", str(files / name))
    assert r.returncode == rc, r.stdout + r.stderr
    assert message in r.stdout + r.stderr


def test_import_reads_crlf_tabs_and_bom_alike(files: Path) -> None:
    outs = []
    for name in ("tabs.conf", "crlf.conf", "bom.conf", "bomcrlf.conf"):
        r = lvstui("import-keepalived", str(files / name))
        assert r.returncode == 0, r.stderr
        assert r.stderr == "", r.stderr  # a BOM is not a directive to note
        outs.append(r.stdout.split("\n", 1)[1])  # the first line names the source file
    assert all(o == outs[0] for o in outs)
    assert 'router_id = "LVS_TEST"' in outs[0] and "weight = 2" in outs[0]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("latin1.conf", "latin1.conf:1: not UTF-8 text: byte 0xe9 at column 6"),
        ("garbage.bin", "not UTF-8 text"),
        ("adir", "adir: is a directory, not a file"),
        ("missing.conf", "missing.conf: no such file"),
    ],
)
def test_import_refuses_unreadable_files_clearly(files: Path, name: str, message: str) -> None:
    r = lvstui("import-keepalived", str(files / name))
    assert r.returncode == 2
    assert r.stdout == ""
    assert message in r.stderr


GARP = """global_defs {
    vrrp_garp_master_delay 2
    vrrp_garp_master_repeat 3
    vrrp_garp_master_refresh 60
    vrrp_garp_master_refresh_repeat 5
}
vrrp_instance A {
    interface eth0
    virtual_router_id 1
    priority 100
    garp_master_delay 1
    virtual_ipaddress {
        192.0.2.1
    }
}
vrrp_instance B {
    interface eth0
    virtual_router_id 2
    priority 100
    virtual_ipaddress {
        192.0.2.2
    }
}
"""


def test_import_carries_global_garp_defaults_into_the_instances(tmp_path: Path) -> None:
    """keepalived's global_defs vrrp_garp_master_* apply to every instance that has no own
    value; lvstui has the keys per instance only: they land there, and the notes say so."""
    import tomllib

    conf = tmp_path / "keepalived.conf"
    conf.write_text(GARP)
    r = lvstui("import-keepalived", str(conf))
    assert r.returncode == 0, r.stderr
    data = tomllib.loads(r.stdout)["vrrp_instance"]
    assert data["A"]["garp_master_delay"] == 1  # its own value wins
    assert data["B"]["garp_master_delay"] == 2
    for name in ("A", "B"):
        assert data[name]["garp_master_repeat"] == 3
        assert data[name]["garp_master_refresh"] == 60
        assert data[name]["garp_master_refresh_repeat"] == 5
    assert "keepalived.conf:2: vrrp_garp_master_delay: a global default" in r.stderr
    assert "not supported" not in r.stderr
    out = tmp_path / "config.toml"
    out.write_text(r.stdout)
    assert lvstui("check-config", "-q", "-f", str(out)).returncode == 0

    conf.write_text(GARP.replace("vrrp_garp_master_delay 2", "vrrp_garp_master_delay 5"))
    r = lvstui("import-keepalived", str(conf))
    assert "same as lvstui's default garp_master_delay" in r.stderr
    assert "garp_master_delay = 5" not in r.stdout  # defaults are left out


ALL_PORTS = """[global_defs]
router_id = "x"
[lvstui]
dataplane = "{dataplane}"
[[virtual_server]]
ip = "192.0.2.1"
port = 0
{persistence}
[[virtual_server.real_server]]
ip = "192.0.2.5"
port = 0
"""


@pytest.mark.parametrize(
    ("dataplane", "persistence", "rc", "message"),
    [
        ("ipvs", "", 2, "port 0 (every port) needs persistence_timeout"),
        ("ipvs", "persistence_timeout = 60", 0, "valid: 0 vrrp instance(s), 1 virtual server(s)"),
        ("userspace", "persistence_timeout = 60", 0, "cannot serve an all-ports (port 0)"),
    ],
)
def test_all_ports_service(
    tmp_path: Path, dataplane: str, persistence: str, rc: int, message: str
) -> None:
    """ipvsadm's rule: port 0 (every port) only with persistence; its real servers keep the
    packet's port (port 0); the userspace forwarder cannot listen on every port."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(ALL_PORTS.format(dataplane=dataplane, persistence=persistence))
    r = lvstui("check-config", "-f", str(cfg))
    assert r.returncode == rc, r.stdout + r.stderr
    assert message in r.stdout + r.stderr
