"""use_vmac in the configuration, the import and on the in-memory twins (the lab runs it
against keepalived: tests/vrrp/test_lab_netconf.py)."""

from __future__ import annotations

import pytest

from lvstui.clock import FakeClock
from lvstui.config.keepalived.importer import import_keepalived_text
from lvstui.config.load import ConfigErrors, load_config_text
from lvstui.config.schema import Config
from lvstui.model import VrrpRunState as S
from lvstui.vrrp.transport import MemoryHub
from lvstui.vrrp.vmac import MemoryVmacs, vmac_address
from tests.vrrp.test_node import Director, inst, run_for, until

BASE = """
[vrrp_instance.VI_1]
interface = "eth0"
virtual_router_id = 51
virtual_ipaddress = ["198.51.100.9/24"]
"""


def test_the_virtual_mac_is_the_rfc_one() -> None:
    assert vmac_address(51, 4) == "00:00:5e:00:01:33"
    assert vmac_address(1, 6) == "00:00:5e:00:02:01"


@pytest.mark.parametrize(("value", "name"), [("true", "vrrp.51"), ('"vip0"', "vip0")])
def test_use_vmac_names_the_interface(value: str, name: str) -> None:
    (one,) = load_config_text(BASE + f"use_vmac = {value}\n").vrrp_instances
    assert one.use_vmac == name


@pytest.mark.parametrize("value", ['"eth0"', '"a-name-longer-than-15"', "3"])
def test_bad_use_vmac_is_an_error(value: str) -> None:
    with pytest.raises(ConfigErrors, match=r"use_vmac|VMAC"):
        load_config_text(BASE + f"use_vmac = {value}\n")


def test_import_takes_use_vmac_and_says_where_adverts_leave() -> None:
    text = (
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n use_vmac\n"
        " virtual_ipaddress {\n  198.51.100.9/24\n }\n}\n"
    )
    res = import_keepalived_text(text, "k", config_id="x")
    assert res.config.vrrp_instances[0].use_vmac == "vrrp.51"
    assert [n.line for n in res.notes] == [4]
    assert "base interface" in res.notes[0].message


async def test_the_vips_go_on_the_vmac_made_at_the_first_takeover() -> None:
    hub, clock = MemoryHub(), FakeClock()
    a = Director(hub, clock, "198.51.100.11", Config(vrrp_instances=(inst(150, use_vmac="v51"),)))
    vmacs = MemoryVmacs()
    a.group.vmacs = vmacs
    for node in a.group.nodes.values():
        node.vips.vmacs = vmacs
    await a.group.start()
    try:
        await until(clock, lambda: a.state() == S.MASTER)
        await run_for(clock, 0.1)
        assert vmacs.links == {"v51": ("eth0", "00:00:5e:00:01:33")}
        assert a.addrs.addrs["v51"] == {"198.51.100.9/24"} and not a.addrs.addrs.get("eth0")
        assert ("v51", "198.51.100.9") in a.garp.sent  # taught from the VMAC
    finally:
        await a.group.stop()
    assert vmacs.closed and not a.addrs.addrs["v51"]
