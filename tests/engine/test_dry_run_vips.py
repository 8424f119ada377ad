"""`lvstui --dry-run` (and the reload difference) show each VIP with all its options:
dev, brd, scope and label, as the configuration has them."""

from __future__ import annotations

from pathlib import Path

from lvstui.config.diff import diff_configs, vip_text
from lvstui.config.schema import Config, VipAddress, VrrpInstance
from tests.cli.harness import free_port, lvstui, write_config

VRRP = """
[vrrp_instance.VI_1]
interface = "eth0"
virtual_router_id = 51
priority = 150
virtual_ipaddress = ["192.0.2.10/24 dev eth1 label eth1:1 scope global", "192.0.2.11"]
"""


def test_vip_text() -> None:
    full = VipAddress("192.0.2.10", 24, "eth1", "eth1:1", "global", "192.0.2.255")
    assert vip_text(full) == "192.0.2.10/24 brd 192.0.2.255 dev eth1 scope global label eth1:1"
    assert vip_text(VipAddress("192.0.2.11", 32), "eth0") == "192.0.2.11/32 dev eth0"
    assert vip_text(VipAddress("2001:db8::1", 128)) == "2001:db8::1/128"


def test_reload_diff_sees_a_label_change() -> None:
    def cfg(label: str) -> Config:
        vip = VipAddress("192.0.2.10", 24, label=label)
        return Config(vrrp_instances=(VrrpInstance("vi", "eth0", 51, virtual_ipaddress=(vip,)),))

    lines = diff_configs(cfg("eth0:1"), cfg("eth0:2"))
    assert "+ VIP 192.0.2.10/24 label eth0:2 on vi" in lines
    assert "- VIP 192.0.2.10/24 label eth0:1 on vi" in lines


def test_dry_run_prints_vip_label(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", free_port(), [18001], extra="")
    cfg.write_text(cfg.read_text() + VRRP)
    r = lvstui("--dry-run", "-f", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    at = lines.index("# VIPs (on the VRRP master):")
    assert lines[at + 1 : at + 3] == [
        "  192.0.2.10/24 dev eth1 scope global label eth1:1",
        "  192.0.2.11/32 dev eth0",
    ]


def test_dry_run_never_touches_the_state_dir(tmp_path: Path) -> None:
    port = free_port()
    cfg = write_config(tmp_path / "c.toml", port, [18001, 18002])
    state = tmp_path / "state"
    state.mkdir()
    ov = state / "overrides.toml"
    drain = f'version = 1\n[[drain]]\nservice = "TCP 127.0.0.1:{port}"\nreal = "127.0.0.1:18001"\n'
    for text in (drain, drain[:-5]):  # valid (applied), then truncated (ignored)
        ov.write_text(text)
        r = lvstui("--dry-run", "-f", str(cfg), "--state-dir", str(state))
        assert r.returncode == 0, r.stderr
        assert sorted(p.name for p in state.iterdir()) == ["overrides.toml"]
        assert ov.read_text() == text
        weight = "0" if text == drain else "1"
        assert f"add real TCP 127.0.0.1:{port} -> 127.0.0.1:18001 NAT weight {weight}" in r.stdout
    assert "cannot parse" in r.stderr
