"""keepalived.conf files as operators write them, imported without a crash or a silent loss.

The fixtures under fixtures/realworld/ are our own small files; each reproduces constructs
found in public keepalived.conf files (keepalived's own samples, haproxy/Kubernetes HA
guides, 1.x-era tutorials, configuration-management templates). For every fixture:

* import → dump as TOML → load with our loader gives the same model, and the lint runs;
* every directive line of the file is either converted (the importer maps a key path to
  it) or named in a note: nothing is dropped silently;
* the fixture's own expectations (the model, and which lines get notes) hold;
* `keepalived -t` agrees: clean where we say the file is valid keepalived syntax, or it
  reports the same thing we do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import tomli_w

from lvstui.config.dump import to_toml_dict, vip_text
from lvstui.config.keepalived import (
    ImportResult,
    import_keepalived,
)
from lvstui.config.lint import lint
from lvstui.config.load import ConfigErrors, load_config_text
from lvstui.config.routes import route_text
from lvstui.config.schema import (
    AuthType,
    Config,
    DnsCheck,
    HttpCheck,
    LbKind,
    MiscCheck,
    PingCheck,
    Protocol,
    SmtpCheck,
    StatusRange,
    TcpCheck,
    TrackWeight,
    VrrpState,
)
from tests.config.kaimport import keepalived_t, silent_lines

FIX = Path(__file__).parent / "fixtures" / "realworld"
GOOD = sorted(p.name for p in FIX.glob("*.conf") if p.name != "dr_port_change.conf")
# keepalived's -i for `@ID` lines; set explicitly so the host's name does not matter
CONFIG_ID = {"conditional.conf": "lb1"}


def _notes_at(result: ImportResult, name: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for n in result.notes:
        if Path(n.file).name == name:
            out.setdefault(n.line, []).append(n.message)
    return out


def _has(notes: dict[int, list[str]], line: int, fragment: str) -> bool:
    return any(fragment in m for m in notes.get(line, []))


# --- per-fixture expectations -------------------------------------------------------------


def _dr_http_multi_url(c: Config, r: ImportResult) -> None:
    assert c.global_defs.notification_email == ("ops@example.com", "oncall@example.com")
    (vs,) = c.virtual_servers
    assert (vs.lb_kind, vs.lb_algo, vs.delay_loop) == (LbKind.DR, "wrr", 2.5)
    a, b = vs.real_servers
    assert (a.weight, b.weight) == (3, 1)  # no weight: keepalived's 1
    (http,) = a.checks
    assert isinstance(http, HttpCheck)
    assert [(u.path, u.status_code, u.digest) for u in http.urls] == [
        ("/healthz", (StatusRange(200, 200),), None),
        ("/ready", (StatusRange(204, 204),), None),
    ]
    assert http.common.retry == 2  # nb_get_retry
    (http_b,) = b.checks
    assert isinstance(http_b, HttpCheck) and http_b.common.connect_port == 8080
    assert not r.notes


def _nat_ssl_get(c: Config, r: ImportResult) -> None:
    (inst,) = c.vrrp_instances
    assert (inst.auth_type, inst.nopreempt, inst.state) == (AuthType.AH, True, VrrpState.BACKUP)
    (vs,) = c.virtual_servers
    assert (vs.persistence_timeout, vs.persistence_granularity) == (600, "255.255.255.0")
    assert vs.virtualhost == "www.example.com"
    rs = vs.real_servers[0]
    assert rs.port == 8443 and vs.port == 443  # NAT may change the port
    assert rs.notify_up == "/usr/local/bin/rs-event up 198.51.100.21"
    (ssl,) = rs.checks
    assert isinstance(ssl, HttpCheck) and ssl.tls
    assert [u.digest for u in ssl.urls] == [
        "ff20ad2481f97b1754ef3e12ecd3a9cc",
        "9b3a0c85a887a256d6939da88aabd8cd",
    ]
    assert not r.notes


def _fwmark_dr(c: Config, r: ImportResult) -> None:
    (vs,) = c.virtual_servers
    assert (vs.fwmark, vs.ip, vs.lb_kind, vs.persistence_timeout) == (21, None, LbKind.DR, 50)
    a, b = vs.real_servers
    assert (a.port, b.port) == (0, 0)  # keepalived clears the port on fwmark services
    assert [rs.checks[0].common.connect_port for rs in (a, b)] == [443, 443]
    assert [(n.line, n.message) for n in r.notes] == [
        (
            25,
            "keepalived clears a real server's port on a fwmark service; port 0 here, "
            "and 443 kept as the checks' connect_port",
        )
    ]


def _virtual_server_group(c: Config, r: ImportResult) -> None:
    idents = [(vs.ip, vs.port, vs.fwmark) for vs in c.virtual_servers]
    assert idents == [
        ("192.0.2.10", 80, None),
        ("192.0.2.11", 80, None),
        ("192.0.2.20", 80, None),
        ("192.0.2.21", 80, None),
        ("192.0.2.22", 80, None),
        (None, 0, 7),
    ]
    for vs in c.virtual_servers:  # the block's settings on every one
        assert (vs.lb_algo, vs.lb_kind, vs.delay_loop) == ("rr", LbKind.DR, 6.0)
        assert [rs.ip for rs in vs.real_servers] == ["198.51.100.41"]
    fwm = c.virtual_servers[-1].real_servers[0]
    assert (fwm.port, fwm.checks[0].common.connect_port) == (0, 80)
    notes = _notes_at(r, "virtual_server_group.conf")
    assert _has(notes, 10, "expanded into 6 virtual servers")
    assert _has(notes, 16, "keepalived clears a real server's port on a fwmark service")


def _misc_check_args(c: Config, r: ImportResult) -> None:
    (vs,) = c.virtual_servers
    assert (vs.lb_algo, vs.lb_kind, vs.protocol) == ("rr", LbKind.DR, Protocol.UDP)
    assert vs.lb_flags == frozenset({"ops"})
    a, b = (rs.checks[0] for rs in vs.real_servers)
    assert isinstance(a, MiscCheck) and isinstance(b, MiscCheck)
    assert a.misc_path == "/usr/bin/dig +time=1 +tries=2 @198.51.100.51 example.com"
    assert (a.misc_timeout, a.misc_dynamic) == (5.0, False)
    assert (b.misc_dynamic, b.misc_timeout) == (True, 4.0)
    assert not r.notes


def _haproxy_pair(c: Config, r: ImportResult) -> None:
    scripts = {s.name: s for s in c.vrrp_scripts}
    assert scripts["chk_haproxy"].script == "killall -0 haproxy"
    assert (scripts["chk_haproxy"].weight, scripts["chk_haproxy"].fall) == (2, 2)
    assert (scripts["chk_api"].weight, scripts["chk_api"].timeout) == (-20, 2.0)
    (inst,) = c.vrrp_instances
    assert inst.unicast_src_ip == "192.0.2.150"
    assert inst.unicast_peer == ("192.0.2.151", "192.0.2.152")
    assert inst.track_script == ("chk_haproxy", "chk_api")
    assert inst.virtual_ipaddress[0].dev == "eth0"
    notes = _notes_at(r, "haproxy_pair.conf")
    # the global_defs lvstui has no use for; vrrp_garp/gna_interval 0 is keepalived's default
    # (keepalived calls 0 invalid and keeps its default, 0), so it converts without a note;
    # script_user, enable_script_security and vrrp_skip_check_adv_addr convert too
    assert sorted(notes) == []
    assert inst.skip_check_adv_addr
    assert (c.global_defs.vrrp_garp_interval, c.global_defs.vrrp_gna_interval) == (0.0, 0.0)
    assert (c.global_defs.script_user, c.global_defs.enable_script_security) == ("root", True)
    assert {s.user for s in c.vrrp_scripts} == {"root"}


def _notify_scripts(c: Config, r: ImportResult) -> None:
    (g,) = c.vrrp_sync_groups
    assert g.group == ("VI_2", "VI_3") and g.smtp_alert is True
    assert g.notify_master == "/usr/local/bin/vrrp.mast arg1 arg2"
    vi2, vi3 = c.vrrp_instances
    assert (vi2.smtp_alert, vi2.notify) == (True, "/usr/local/bin/notify all")
    assert (vi3.notify_master, vi3.notify_stop) == (
        "/usr/local/bin/master.sh",
        "/usr/local/bin/stop.sh VI_3",
    )
    # `notify_stop "..." root`: the user is kept (it used to be noted and dropped)
    assert (vi3.notify_master_user, vi3.notify_stop_user) == ("", "root")
    assert not r.notes


def _vip_options(c: Config, r: ImportResult) -> None:
    (inst,) = c.vrrp_instances
    a, b, d = inst.virtual_ipaddress
    assert (a.address, a.prefixlen, a.broadcast, a.dev, a.label) == (
        "192.0.2.1",
        24,
        "192.0.2.255",
        "eth0",
        "eth0:vip",
    )
    assert (b.dev, b.scope) == ("eth1", "link")
    assert (d.address, d.prefixlen, d.dev) == ("192.0.2.3", 32, None)
    assert inst.virtual_ipaddress_excluded[0].address == "203.0.113.5"
    notes = _notes_at(r, "vip_options.conf")
    assert sorted(notes) == [16]  # virtual_routes: lvstui does not watch them
    assert _has(notes, 16, "no_track")
    assert [route_text(r) for r in inst.virtual_routes] == [
        "198.51.100.0/24 via 192.0.2.254 dev eth0"
    ]
    assert [vip_text(v) for v in c.global_defs.static_ipaddress] == ["192.0.2.200/24 dev eth1"]


def _track_weights(c: Config, r: ImportResult) -> None:
    (inst,) = c.vrrp_instances
    assert inst.track_interface == ("eth1", "ens192")
    assert inst.track_interface_weight == (TrackWeight("eth1", -10),)
    assert inst.track_script == ("chk_file",)
    assert inst.track_script_weight == (TrackWeight("chk_file", 5),)  # this instance's
    # keepalived's weights are lvstui's too, and so is its script security: no note
    assert [n.line for n in r.notes] == []


def _ipv6(c: Config, r: ImportResult) -> None:
    (inst,) = c.vrrp_instances
    assert inst.version == 3  # keepalived runs IPv6 instances as VRRPv3
    assert [v.address for v in inst.virtual_ipaddress] == ["2001:db8:10::1", "2001:db8:10::2"]
    (vs,) = c.virtual_servers
    assert vs.ip == "2001:db8:10::1" and vs.label == "TCP [2001:db8:10::1]:80"
    assert vs.real_servers[0].checks[0].common.bindto == "2001:db8:20::1"
    assert _has(_notes_at(r, "ipv6.conf"), 3, "VRRPv3")


def _legacy_1x(c: Config, r: ImportResult) -> None:
    (inst,) = c.vrrp_instances
    assert (inst.state, inst.garp_master_delay) == (VrrpState.BACKUP, 1.0)
    rs = c.virtual_servers[0].real_servers[0]
    assert rs.checks[0].common.retry == 3
    assert inst.notify_master == "/etc/keepalived/notify.sh master"  # the whole line, as 1.x
    sync = c.global_defs.lvs_sync_daemon
    assert sync is not None and (sync.interface, sync.instance) == ("eth1", "VI_OLD")
    notes = _notes_at(r, "legacy_1x.conf")
    assert sorted(notes) == [6, 10, 12, 17, 21, 28, 37]
    assert _has(notes, 17, "keepalived 2 runs '/etc/keepalived/notify.sh' as user 'master'")
    assert _has(notes, 21, "written as global_defs.lvs_sync_daemon")
    assert _has(notes, 37, "keepalived 2 ignores nb_get_retry in TCP_CHECK")


def _checker_defaults(c: Config, r: ImportResult) -> None:
    a, b = c.virtual_servers[0].real_servers
    assert a.weight == 1
    (tcp,) = a.checks
    # the real server's connect_timeout wins over the virtual server's
    assert (tcp.common.connect_timeout, tcp.common.retry, tcp.common.delay_before_retry) == (
        4.0,
        2,
        2.0,
    )
    tcp_b, http_b = b.checks
    assert (tcp_b.common.connect_port, tcp_b.common.connect_timeout) == (81, 2.0)
    assert (tcp_b.common.delay_before_retry, tcp_b.common.warmup) == (5.0, 3.0)
    assert (http_b.common.connect_timeout, http_b.common.warmup) == (1.0, 3.0)
    assert not r.notes


def _braces_and_comments(c: Config, r: ImportResult) -> None:
    assert c.global_defs.router_id == "BRACES"
    (inst,) = c.vrrp_instances
    assert (inst.state, inst.virtual_ipaddress[0].address) == (VrrpState.MASTER, "192.0.2.68")
    rs = c.virtual_servers[0].real_servers[0]
    assert (rs.weight, rs.checks[0].common.connect_timeout) == (5, 5.0)
    assert not r.notes


def _include_main(c: Config, r: ImportResult) -> None:
    assert c.global_defs.router_id == "INC"
    assert [i.name for i in c.vrrp_instances] == ["VI_INC"]
    assert [vs.label for vs in c.virtual_servers] == ["TCP 192.0.2.69:80"]
    assert not r.notes


def _quorum_sorry(c: Config, r: ImportResult) -> None:
    (vs,) = c.virtual_servers
    assert (vs.alpha, vs.omega, vs.quorum, vs.hysteresis) == (True, True, 2, 1)
    assert vs.quorum_up == "/usr/local/sbin/quorum.sh up 192.0.2.110"
    assert vs.sorry_server is not None
    assert (vs.sorry_server.ip, vs.sorry_server.port) == ("198.51.100.250", 8080)
    assert vs.sorry_server.inhibit_on_failure
    assert all(rs.inhibit_on_failure for rs in vs.real_servers)
    assert not r.notes


def _strict_v3(c: Config, r: ImportResult) -> None:
    (inst,) = c.vrrp_instances
    assert (inst.version, inst.advert_int) == (3, 0.5)
    notes = _notes_at(r, "strict_v3.conf")
    assert sorted(notes) == [6]  # vrrp_min_garp's
    assert inst.strict_mode and not inst.accept  # keepalived's no_accept default in strict


def _v2_fractional_advert(c: Config, r: ImportResult) -> None:
    (inst,) = c.vrrp_instances
    assert (inst.version, inst.advert_int) == (2, 1.0)
    assert _has(_notes_at(r, "v2_fractional_advert.conf"), 7, "keepalived rounds 0.5 to 1")


def _no_protocol(c: Config, r: ImportResult) -> None:
    assert c.virtual_servers[0].protocol is Protocol.UDP
    assert _has(_notes_at(r, "no_protocol.conf"), 2, "runs this service as UDP")


def _ping_mh(c: Config, r: ImportResult) -> None:
    sync = c.global_defs.lvs_sync_daemon
    assert sync is not None and (sync.interface, sync.instance, sync.syncid) == ("eth1", "VI_MH", 5)
    (vs,) = c.virtual_servers
    assert (vs.lb_algo, vs.lb_kind, vs.ha_suspend) == ("mh", LbKind.TUN, True)
    assert vs.lb_flags == frozenset({"mh-port", "mh-fallback"})
    (ping,) = vs.real_servers[0].checks
    assert isinstance(ping, PingCheck) and ping.common.retry == 2
    assert vs.real_servers[0].lb_kind is LbKind.TUN
    assert [(n.line, n.message) for n in r.notes] == [
        (26, "tunnel options `type gue port 6080` not supported: plain IP-in-IP TUN")
    ]


def _other_checkers(c: Config, r: ImportResult) -> None:
    smtp, dns, web = c.virtual_servers
    tcp, smtp_check = smtp.real_servers[0].checks
    assert isinstance(tcp, TcpCheck) and isinstance(smtp_check, SmtpCheck)
    assert (smtp_check.helo_name, smtp_check.common.connect_timeout) == ("lb.example.com", 10)
    (dns_check,) = dns.real_servers[0].checks
    assert isinstance(dns_check, DnsCheck)
    assert (dns_check.type, dns_check.name) == ("A", "example.com")
    (http,) = web.real_servers[0].checks
    assert isinstance(http, HttpCheck)
    assert http.urls[0].status_code == (StatusRange(200, 299), StatusRange(301, 301))
    notes = _notes_at(r, "other_checkers.conf")
    assert notes == {}  # every checker is imported, and script_user/enable_script_security too


def _odd_syntax(c: Config, r: ImportResult) -> None:
    (inst,) = c.vrrp_instances
    assert (inst.auth_type, inst.smtp_alert) == (None, True)
    assert inst.track_script == ("chk_a", "chk_b")  # two blocks, one list
    assert _has(_notes_at(r, "odd_syntax.conf"), 29, "merged with the one at line 26")
    (vs,) = c.virtual_servers  # the port-less one is left out, with a note
    assert (vs.lb_kind, vs.protocol) == (LbKind.NAT, Protocol.TCP)  # keepalived's fallback
    assert [(rs.port, rs.weight) for rs in vs.real_servers] == [(8080, 2)]
    notes = _notes_at(r, "odd_syntax.conf")
    assert sorted(notes) == [23, 29, 39, 46]  # script_user, enable_script_security convert
    assert _has(notes, 23, "keepalived ignores this authentication block")
    assert _has(notes, 39, "runs this as NAT; so does the import; write DR if that is meant")
    assert _has(notes, 46, "all-ports persistent service")


def _conditional(c: Config, r: ImportResult) -> None:
    (inst,) = c.vrrp_instances  # as lb1
    assert (inst.state, inst.priority) == (VrrpState.MASTER, 150)
    assert inst.notify_master == "/usr/local/bin/became-master.sh lb1"
    assert [rs.ip for rs in c.virtual_servers[0].real_servers] == ["198.51.100.76"]
    notes = _notes_at(r, "conditional.conf")
    assert sorted(notes) == [6, 10, 22]
    assert _has(notes, 6, "for every config id but 'lb1', and this import is for 'lb1'")


def test_conditional_lines_for_the_other_director() -> None:
    r = import_keepalived(FIX / "conditional.conf", "lb2")
    (inst,) = r.config.vrrp_instances
    assert (inst.state, inst.priority, inst.notify_master) == (VrrpState.BACKUP, 100, None)
    assert [rs.ip for rs in r.config.virtual_servers[0].real_servers] == ["198.51.100.77"]
    assert sorted(n.line for n in r.notes) == [5, 9, 11, 21]


def test_conditional_default_id_is_the_host_name(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setattr(socket, "gethostname", lambda: "lb2.example.com")
    r = import_keepalived(FIX / "conditional.conf")
    assert r.config.vrrp_instances[0].priority == 100


EXPECT: dict[str, Callable[[Config, ImportResult], None]] = {
    "braces_and_comments.conf": _braces_and_comments,
    "checker_defaults.conf": _checker_defaults,
    "conditional.conf": _conditional,
    "dr_http_multi_url.conf": _dr_http_multi_url,
    "fwmark_dr.conf": _fwmark_dr,
    "haproxy_pair.conf": _haproxy_pair,
    "include_main.conf": _include_main,
    "ipv6.conf": _ipv6,
    "legacy_1x.conf": _legacy_1x,
    "misc_check_args.conf": _misc_check_args,
    "nat_ssl_get.conf": _nat_ssl_get,
    "no_protocol.conf": _no_protocol,
    "notify_scripts.conf": _notify_scripts,
    "odd_syntax.conf": _odd_syntax,
    "other_checkers.conf": _other_checkers,
    "ping_mh.conf": _ping_mh,
    "quorum_sorry.conf": _quorum_sorry,
    "strict_v3.conf": _strict_v3,
    "track_weights.conf": _track_weights,
    "v2_fractional_advert.conf": _v2_fractional_advert,
    "vip_options.conf": _vip_options,
    "virtual_server_group.conf": _virtual_server_group,
}


def test_every_fixture_has_expectations() -> None:
    assert sorted(EXPECT) == GOOD


@pytest.mark.parametrize("name", GOOD)
def test_import_load_lint(name: str) -> None:
    result = import_keepalived(FIX / name, CONFIG_ID.get(name, "lb0"))
    EXPECT[name](result.config, result)
    # the TOML we print loads back to the same model
    text = tomli_w.dumps(to_toml_dict(result.config))
    again = load_config_text(text, "imported.toml")
    assert replace(again, path="") == replace(result.config, path="")
    lint(again)  # runs on whatever the import produced


@pytest.mark.parametrize("name", GOOD)
def test_nothing_is_dropped_silently(name: str) -> None:
    silent = silent_lines(FIX / name, CONFIG_ID.get(name, "lb0"))
    assert not silent, f"lines neither converted nor noted: {silent}"


def test_dr_port_change_is_reset_as_keepalived_does() -> None:
    """keepalived: "ports don't match - resetting"; the import does the same, with a note."""
    path = FIX / "dr_port_change.conf"
    r = import_keepalived(path)
    ((rs,),) = [vs.real_servers for vs in r.config.virtual_servers]
    assert rs.port == 80
    assert [(n.line, n.message) for n in r.notes] == [
        (
            7,
            'DR cannot change the port: keepalived resets it ("ports don\'t match"); written as 80',
        )
    ]


# --- keepalived's own opinion ----------------------------------------------------------------

# Fixtures keepalived -t accepts without a word, and for the others what it reports, which
# is what our notes say too (or, for dr_port_change, our error).
KEEPALIVED_SAYS: dict[str, str | tuple[str, ...] | None] = dict.fromkeys(GOOD)
KEEPALIVED_SAYS.update(
    {
        "dr_http_multi_url.conf": "nb_get_retry is deprecated",
        "dr_port_change.conf": "ports don't match",
        "fwmark_dr.conf": "has port specified - clearing",
        "haproxy_pair.conf": "vrrp_garp_interval '0' is invalid",
        "legacy_1x.conf": ("Unknown keyword 'nat_mask'", "lvs_sync_daemon_interface against"),
        "no_protocol.conf": "no protocol set - defaulting to UDP",
        "odd_syntax.conf": ("unknown [dr] routing method", "no password given. Ignoring"),
        "v2_fractional_advert.conf": "must be an integer. rounding",
        "virtual_server_group.conf": "port will be ignored",
    }
)


@pytest.mark.keepalived
@pytest.mark.root
@pytest.mark.parametrize("name", sorted(KEEPALIVED_SAYS))
def test_keepalived_agrees(name: str, interfaces_netns: str) -> None:
    config_id = CONFIG_ID.get(name, "lb0")
    # cwd: relative includes, and file names in its messages, like ours
    proc = keepalived_t(interfaces_netns, name, cwd=FIX, config_id=config_id)
    says = KEEPALIVED_SAYS[name]
    if says is None:
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.strip() == ""
    else:
        assert proc.returncode != 0
        for fragment in (says,) if isinstance(says, str) else says:
            assert fragment in proc.stderr, proc.stderr


# --- a big imported config stays readable in check-config ----------------------------------


def _big_keepalived_conf(services: int, reals: int) -> str:
    parts = ["vrrp_instance VI {\n state MASTER\n interface eth0\n virtual_router_id 9\n"]
    parts.append(" virtual_ipaddress {\n")
    parts += [f"  192.0.2.{v + 1}\n" for v in range(services)]
    parts.append(" }\n}\n")
    for v in range(services):
        parts.append(
            f"virtual_server 192.0.2.{v + 1} 80 {{\n delay_loop 6\n lb_algo wlc\n"
            " lb_kind DR\n protocol TCP\n"
        )
        for r in range(reals):
            parts.append(
                f" real_server 198.51.{v}.{r + 1} 80 {{\n  HTTP_GET {{\n   url {{\n"
                "    path /\n    digest ff20ad2481f97b1754ef3e12ecd3a9cc\n   }\n"
                "   connect_timeout 3\n   retry 3\n   delay_before_retry 3\n  }\n }\n"
            )
        parts.append("}\n")
    return "".join(parts)


def test_check_config_on_a_big_import_counts_repeats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lvstui.cli import main
    from lvstui.commands.check_config import SHOWN_PER_KIND

    conf = tmp_path / "keepalived.conf"
    conf.write_text(_big_keepalived_conf(services=12, reals=10))
    toml = tmp_path / "config.toml"
    assert main(["import-keepalived", str(conf), "-o", str(toml)]) == 0
    capsys.readouterr()
    assert main(["check-config", "-f", str(toml)]) == 0
    short = capsys.readouterr().out.splitlines()
    assert main(["check-config", "-v", "-f", str(toml)]) == 0
    full = capsys.readouterr().out.splitlines()
    pileups = [line for line in full if "runs would pile up" in line]
    assert len(pileups) == 120  # -v: every check, as before
    assert len(short) < 40 < len(full)
    assert sum("runs would pile up" in line for line in short) == SHOWN_PER_KIND
    summary = [line for line in short if "(check-pileup)" in line]
    assert summary == [
        f"{toml}: … {120 - SHOWN_PER_KIND} more warnings like those above (check-pileup): "
        "virtual_server[0].real_server[3].http_get[0] … "
        "virtual_server[11].real_server[9].http_get[0]; -v lists them all"
    ]
    # the total still counts every warning
    assert short[-1].endswith("12 virtual server(s), 120 real server(s); 120 warning(s)")


# --- smaller cases around the fixtures --------------------------------------------------------


def _import(text: str) -> ImportResult:
    from lvstui.config.keepalived import import_keepalived_text

    return import_keepalived_text(text, "k.conf")


_VS_BODY = " lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server 198.51.100.1 80 {\n }\n}\n"


def test_group_ranges_ipv6_and_hex() -> None:
    r = _import(
        "virtual_server_group G6 {\n 2001:db8::9-b 80\n}\nvirtual_server group G6 {\n"
        + _VS_BODY.replace("198.51.100.1", "2001:db8:1::1")
    )
    assert [vs.ip for vs in r.config.virtual_servers] == [
        "2001:db8::9",
        "2001:db8::a",
        "2001:db8::b",
    ]


def test_group_unknown_unused_and_too_big() -> None:
    r = _import("virtual_server group NOPE {\n" + _VS_BODY)
    assert r.config.virtual_servers == ()
    assert [(n.line, n.message) for n in r.notes] == [
        (1, "unknown virtual_server_group 'NOPE' (none is defined); block left out")
    ]
    r = _import("virtual_server_group SPARE {\n 192.0.2.1 80\n}\n")
    assert [(n.line, n.message) for n in r.notes] == [
        (1, "no `virtual_server group SPARE` uses it; left out")
    ]
    ranges = "".join(f" 10.0.{n}.0-255 80\n" for n in range(5))
    r = _import(
        f"virtual_server_group BIG {{\n{ranges}}}\nvirtual_server group BIG {{\n" + _VS_BODY
    )
    assert r.config.virtual_servers == ()
    assert [(n.line, n.message) for n in r.notes] == [
        (1, "expands to 1280 services, more than 1024; group left out")
    ]


def test_include_matching_nothing_is_noted(tmp_path: Path) -> None:
    main = tmp_path / "keepalived.conf"
    main.write_text("global_defs {\n router_id A\n}\ninclude conf.d/*.conf\n")
    r = import_keepalived(main)
    assert [(n.line, n.message) for n in r.notes] == [
        (4, "'conf.d/*.conf' matches no file: nothing included")
    ]


def test_shell_syntax_in_a_script_is_noted() -> None:
    r = _import(
        "vrrp_script chk {\n script \"echo '</dev/tcp/127.0.0.1/80' | /bin/bash\"\n}\n"
        "vrrp_script ok {\n script \"/bin/sh -c 'pidof nginx'\"\n}\n"
    )
    assert [n.line for n in r.notes] == [2]
    assert "runs without a shell" in r.notes[0].message


@pytest.mark.parametrize("advert", ["1e999", "nan", "-0.5"])
def test_absurd_advert_int_is_an_error_not_a_crash(advert: str) -> None:
    with pytest.raises(ConfigErrors) as info:
        _import(
            f"vrrp_instance V {{\n interface eth0\n virtual_router_id 1\n advert_int {advert}\n}}\n"
        )
    assert info.value.errors[0].line == 4


def test_sorry_server_without_a_port_takes_the_services() -> None:
    r = _import(
        "virtual_server 192.0.2.9 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n"
        " sorry_server 192.0.2.99\n real_server 192.0.2.20 80 {\n }\n}\n"
    )
    sorry = r.config.virtual_servers[0].sorry_server
    assert sorry is not None and (sorry.ip, sorry.port) == ("192.0.2.99", 80)
    assert not r.notes
