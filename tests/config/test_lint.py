"""Lint: each of the tutorial's pitfalls is found, and a clean config stays quiet."""

from __future__ import annotations

from lvstui.config.lint import Finding, Level, check_worst_case, lint
from lvstui.config.load import load_config_text
from lvstui.config.schema import MiscCheck

CLEAN = """\
[lvstui]
directors = 2

[vrrp_instance.a]
interface = "eth0"
virtual_router_id = 1
virtual_ipaddress = ["192.0.2.9"]

[[virtual_server]]
ip = "192.0.2.9"
port = 80
lb_algo = "rr"
delay_loop = 10

[[virtual_server.real_server]]
ip = "192.0.2.98"
port = 80

[[virtual_server.real_server.tcp_check]]
connect_timeout = 2
"""


def findings(text: str) -> list[Finding]:
    return lint(load_config_text(text))


def warnings(text: str) -> list[Finding]:
    return [f for f in findings(text) if f.level is Level.WARNING]


def test_clean_config_has_no_warning_only_the_check_load() -> None:
    fs = findings(CLEAN)
    assert [f.level for f in fs] == [Level.INFO]
    # one TCP check every 10 s from each of 2 directors
    assert fs[0].key == "virtual_server[0].real_server[0]"
    assert "0.2 checks per second (0.1 from each of 2 directors)" in fs[0].message


def test_check_load_scales_with_directors() -> None:
    fs = findings(CLEAN.replace("directors = 2", "directors = 3"))
    assert "0.3 checks per second" in fs[0].message


def test_vip_missing_from_every_instance() -> None:
    (w,) = warnings(CLEAN.replace('ip = "192.0.2.9"', 'ip = "192.0.2.10"'))
    assert w.key == "virtual_server[0].ip"
    assert "192.0.2.10 is in no vrrp_instance" in w.message
    assert "5 minutes" in w.hint


def test_vip_without_vrrp_is_only_information() -> None:
    text = CLEAN.replace(
        '[vrrp_instance.a]\ninterface = "eth0"\nvirtual_router_id = 1\n'
        'virtual_ipaddress = ["192.0.2.9"]\n',
        "",
    )
    fs = findings(text)
    assert not [f for f in fs if f.level is Level.WARNING]
    assert any(f.key == "virtual_server[0].ip" and "no vrrp_instance" in f.message for f in fs)


def test_duplicate_vrid_same_interface_same_family() -> None:
    dup = CLEAN + (
        '[vrrp_instance.b]\ninterface = "eth0"\nvirtual_router_id = 1\n'
        'virtual_ipaddress = ["192.0.2.19"]\n'
    )
    (w,) = warnings(dup)
    assert w.key == "vrrp_instance.b.virtual_router_id"
    assert "also used by instance 'a'" in w.message
    # another interface, or another family, is a different VRRP router
    assert not warnings(
        dup.replace(
            'interface = "eth0"\nvirtual_router_id = 1\nvirtual_ipaddress = ["192.0.2.19"]',
            'interface = "eth1"\nvirtual_router_id = 1\nvirtual_ipaddress = ["192.0.2.19"]',
        )
    )
    v6 = dup.replace('["192.0.2.19"]', '["2001:db8::19"]\nversion = 3')
    assert not warnings(v6)


def test_check_slower_than_its_period() -> None:
    # 3 s × 2 tries + 1 s = 7 s, not below delay_loop 6 (the tutorial's own numbers)
    text = CLEAN.replace("delay_loop = 10", "delay_loop = 6").replace(
        "connect_timeout = 2", "connect_timeout = 3"
    )
    (w,) = warnings(text)
    assert w.key == "virtual_server[0].real_server[0].tcp_check[0]"
    assert "7 s" in w.message and "6 s" in w.message
    # retry 0 makes the worst case 3 s: fine
    assert not warnings(text + "retry = 0\n")


def test_misc_check_worst_case_uses_misc_timeout() -> None:
    check = MiscCheck(misc_path="/bin/true", misc_timeout=15)
    assert check_worst_case(check, 60.0) == (31.0, 60.0)
    text = CLEAN.replace(
        "[[virtual_server.real_server.tcp_check]]\nconnect_timeout = 2\n",
        '[[virtual_server.real_server.misc_check]]\nmisc_path = "/bin/true"\nmisc_timeout = 15\n',
    )
    (w,) = warnings(text)
    assert w.key == "virtual_server[0].real_server[0].misc_check[0]"


def test_pass_authentication_in_clear() -> None:
    text = CLEAN.replace(
        "virtual_router_id = 1\n",
        'virtual_router_id = 1\nauthentication = { auth_type = "PASS", auth_pass = "1111" }\n',
    )
    (w,) = warnings(text)
    assert w.key == "vrrp_instance.a.authentication.auth_type"
    assert "clear" in w.message


def test_more_than_20_vips() -> None:
    vips = ", ".join(f'"192.0.2.{i}"' for i in range(9, 31))
    (w,) = warnings(CLEAN.replace('["192.0.2.9"]', f"[{vips}]"))
    assert w.key == "vrrp_instance.a.virtual_ipaddress"
    assert "22 addresses" in w.message


def test_compensating_scheduler_with_only_tcp_checks() -> None:
    (w,) = warnings(CLEAN.replace('lb_algo = "rr"', 'lb_algo = "wlc"'))
    assert w.key == "virtual_server[0].lb_algo"
    assert "answers fast" in w.message
    with_http = CLEAN.replace('lb_algo = "rr"', 'lb_algo = "lc"') + (
        "[[virtual_server.real_server.http_get]]\nconnect_timeout = 2\n"
        '[[virtual_server.real_server.http_get.url]]\npath = "/"\n'
    )
    assert not warnings(with_http)


