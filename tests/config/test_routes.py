"""Routes and rules in the configuration: iproute2's words, errors naming the entry, the
TOML round trip, and the keepalived import (compared with `keepalived -t` where it runs)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from lvstui.config.dump import to_toml_dict
from lvstui.config.keepalived.importer import import_keepalived_text
from lvstui.config.load import ConfigErrors, load_config_data, load_config_text
from lvstui.config.routes import IpRoute, IpRule, parse_route, parse_rule, route_text, rule_text


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("192.0.2.0/24 via 198.51.100.1", IpRoute("192.0.2.0/24", via="198.51.100.1")),
        ("to 192.0.2.7 dev eth0 table main", IpRoute("192.0.2.7/32", dev="eth0", table=254)),
        ("default gw 198.51.100.1 metric 5", IpRoute("0.0.0.0/0", via="198.51.100.1", metric=5)),
        ("inet6 default via 2001:db8::1", IpRoute("::/0", via="2001:db8::1")),
        ("blackhole 198.18.0.0/15 table 7", IpRoute("198.18.0.0/15", type="blackhole", table=7)),
        (
            "192.0.2.0/25 dev eth0 src 192.0.2.1 scope link protocol static onlink",
            IpRoute(
                "192.0.2.0/25", dev="eth0", src="192.0.2.1", scope="link", proto=4, onlink=True
            ),
        ),
    ],
)
def test_routes_parse_and_print_back(text: str, route: IpRoute) -> None:
    assert parse_route(text) == route
    assert parse_route(route_text(route)) == route


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("from 198.51.100.9 table 100", IpRule(src="198.51.100.9/32", table=100)),
        ("from all fwmark 3/0xff lookup 7 pref 9", IpRule(fwmark=3, fwmask=255, table=7,
                                                           priority=9)),
        ("to 2001:db8::/32 iif eth0 table 6", IpRule(dst="2001:db8::/32", iif="eth0", table=6,
                                                     family=6)),
        ("inet6 oif eth1 prohibit", IpRule(oif="eth1", action="prohibit", family=6)),
    ],
)  # fmt: skip
def test_rules_parse_and_print_back(text: str, rule: IpRule) -> None:
    assert parse_rule(text) == rule
    assert parse_rule(rule_text(rule)) == rule


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("192.0.2.0/24", "needs `via ADDR` or `dev DEV`"),
        ("192.0.2.0/24 via 2001:db8::1", "not IPv4"),
        ("blackhole 192.0.2.0/24 dev eth0", "no next hop"),
        ("192.0.2.0/24 via 198.51.100.1 mtu 1400", "unknown word 'mtu'"),
        ("192.0.2.0/24 dev eth0 scope wide", "scope must be"),
        ("192.0.2.0/24 dev eth0 table x", "table needs a number"),
    ],
)
def test_bad_routes_say_why(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why.replace("(", r"\(").replace(")", r"\)")):
        parse_route(text)


def test_bad_rules_say_why() -> None:
    with pytest.raises(ValueError, match="needs `table N`"):
        parse_rule("from 192.0.2.1")
    with pytest.raises(ValueError, match="IPv4 and IPv6"):
        parse_rule("from 192.0.2.1 to 2001:db8::1 table 5")
    with pytest.raises(ValueError, match="unknown word 'goto'"):
        parse_rule("from 192.0.2.1 goto 5")


TOML = """
[global_defs]
static_ipaddress = ["192.0.2.5/24 dev eth1"]
static_routes = ["192.0.2.128/25 via 192.0.2.1"]
static_rules = ["from 192.0.2.0/24 table 101 priority 201"]

