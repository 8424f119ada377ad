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
from lvstui.vrrp.vmac import MemoryVmacs, VmacFirst, vmac_address, xmit_interface
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


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ("", "vrrp.51"),
        ("vmac_xmit_base = true\n", "eth0"),
        ('unicast_peer = ["198.51.100.12"]\n', "eth0"),  # keepalived forces xmit_base
        ("", "eth0"),  # IPv6 (below)
    ],
)
def test_adverts_use_the_vmac_unless_xmit_base(extra: str, where: str) -> None:
    text = BASE + "use_vmac = true\n" + extra
    if where == "eth0" and not extra:
        text = text.replace("198.51.100.9/24", "2001:db8::9/64") + "version = 3\n"
    (one,) = load_config_text(text).vrrp_instances
    assert xmit_interface(one) == where
    plain = load_config_text(BASE).vrrp_instances[0]
    assert xmit_interface(plain) == "eth0"


def test_import_takes_use_vmac_and_says_where_adverts_leave() -> None:
    text = (
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n use_vmac\n"
        " virtual_ipaddress {\n  198.51.100.9/24\n }\n}\n"
    )
    res = import_keepalived_text(text, "k", config_id="x")
    assert res.config.vrrp_instances[0].use_vmac == "vrrp.51"
    assert [n.line for n in res.notes] == [4]
    assert "leave from the VMAC" in res.notes[0].message


async def test_the_vmac_is_made_at_start_and_holds_the_vips() -> None:
    hub, clock = MemoryHub(), FakeClock()
    a = Director(hub, clock, "198.51.100.11", Config(vrrp_instances=(inst(150, use_vmac="v51"),)))
    vmacs = a.group.vmacs  # the group's twin, shared by the transport and the VIPs
    assert isinstance(vmacs, MemoryVmacs)
    (node,) = a.group.nodes.values()
    assert isinstance(node.transport, VmacFirst) and node.vips.vmacs is vmacs
    await a.group.start()
    try:
        # before any takeover (keepalived makes it at start)
        assert a.state() != S.MASTER
        assert vmacs.links == {"v51": ("eth0", "00:00:5e:00:01:33")}
        await until(clock, lambda: a.state() == S.MASTER)
        await run_for(clock, 0.1)
        assert vmacs.links == {"v51": ("eth0", "00:00:5e:00:01:33")}
        assert a.addrs.addrs["v51"] == {"198.51.100.9/24"} and not a.addrs.addrs.get("eth0")
        assert ("v51", "198.51.100.9") in a.garp.sent  # taught from the VMAC
    finally:
        await a.group.stop()
    assert vmacs.closed and not a.addrs.addrs["v51"]
