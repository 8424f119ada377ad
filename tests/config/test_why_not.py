"""The reason a note gives for a directive the import leaves out is true: keepalived itself
calls the same lines unknown where they stand (`keepalived -t`), and a global_defs setting
that lvstui takes is not described as unsupported when it sits in the wrong block."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvstui.config.keepalived import import_keepalived_text
from tests.config.kaimport import keepalived_t

TEXT = """\
global_defs {
  max_auto_priority 10
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  vrrp_garp_interval 1
  garp_interval 1
  gna_interval 1
  lvs_sync_daemon_inteface eth0
  virtual_ipaddress {
    192.0.2.10/24
  }
}
"""
UNKNOWN_TO_KEEPALIVED = (
    "vrrp_garp_interval",
    "garp_interval",
    "gna_interval",
    "lvs_sync_daemon_inteface",
)


def test_each_left_out_line_says_why() -> None:
    r = import_keepalived_text(TEXT, "why.conf", "lb0")
    said = {n.line: n.message for n in r.notes}
    assert set(said) == {2, 9, 10, 11, 12}, said
    assert all(msg.startswith("not supported by lvstui; left out (") for msg in said.values())
    assert "real-time scheduling" in said[2]
    assert "keepalived knows it in global_defs only" in said[9]
    assert "burst" not in said[9]  # the reason before lvstui took vrrp_garp_interval
    for line in (10, 11, 12):
        assert "keepalived does not know" in said[line], said[line]


@pytest.mark.keepalived
@pytest.mark.root
def test_keepalived_calls_them_unknown(tmp_path: Path, interfaces_netns: str) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(TEXT)
    proc = keepalived_t(interfaces_netns, str(conf))
    for key in UNKNOWN_TO_KEEPALIVED:
        assert f"Unknown keyword '{key}'" in proc.stderr, proc.stderr
    assert "max_auto_priority" not in proc.stderr  # keepalived takes it
