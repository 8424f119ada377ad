"""vrrp_strict / strict_mode, accept / no_accept, skip_check_adv_addr in the configuration:
keepalived's defaults, its strict rules as errors in lvstui's file and as corrections (with
notes) in the import, compared with what `keepalived -t` says where it runs."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from lvstui.config.dump import to_toml_dict
from lvstui.config.keepalived.importer import import_keepalived_text
from lvstui.config.load import ConfigErrors, load_config_data, load_config_text

BASE = """
[global_defs]
vrrp_strict = true

[vrrp_instance.VI_1]
interface = "eth0"
virtual_router_id = 51
version = 3
virtual_ipaddress = ["198.51.100.9/24"]
"""


@pytest.mark.parametrize(
    ("extra", "accept"),
    [("", False), ('priority = 255\nstate = "MASTER"\n', True), ("accept = true\n", True)],
)
def test_accept_follows_keepalived_defaults(extra: str, accept: bool) -> None:
    (inst,) = load_config_text(BASE + extra).vrrp_instances
    assert inst.strict_mode and inst.accept is accept
    # the file written back loads the same
    again = load_config_data(to_toml_dict(load_config_text(BASE + extra)), "<string>")
    assert again.vrrp_instances == (inst,)


def test_without_strict_accept_is_on_and_can_be_turned_off() -> None:
    text = BASE.replace("vrrp_strict = true", "vrrp_skip_check_adv_addr = true")
    (inst,) = load_config_text(text).vrrp_instances
    assert inst.accept and not inst.strict_mode and inst.skip_check_adv_addr
    (inst,) = load_config_text(text + "accept = false\n").vrrp_instances
    assert not inst.accept


@pytest.mark.parametrize(
    ("extra", "key", "says"),
    [
        ('unicast_peer = ["198.51.100.12"]\n', "unicast_peer", "no unicast peers"),
        ("preempt_delay = 5\n", "preempt_delay", "no preempt_delay"),
        ('state = "MASTER"\n', "state", "only the address owner"),
        ("version = 2\naccept = true\n", "accept", "VRRPv2"),
    ],
)
def test_strict_rules_are_errors_naming_the_key(extra: str, key: str, says: str) -> None:
    text = BASE.replace("version = 3\n", "") if "version = 2" in extra else BASE
    with pytest.raises(ConfigErrors) as exc:
        load_config_text(text + extra)
    assert [e.key for e in exc.value.errors] == [f"vrrp_instance.VI_1.{key}"]
    assert says in exc.value.errors[0].detail


KA = """global_defs {
    vrrp_strict
    vrrp_skip_check_adv_addr
}
vrrp_instance VI_1 {
    state MASTER
    interface lo
    virtual_router_id 51
    priority 100
    preempt_delay 10
    accept
    authentication {
        auth_type PASS
        auth_pass secret
    }
    virtual_ipaddress {
        198.51.100.9/24
    }
}
vrrp_instance VI_2 {
    interface lo
    virtual_router_id 52
    no_accept
    strict_mode false
    virtual_ipaddress {
        198.51.100.10/24
    }
}
"""


def test_import_makes_keepalived_s_strict_corrections(tmp_path: Path) -> None:
    res = import_keepalived_text(KA, "ka.conf", config_id="x")
    one, two = res.config.vrrp_instances
    assert one.strict_mode and one.skip_check_adv_addr
    assert one.state.value == "BACKUP" and one.auth_type is None and one.preempt_delay == 0
    assert not one.accept  # VRRPv2, not the owner: reset
    assert not two.strict_mode and not two.accept
    notes = "\n".join(map(str, res.notes))
    for line, what in (
        (6, "state MASTER goes with the address owner"),
        (10, "preempt_delay is incompatible with strict mode"),
        (11, "accept mode for VRRPv2 does not comply with RFC 3768"),
        (12, "strict mode does not support authentication"),
    ):
        assert f"ka.conf:{line}: vrrp_instance VI_1: " in notes and what in notes, (line, notes)
    # keepalived checks its instances on a real interface (not lo): one of this host's
    real = [name for _, name in socket.if_nameindex() if name != "lo"]
    if shutil.which("keepalived") is None or not real:
        return
    path = tmp_path / "ka.conf"
    path.write_text(KA.replace("interface lo", f"interface {real[0]}"))
    err = subprocess.run(
        ["keepalived", "-t", "-f", str(path)], capture_output=True, text=True
    ).stderr
    # keepalived says the same four things
    for said in (
        "State MASTER must match being address owner",
        "preempt_delay is incompatible with strict mode",
        "accept mode for VRRP version 2 does not comply with RFC3768",
        "Strict mode does not support authentication",
    ):
        assert said in err, err
