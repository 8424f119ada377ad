"""[lvstui.announce] and a virtual_server's `announce`: loaded, validated, linted, dumped."""

from __future__ import annotations

import pytest

from lvstui.config.announce import AnnounceHandoff, RoutingDaemon
from lvstui.config.dump import to_toml_dict
from lvstui.config.lint import HostFacts, lint
from lvstui.config.load import ConfigErrors, load_config_text
from lvstui.config.schema import AnnounceMode, AnnounceSettings

VS = """
[[virtual_server]]
ip = "{ip}"
port = {port}
lb_algo = "{algo}"
{extra}
"""
REAL = """
[[virtual_server.real_server]]
ip = "192.0.2.{n}"
port = 80
"""


def cfg_text(head: str, *services: tuple[str, int, str, str], reals: int = 1) -> str:
    out = head
    for ip, port, algo, extra in services:
        out += VS.format(ip=ip, port=port, algo=algo, extra=extra)
        out += "".join(REAL.format(n=n + 10) for n in range(reals))
    return out


BGP_HEAD = '[lvstui.announce]\nmode = "bgp"\n'


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        load_config_text(text, "bad.toml")
    return [f"{e.key}: {e}" for e in info.value.errors]


def test_defaults_are_vrrp_and_table_245() -> None:
    cfg = load_config_text(cfg_text("", ("198.51.100.1", 80, "rr", "")))
    assert cfg.lvstui.announce == AnnounceSettings()
    assert cfg.lvstui.announce.mode is AnnounceMode.VRRP
    assert cfg.virtual_servers[0].announce is None


def test_settings_and_per_service_choice_load_and_dump_back() -> None:
    head = (
        '[lvstui.announce]\nmode = "bgp"\ntable = 100\nprotocol = 201\ndevice = "lb0"\n'
        'daemon = "frr"\ndaemon_socket = "/run/frr"\n'
    )
    text = cfg_text(
        head,
        ("198.51.100.1", 80, "mh", ""),
        ("198.51.100.2", 80, "rr", 'announce = "vrrp"'),
    )
    cfg = load_config_text(text)
    # with FRR the handoff defaults to the address on the device (docs/bgp.md)
    assert cfg.lvstui.announce == AnnounceSettings(
        AnnounceMode.BGP,
        100,
        201,
        "lb0",
        RoutingDaemon.FRR,
        "/run/frr",
        handoff=AnnounceHandoff.ADDRESS,
    )
    assert [vs.announce for vs in cfg.virtual_servers] == [None, AnnounceMode.VRRP]
    dumped = to_toml_dict(cfg)
    assert dumped["lvstui"]["announce"] == {
        "mode": "bgp",
        "table": 100,
        "protocol": 201,
        "device": "lb0",
        "daemon": "frr",
        "daemon_socket": "/run/frr",
        "handoff": "address",
    }
    assert load_config_text(text).lvstui.announce == cfg.lvstui.announce
    assert dumped["virtual_server"][1]["announce"] == "vrrp"
    assert "announce" not in dumped["virtual_server"][0]


@pytest.mark.parametrize(
    ("settings", "wanted"),
    [
        ('mode = "ospf"', "expected one of vrrp, bgp"),
        ("table = 254", "the kernel's own"),
        ("table = 0", "lvstui.announce.table"),
        ("protocol = 2", "lvstui.announce.protocol"),
        ('device = "a-very-long-device"', "not an interface name"),
        ("tabel = 5", "tabel"),
        ('daemon = "quagga"', "expected one of none, bird, frr"),
        ("drain_settle = -1", "lvstui.announce.drain_settle"),
        ("drain_settle = 90000", "lvstui.announce.drain_settle"),
        ('drain_settle = "10s"', "expected a number of seconds"),
        ('handoff = "import-table"', "expected one of route, address"),
    ],
)
def test_bad_settings_are_refused(settings: str, wanted: str) -> None:
    text = cfg_text(f"[lvstui.announce]\n{settings}\n", ("198.51.100.1", 80, "mh", ""))
    assert any(wanted in e for e in errors(text)), errors(text)


def test_drain_settle_is_read_and_defaults_to_ten_seconds() -> None:
    assert AnnounceSettings().drain_settle == 10.0
    text = cfg_text("[lvstui.announce]\ndrain_settle = 2.5\n", ("198.51.100.1", 80, "mh", ""))
    cfg = load_config_text(text)
    assert cfg.lvstui.announce.drain_settle == 2.5
    assert to_toml_dict(cfg)["lvstui"]["announce"]["drain_settle"] == 2.5


