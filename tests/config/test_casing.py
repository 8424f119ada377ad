"""check-config warns where lvstui reads a word in any case that keepalived 2.2 takes in
capitals only (keepalived -t on the same words: lb_kind dr runs as NAT, state master as
BACKUP; tests/config/test_keepalived_parity.py covers the import's side)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvstui.cli import main
from lvstui.config.casing import case_findings

TEXT = """\
[vrrp_instance.VI_1]
interface = "eth0"
virtual_router_id = 51
state = "{state}"
virtual_ipaddress = ["192.0.2.9"]

[[virtual_server]]
ip = "192.0.2.9"
port = 80
lb_kind = "{kind}"

[[virtual_server.real_server]]
ip = "192.0.2.98"
port = 80
lb_kind = "{rkind}"
"""


def test_lower_case_words_are_warned_about_with_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(TEXT.format(state="master", kind="dr", rkind="Tun"))
    assert main(["check-config", "-f", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        f"{path}:4: vrrp_instance.VI_1.state: warning: state 'master': lvstui starts as MASTER"
        in out
    )
    assert f"{path}:10: virtual_server[0].lb_kind: warning: lb_kind 'dr': lvstui runs DR" in out
    assert "runs `lb_kind dr` as NAT" in out
    assert f"{path}:15: virtual_server[0].real_server[0].lb_kind: warning: lb_kind 'Tun'" in out


def test_capitals_and_unknown_words_say_nothing() -> None:
    import tomllib

    raw = tomllib.loads(TEXT.format(state="BACKUP", kind="DR", rkind="NAT"))
    assert case_findings(raw) == []
    raw["virtual_server"][0]["lb_kind"] = "direct"  # not a kind at all: the loader refuses it
    assert case_findings(raw) == []