[vrrp_instance.VI_1]
interface = "eth0"
virtual_router_id = 51
virtual_ipaddress = ["198.51.100.9/24"]
virtual_routes = ["203.0.113.0/24 via 198.51.100.1 dev eth0"]
virtual_rules = ["from 198.51.100.9 table 100 priority 200"]
"""


def test_toml_round_trip() -> None:
    cfg = load_config_text(TOML)
    route = parse_route("203.0.113.0/24 via 198.51.100.1 dev eth0")
    assert cfg.vrrp_instances[0].virtual_routes == (route,)
    assert cfg.global_defs.static_rules[0].priority == 201
    again = load_config_data(to_toml_dict(cfg), "<string>")
    assert again.global_defs == cfg.global_defs and again.vrrp_instances == cfg.vrrp_instances


def test_load_errors_name_the_entry() -> None:
    text = TOML.replace('"192.0.2.5/24 dev eth1"', '"192.0.2.5/24"').replace(
        'virtual_routes = ["', 'virtual_routes = ["mtu 9000 '
    )
    with pytest.raises(ConfigErrors) as exc:
        load_config_text(text, "c.toml")
    msgs = [(e.key, e.line, e.detail) for e in exc.value.errors]
    assert msgs[0][:2] == ("global_defs.static_ipaddress[0]", 3)
    assert "needs `dev DEV`" in msgs[0][2]
    assert msgs[1][:2] == ("vrrp_instance.VI_1.virtual_routes[0]", 11)


KA = """
global_defs {
    router_id lb1
}
static_ipaddress {
    192.0.2.5/24 dev lo
    192.0.2.6/24
}
static_routes {
    192.0.2.128/25 via 192.0.2.1 dev lo
    10.9.0.0/16 via 192.0.2.1 nexthop via 192.0.2.2
}
static_rules {
    from 192.0.2.0/24 table 7 preference 100
    to 198.18.0.0/15 table 8
}
vrrp_instance VI_1 {
    interface lo
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        198.51.100.9/24
    }
    virtual_routes {
        src 198.51.100.9 to 203.0.113.0/24 via 198.51.100.1 dev lo
        blackhole 203.0.114.0/24 no_track
    }
    virtual_rules {
        from 198.51.100.9 table 100 no_track
    }
}
"""


def test_import_keeps_what_it_takes_and_notes_the_rest(tmp_path) -> None:
    res = import_keepalived_text(KA, "ka.conf", config_id="x")
    gd = res.data["global_defs"]
    assert gd["static_ipaddress"] == ["192.0.2.5/24 dev lo", "192.0.2.6/24 dev eth0"]
    assert gd["static_routes"] == ["192.0.2.128/25 via 192.0.2.1 dev lo"]
    # keepalived numbers rules without a preference from 16384 down, per family
    assert gd["static_rules"][1] == "to 198.18.0.0/15 table 8 priority 16384"
    vi = res.data["vrrp_instance"]["VI_1"]
    assert vi["virtual_routes"][1] == "blackhole 203.0.114.0/24"
    assert vi["virtual_rules"] == ["from 198.51.100.9 table 100 priority 16383"]
    notes = "\n".join(map(str, res.notes))
    assert "ka.conf:7: 192.0.2.6/24: no dev: on keepalived's default_interface, eth0" in notes
    assert "ka.conf:11: static_routes: 10.9.0.0/16: unknown word 'nexthop'" in notes
    assert "ka.conf:24: virtual_routes: without no_track" in notes  # one route is tracked
    assert "virtual_rules: without no_track" not in notes
    assert "ka.conf:29: virtual_rules: no preference: written as priority 16383" in notes
    assert res.config.vrrp_instances[0].virtual_rules[0].priority == 16383
    if shutil.which("keepalived") is None:
        return
    # keepalived itself loads the file, and numbers the rules the same way
    path = tmp_path / "ka.conf"
    path.write_text(KA)
    r = subprocess.run(["keepalived", "-t", "-f", str(path)], capture_output=True, text=True)
    assert "Rule has no preference specified - setting to 16384" in r.stderr
    assert "setting to 16383" in r.stderr
    assert "Unknown keyword" not in r.stderr
