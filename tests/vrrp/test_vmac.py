"""use_vmac in the configuration, the import and on the in-memory twins (the lab runs it
against keepalived: tests/vrrp/test_lab_netconf.py)."""

from __future__ import annotations

import pytest

from lvstui.clock import FakeClock
from lvstui.config.keepalived.importer import import_keepalived_text
from lvstui.config.load import ConfigErrors, load_config_text
from lvstui.config.schema import Config
from lvstui.model import VrrpRunState as S
from lvstui.netfilter.sysctl import MemorySysctls
from lvstui.vrrp.transport import MemoryHub
from lvstui.vrrp.vmac import MemoryVmacs, VmacFirst, vmac_address, vmac_spec, xmit_interface
from lvstui.vrrp.vmac_sysctl import VmacSysctls, link_local_for
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
        ("ipv6", "vrrp.51"),  # IPv6 too, from the VMAC's link-local address
    ],
)
def test_adverts_use_the_vmac_unless_xmit_base(extra: str, where: str) -> None:
    text = BASE + "use_vmac = true\n" + extra
    if extra == "ipv6":
        text = BASE.replace("198.51.100.9/24", "2001:db8::9/64") + "version = 3\nuse_vmac = true\n"
    (one,) = load_config_text(text).vrrp_instances
    assert xmit_interface(one) == where
    plain = load_config_text(BASE).vrrp_instances[0]
    assert xmit_interface(plain) == "eth0"


def test_import_takes_use_vmac_as_keepalived_runs_it() -> None:
    text = (
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n use_vmac\n"
        " virtual_ipaddress {\n  198.51.100.9/24\n }\n}\n"
    )
    res = import_keepalived_text(text, "k", config_id="x")
    assert res.config.vrrp_instances[0].use_vmac == "vrrp.51"
    assert not res.notes  # IPv4 and IPv6 adverts leave as keepalived's do: nothing to say


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


def test_the_spec_says_what_the_vmac_needs() -> None:
    v4 = load_config_text(BASE + "use_vmac = true\n").vrrp_instances[0]
    spec = vmac_spec(v4)
    assert (spec.family, spec.ipv6, spec.link_local) == (4, False, False)
    both = BASE + 'use_vmac = true\nvirtual_ipaddress_excluded = ["2001:db8::9/64"]\n'
    assert vmac_spec(load_config_text(both).vrrp_instances[0]).ipv6  # IPv6 VIPs: IPv6 on
    v6 = BASE.replace("198.51.100.9/24", "2001:db8::9/64") + "version = 3\nuse_vmac = true\n"
    spec = vmac_spec(load_config_text(v6).vrrp_instances[0])
    assert (spec.mac, spec.family, spec.ipv6, spec.link_local) == (
        "00:00:5e:00:02:33",
        6,
        True,
        True,
    )
    base = load_config_text(v6 + "vmac_xmit_base = true\n").vrrp_instances[0]
    assert not vmac_spec(base).link_local  # adverts from the base: nothing to add


def test_link_local_fallback_is_eui64_of_the_base_mac() -> None:
    assert link_local_for("02:00:00:00:00:03") == "fe80::ff:fe00:3"
    assert link_local_for("52:54:00:12:34:56") == "fe80::5054:ff:fe12:3456"


def _sysctls(all_rp: str) -> MemorySysctls:
    keys = {"net.ipv4.conf.all.rp_filter": all_rp, "net.ipv4.conf.default.rp_filter": "0"}
    for dev in ("eth0", "eth1", "vrrp/51"):
        for k in ("rp_filter", "arp_ignore", "arp_filter", "accept_local", "promote_secondaries"):
            keys[f"net.ipv4.conf.{dev}.{k}"] = "0"
        keys[f"net.ipv6.conf.{dev}.disable_ipv6"] = "0"
        keys[f"net.ipv6.conf.{dev}.addr_gen_mode"] = "0"
    keys["net.ipv4.conf.eth1.rp_filter"] = "2"
    return MemorySysctls(keys)


def test_settings_around_an_ipv4_vmac_and_rp_filter_moved_off_all() -> None:
    """keepalived's: the VMAC's own settings, the base's ARP ones, and all.rp_filter (1 here)
    moved onto default and every interface that had less, so the VMAC's 0 counts; all put
    back at stop, except what someone changed meanwhile."""
    sc = _sysctls("1")
    st = VmacSysctls(sc, lambda: ["lo", "eth0", "eth1", "vrrp.51"])
    spec = vmac_spec(load_config_text(BASE + "use_vmac = true\n").vrrp_instances[0])
    before = dict(sc.values)
    st.before_up(spec)
    v = sc.values
    assert v["net.ipv4.conf.all.rp_filter"] == "0"
    assert v["net.ipv4.conf.default.rp_filter"] == "1"
    assert v["net.ipv4.conf.eth0.rp_filter"] == "1"  # raised to all's value
    assert v["net.ipv4.conf.eth1.rp_filter"] == "2"  # had more: left alone
    vmac = {k.split(".")[-1]: x for k, x in v.items() if ".vrrp/51." in k}
    assert vmac == {
        "rp_filter": "0",
        "arp_ignore": "1",
        "arp_filter": "0",
        "accept_local": "1",
        "promote_secondaries": "1",
        "disable_ipv6": "1",  # an IPv4 instance without IPv6 VIPs
        "addr_gen_mode": "0",
    }
    assert (v["net.ipv4.conf.eth0.arp_ignore"], v["net.ipv4.conf.eth0.arp_filter"]) == ("1", "1")
    v["net.ipv4.conf.eth0.arp_filter"] = "2"  # someone else's change: kept
    st.restore()
    changed = {k for k in v if v[k] != before[k] and "vrrp/51" not in k}
    assert changed == {"net.ipv4.conf.eth0.arp_filter"}


def test_settings_around_an_ipv6_vmac() -> None:
    sc = _sysctls("0")
    st = VmacSysctls(sc, lambda: ["eth0", "vrrp.51"])
    v6 = BASE.replace("198.51.100.9/24", "2001:db8::9/64") + "version = 3\nuse_vmac = true\n"
    st.before_up(vmac_spec(load_config_text(v6).vrrp_instances[0]))
    v = sc.values
    assert v["net.ipv6.conf.vrrp/51.addr_gen_mode"] == "1"  # no address from the virtual MAC
    assert v["net.ipv6.conf.vrrp/51.disable_ipv6"] == "0"
    assert v["net.ipv4.conf.vrrp/51.arp_ignore"] == "1"
    assert v["net.ipv4.conf.vrrp/51.rp_filter"] == "0"  # IPv4 settings: not touched
    assert v["net.ipv4.conf.eth0.arp_ignore"] == "0"  # nor the base's
    assert not st.saved  # all.rp_filter was 0: nothing to move