def test_dr_reminder_and_digest_information() -> None:
    text = CLEAN.replace('lb_algo = "rr"', 'lb_algo = "rr"\nlb_kind = "DR"') + (
        "[[virtual_server.real_server.http_get]]\nconnect_port = 8080\nconnect_timeout = 2\n"
        '[[virtual_server.real_server.http_get.url]]\npath = "/t.php"\n'
        'digest = "5f1a4b7e269b7f5ddf6bbce06856c1e8"\n'
    )
    infos = {f.key: f for f in findings(text) if f.level is Level.INFO}
    dr = infos["virtual_server[0].lb_kind"]
    assert "lvstui realserver --vip 192.0.2.9" in dr.hint
    digest = infos["virtual_server[0].real_server[0].http_get[0].url[0].digest"]
    assert "lvstui genhash -s 192.0.2.98 -p 8080 -u /t.php" in digest.hint


def test_quorum_above_total_weight() -> None:
    (w,) = warnings(CLEAN.replace("delay_loop = 10", "delay_loop = 10\nquorum = 30"))
    assert w.key == "virtual_server[0].quorum"
    assert "total weight of all real servers (1)" in w.message


def test_userspace_dataplane_cannot_do_dr() -> None:
    text = CLEAN.replace("directors = 2", 'directors = 2\ndataplane = "userspace"')
    assert not warnings(text)
    (w,) = warnings(text.replace('lb_algo = "rr"', 'lb_algo = "rr"\nlb_kind = "DR"'))
    assert w.key == "virtual_server[0].lb_kind"
    assert "cannot do DR" in w.message


def test_fwmark_check_without_a_port() -> None:
    fw = CLEAN.replace('ip = "192.0.2.9"\nport = 80\n', "fwmark = 3\n").replace(
        'ip = "192.0.2.98"\nport = 80\n', 'ip = "192.0.2.98"\n'
    )
    (w,) = warnings(fw)
    assert (w.key, w.topic) == ("virtual_server[0].real_server[0].tcp_check[0]", "check-no-port")
    assert "connect to port 0" in w.message
    assert (
        warnings(fw.replace("connect_timeout = 2", "connect_timeout = 2\nconnect_port = 443")) == []
    )


# --- options a dataplane ignores, and what the host must provide -----------------------------


def _with_dataplane(dataplane: str, extra: str) -> str:
    text = CLEAN.replace("directors = 2", f'directors = 2\ndataplane = "{dataplane}"')
    return text.replace("delay_loop = 10\n", f"delay_loop = 10\n{extra}")


def test_userspace_only_options_are_warned_about_where_ipvs_runs() -> None:
    extra = "proxy_protocol = 2\napp_hash = true\nudp_idle_timeout = 30\n"
    ws = [w for w in warnings(_with_dataplane("ipvs", extra)) if w.topic == "ipvs-ignores"]
    assert [w.key for w in ws] == [
        "virtual_server[0].proxy_protocol",
        "virtual_server[0].app_hash",
        "virtual_server[0].udp_idle_timeout",
    ]
    assert all("ignored with the IPVS dataplane" in w.message for w in ws)
    (auto,) = [
        w
        for w in warnings(_with_dataplane("auto", "app_hash = true\n"))
        if w.topic == "ipvs-ignores"
    ]
    assert 'dataplane "auto" on a kernel with IPVS' in auto.message
    assert not [
        w for w in warnings(_with_dataplane("userspace", extra)) if w.topic == "ipvs-ignores"
    ]


def test_nat_director_without_ip_forward_is_a_finding() -> None:
    from lvstui.config.lint import HostFacts

    cfg = load_config_text(CLEAN)  # lb_kind NAT by default, dataplane auto
    off = [f for f in lint(cfg, HostFacts(ip_forward=False)) if f.topic == "nat-forwarding"]
    (w,) = off
    assert w.level is Level.WARNING and w.key == "virtual_server[0].lb_kind"
    assert "net.ipv4.ip_forward = 1" in w.message and "lvstui director" in w.hint
    assert not [f for f in lint(cfg, HostFacts(ip_forward=True)) if f.topic == "nat-forwarding"]
    assert not [f for f in lint(cfg, HostFacts()) if f.topic == "nat-forwarding"]  # unknown
    dr = load_config_text(CLEAN.replace('lb_algo = "rr"', 'lb_algo = "rr"\nlb_kind = "DR"'))
    assert not [f for f in lint(dr, HostFacts(ip_forward=False)) if f.topic == "nat-forwarding"]
    proxy = load_config_text(_with_dataplane("userspace", ""))  # a proxy: no forwarding needed
    assert not [f for f in lint(proxy, HostFacts(ip_forward=False)) if f.topic == "nat-forwarding"]


def test_lvs_timeouts_on_the_userspace_dataplane_is_a_warning() -> None:
    text = _with_dataplane("userspace", "") + "\n[global_defs.lvs_timeouts]\ntcp = 7200\n"
    (w,) = [f for f in warnings(text) if f.topic == "ipvs-only"]
    assert w.key == "global_defs.lvs_timeouts" and "userspace dataplane ignores" in w.message
    assert not [f for f in warnings(text.replace("userspace", "ipvs")) if f.topic == "ipvs-only"]


def test_lvs_sync_daemon_on_the_userspace_dataplane_is_a_warning() -> None:
    sync = 'lvs_sync_daemon = { interface = "eth0", instance = "a" }\n'
    text = "[global_defs]\n" + sync + _with_dataplane("userspace", "")
    (w,) = [f for f in warnings(text) if f.topic == "ipvs-only"]
    assert w.key == "global_defs.lvs_sync_daemon" and "userspace dataplane has none" in w.message
    assert not [f for f in warnings(text.replace("userspace", "ipvs")) if f.topic == "ipvs-only"]