@pytest.mark.parametrize(
    ("settings", "wanted"),
    [
        ("", AnnounceHandoff.ROUTE),
        ('daemon = "bird"', AnnounceHandoff.ROUTE),
        ('daemon = "frr"', AnnounceHandoff.ADDRESS),
        ('daemon = "frr"\nhandoff = "route"', AnnounceHandoff.ROUTE),  # import-table kept
        ('daemon = "none"\nhandoff = "address"', AnnounceHandoff.ADDRESS),
    ],
)
def test_handoff_follows_the_daemon_unless_set(settings: str, wanted: AnnounceHandoff) -> None:
    text = cfg_text(f"{BGP_HEAD}{settings}\n", ("198.51.100.1", 80, "mh", ""))
    assert load_config_text(text).lvstui.announce.handoff is wanted


def test_services_on_one_vip_must_agree() -> None:
    text = cfg_text(
        "",
        ("198.51.100.1", 80, "mh", 'announce = "bgp"'),
        ("198.51.100.1", 443, "mh", ""),
    )
    (e,) = errors(text)
    assert e.startswith("virtual_server[1].announce:")
    assert "by bgp in virtual_server[0] but by vrrp here" in e


def test_fwmark_service_cannot_be_announced() -> None:
    text = '[[virtual_server]]\nfwmark = 3\nannounce = "bgp"\n'
    assert any("no address to announce" in e for e in errors(text))


def bgp_findings(text: str, host: HostFacts | None = None) -> list[str]:
    return [f"{f.key}: {f.message}" for f in lint(load_config_text(text), host) if f.topic == "bgp"]


def test_lint_bgp_needs_a_consistent_scheduler() -> None:
    found = bgp_findings(cfg_text(BGP_HEAD, ("198.51.100.1", 80, "wlc", "")))
    assert len(found) == 1 and "lb_algo = 'wlc'" in found[0]
    assert bgp_findings(cfg_text(BGP_HEAD, ("198.51.100.1", 80, "sh", ""))) == []
    # the same service by vrrp: no bgp finding
    assert bgp_findings(cfg_text("", ("198.51.100.1", 80, "wlc", ""))) == []


def test_lint_mh_with_more_real_servers_than_it_spreads_evenly() -> None:
    assert bgp_findings(cfg_text(BGP_HEAD, ("198.51.100.1", 80, "mh", ""), reals=40)) == []
    (found,) = bgp_findings(cfg_text(BGP_HEAD, ("198.51.100.1", 80, "mh", ""), reals=41))
    assert "41 real servers" in found


def test_lint_sloppy_tcp_off() -> None:
    text = cfg_text(BGP_HEAD, ("198.51.100.1", 80, "mh", ""))
    (found,) = bgp_findings(text, HostFacts(sloppy_tcp=False))
    assert "sloppy_tcp = 0" in found
    assert bgp_findings(text, HostFacts(sloppy_tcp=True)) == []
    assert bgp_findings(text, HostFacts(sloppy_tcp=None)) == []  # unknown: no IPVS here


def test_lint_vip_held_as_an_address_with_the_address_handoff() -> None:
    # FRR's zebra would select the interface's connected /32 over lvstui's device
    frr = cfg_text(BGP_HEAD + 'handoff = "address"\n', ("198.51.100.1", 80, "mh", ""))
    held = HostFacts(addresses=frozenset({"198.51.100.1", "127.0.0.1"}))
    (found,) = bgp_findings(frr, held)
    assert "an address on an interface" in found
    (finding,) = [f for f in lint(load_config_text(frr), held) if f.topic == "bgp"]
    assert "ip route add local 198.51.100.1 dev lo" in finding.hint
    assert bgp_findings(frr, HostFacts(addresses=frozenset({"127.0.0.1"}))) == []
    assert bgp_findings(frr, HostFacts(addresses=None)) == []  # not read
    # BIRD's route handoff does not mind the VIP on lo (its usual place)
    bird = cfg_text(BGP_HEAD, ("198.51.100.1", 80, "mh", ""))
    assert bgp_findings(bird, held) == []


def test_lint_bgp_vip_also_in_vrrp() -> None:
    head = (
        BGP_HEAD + '[vrrp_instance.a]\ninterface = "eth0"\nvirtual_router_id = 1\n'
        'virtual_ipaddress = ["198.51.100.1"]\n'
    )
    (found,) = bgp_findings(cfg_text(head, ("198.51.100.1", 80, "mh", "")))
    assert "also a VRRP address" in found
    # and a bgp VIP outside every vrrp_instance is not "missing"
    head2 = BGP_HEAD + '[vrrp_instance.a]\ninterface = "eth0"\nvirtual_router_id = 1\n'
    head2 += 'virtual_ipaddress = ["198.51.100.9"]\n'
    findings = lint(load_config_text(cfg_text(head2, ("198.51.100.1", 80, "mh", ""))))
    assert not [f for f in findings if f.topic == "vip-missing"]
