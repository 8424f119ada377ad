"""keepalived.conf import: the tutorial's snippets as written, syntax, notes, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from lvstui.config.dump import to_toml_dict
from lvstui.config.keepalived import (
    import_keepalived,
    import_keepalived_text,
    parse,
    tokenize,
)
from lvstui.config.lint import lint
from lvstui.config.load import ConfigErrors, load_config_text
from lvstui.config.schema import (
    AuthType,
    HttpCheck,
    LbKind,
    MiscCheck,
    StatusRange,
    TcpCheck,
    TrackWeight,
    VrrpState,
)
from lvstui.errors import ConfigError
from tests.config.kaimport import keepalived_t

FIX = Path(__file__).parent / "fixtures"


def test_tokenizer_comments_quotes_braces() -> None:
    toks = tokenize('a "b c" {d}  # x y\n! comment\ne f#g\n')
    assert [(t.text, t.line) for t in toks] == [
        ("a", 1),
        ("b c", 1),
        ("{", 1),
        ("d", 1),
        ("}", 1),
        ("e", 3),
        ("f", 3),
    ]
    assert toks[1].quoted


def test_tree_with_braces_on_the_next_line() -> None:
    nodes = parse(tokenize((FIX / "tutorial_http_get.conf").read_text()))
    assert len(nodes) == 1
    http = nodes[0]
    assert http.key == "HTTP_GET" and http.children is not None
    url = http.children[0]
    assert url.key == "url" and url.line == 3
    assert [(c.key, c.args) for c in url.children or []] == [
        ("path", ["/test_vie.php"]),
        ("digest", ["5f1a4b7e269b7f5ddf6bbce06856c1e8"]),
        ("status_code", ["200"]),
    ]


def test_tutorial_virtual_server_stray_brace_names_its_line() -> None:
    """keepalived runs past an extra `}` ("Extra '}' found"): so does the import, with a
    note naming the line and the block that was already closed; parse alone refuses it."""
    path = FIX / "tutorial_virtual_server.conf"
    (note,) = import_keepalived(path).notes
    assert (note.file, note.line) == (str(path), 24)  # the extra `}` after the block
    assert path.read_text().splitlines()[23].strip() == "}"
    assert "keepalived ignores this extra `}`" in note.message
    assert "opened at line 1 is already closed" in note.message
    with pytest.raises(ConfigError, match="no block is open"):
        parse(tokenize(path.read_text(), str(path)))


def test_unclosed_block_names_its_opening_line() -> None:
    with pytest.raises(ConfigError) as info:
        import_keepalived_text("global_defs {\n router_id x\n\nvrrp_instance a {\n}\n", "k.conf")
    assert info.value.line == 1
    assert "never closed" in info.value.detail


def test_tutorial_global_and_sync_group() -> None:
    text = (FIX / "tutorial_global.conf").read_text() + (FIX / "tutorial_instance.conf").read_text()
    res = import_keepalived_text(text, "k.conf")
    gd = res.config.global_defs
    assert gd.notification_email == ("georgette@example.com",)
    assert gd.notification_email_from == "lvs@example.com"
    assert gd.smtp_server == "relayhost.example.com"
    assert gd.smtp_connect_timeout == 30
    assert gd.router_id == "LVS"
    assert res.config.vrrp_sync_groups[0].group == ("linuxfr",)


def test_tutorial_instance() -> None:
    res = import_keepalived(FIX / "tutorial_instance.conf")
    inst = res.config.vrrp_instances[0]
    assert inst.name == "linuxfr"
    assert inst.state is VrrpState.MASTER
    assert inst.interface == "eth0"
    assert inst.smtp_alert is True
    assert inst.virtual_router_id == 51
    assert (inst.auth_type, inst.auth_pass) == (AuthType.PASS, "1111")
    assert [v.address for v in inst.virtual_ipaddress] == ["192.168.2.9"]
    assert res.notes == ()


def test_tutorial_slave_maps_to_backup_with_a_note() -> None:
    text = (FIX / "tutorial_instance.conf").read_text().replace("MASTER", "SLAVE")
    res = import_keepalived_text(text, "k.conf")
    assert res.config.vrrp_instances[0].state is VrrpState.BACKUP
    (note,) = res.notes
    assert note.line == 2 and "BACKUP" in note.message


def test_tutorial_snippets_outside_a_block_are_listed_not_dropped() -> None:
    """The option, HTTP_GET and MISC_CHECK snippets belong inside blocks; alone, each is
    reported with its line."""
    res = import_keepalived(FIX / "tutorial_options.conf")
    assert [(n.line, n.directive) for n in res.notes] == [
        (1, "persistence_timeout"),
        (3, "virtualhost"),
        (5, "quorum"),
        (6, "hysteresis"),
        (7, "quorum_up"),
        (8, "quorum_down"),
        (10, "sorry_server"),
    ]
    res = import_keepalived(FIX / "tutorial_http_get.conf")
    assert [(n.line, n.directive) for n in res.notes] == [(1, "HTTP_GET")]


def test_tutorial_full_setup() -> None:
    res = import_keepalived(FIX / "tutorial_full.conf")
    assert res.notes == ()
    cfg = res.config
    vs80, vs443 = cfg.virtual_servers
    assert (vs80.ip, vs80.port, vs80.delay_loop, vs80.lb_algo, vs80.lb_kind) == (
        "192.168.10.9",
        80,
        6.0,
        "rr",
        LbKind.DR,
    )
    assert [(r.ip, r.port, r.weight) for r in vs80.real_servers] == [
        ("192.168.10.98", 80, 1),
        ("192.168.10.85", 80, 1),
    ]
    tcp = vs80.real_servers[0].checks[0]
    assert isinstance(tcp, TcpCheck)
    assert (tcp.common.connect_port, tcp.common.connect_timeout) == (80, 3.0)
    assert vs443.persistence_timeout == 60
    assert vs443.virtualhost == "supervision.fr.local"
    assert (vs443.quorum, vs443.hysteresis) == (30, 2)
    assert vs443.quorum_up == "/usr/local/bin/notify.pl qourum up"
    assert vs443.quorum_down == "/usr/local/bin/start_spare_vm.pl"
    assert vs443.sorry_server is not None
    assert (vs443.sorry_server.ip, vs443.sorry_server.port) == ("192.168.10.55", 80)
    http = vs443.real_servers[0].checks[0]
    assert isinstance(http, HttpCheck) and not http.tls
    (url,) = http.urls
    assert url.path == "/test_vie.php"
    assert url.digest == "5f1a4b7e269b7f5ddf6bbce06856c1e8"
    assert url.status_code == (StatusRange(200, 200),)
    misc = vs443.real_servers[1].checks[0]
    assert isinstance(misc, MiscCheck)
    assert misc.misc_path == "/usr/local/bin/test_ldap.pl 192.168.10.72"
    assert misc.misc_timeout == 15
    assert misc.misc_dynamic is False  # commented out in the tutorial


def test_tutorial_import_is_accepted_and_lint_finds_the_forgotten_vip() -> None:
    cfg = import_keepalived(FIX / "tutorial_full.conf").config
    findings = lint(cfg)
    missing = [f for f in findings if "no vrrp_instance's virtual_ipaddress" in f.message]
    assert [f.key for f in missing] == ["virtual_server[0].ip", "virtual_server[1].ip"]


def test_import_load_same_model() -> None:
    """import → TOML text → load gives the very model the importer built."""
    for name in ("tutorial_full.conf", "tutorial_instance.conf"):
        res = import_keepalived(FIX / name)
        text = tomli_w.dumps(to_toml_dict(res.config))
        again = load_config_text(text, res.config.path)
        assert again == res.config
        # and the raw data the importer produced loads to the same model too
        assert load_config_text(tomli_w.dumps(res.data), res.config.path) == res.config


def test_unsupported_directives_listed_with_lines() -> None:
    text = """\
global_defs {
  router_id LVS
  vrrp_strict
}
vrrp_instance a {
  interface eth0
  virtual_router_id 9
  track_interface {
    eth1 weight 10
  }
  dont_track_primary
  priority 100 200
}
static_ipaddress {
  192.0.2.1/24 dev eth0
}
"""
    res = import_keepalived_text(text, "k.conf")
    assert [(n.line, n.directive) for n in res.notes] == [
        (11, "vrrp_instance a: dont_track_primary"),
        (12, "priority"),
    ]
    (inst,) = res.config.vrrp_instances
    assert inst.track_interface == ("eth1",) and inst.priority == 100
    assert inst.track_interface_weight == (TrackWeight("eth1", 10),)
    assert inst.strict_mode and not inst.accept  # vrrp_strict: imported, keepalived's default


def test_include_globs_relative_to_the_including_file(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "b.conf").write_text("virtual_server 192.0.2.9 443 {\n lb_algo rr\n}\n")
    (tmp_path / "conf.d" / "a.conf").write_text("virtual_server 192.0.2.9 80 {\n quorum xx\n}\n")
    (tmp_path / "conf.d" / "skip.txt").write_text("garbage {")
    main = tmp_path / "keepalived.conf"
    main.write_text("global_defs {\n router_id x\n}\ninclude conf.d/*.conf\n")
    with pytest.raises(ConfigErrors) as info:
        import_keepalived(main)
    (err,) = info.value.errors
    # the error is in the included file, at its own line
    assert (err.file, err.line, err.key) == (
        str(tmp_path / "conf.d" / "a.conf"),
        2,
        "virtual_server[0].quorum",
    )
    (tmp_path / "conf.d" / "a.conf").write_text("virtual_server 192.0.2.9 80 {\n lb_algo wrr\n}\n")
    cfg = import_keepalived(main).config
    assert [(v.port, v.lb_algo) for v in cfg.virtual_servers] == [(80, "wrr"), (443, "rr")]


def test_include_loop_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("include a.conf\n")
    with pytest.raises(ConfigError, match="nested deeper"):
        import_keepalived(tmp_path / "a.conf")


def test_import_errors_name_keepalived_lines() -> None:
    text = (
        (FIX / "tutorial_instance.conf")
        .read_text()
        .replace("virtual_router_id 51", "virtual_router_id 51\n advert_int often")
    )
    with pytest.raises(ConfigErrors) as info:
        import_keepalived_text(text, "k.conf")
    (err,) = info.value.errors
    assert (err.file, err.line, err.key) == ("k.conf", 6, "vrrp_instance.linuxfr.advert_int")


def test_legacy_aliases_and_fwmark() -> None:
    text = """\
virtual_server fwmark 5 {
  ip_family inet6
  lvs_sched sh
  lvs_method DR
  sh-port
  persistence_timeout
  real_server 2001:db8::1 {
    HTTP_GET {
      nb_get_retry 3
      url {
        path /
        status_code 200-299 301
      }
    }
    PING_CHECK {
      connect_timeout 2
    }
  }
}
"""
    vs = import_keepalived_text(text, "k.conf").config.virtual_servers[0]
    assert (vs.fwmark, vs.family, vs.lb_algo, vs.lb_kind) == (5, 6, "sh", LbKind.DR)
    assert vs.lb_flags == frozenset({"sh-port"})
    assert vs.persistence_timeout == 360
    http, ping = vs.real_servers[0].checks
    assert isinstance(http, HttpCheck) and http.common.retry == 3
    assert http.urls[0].status_code == (StatusRange(200, 299), StatusRange(301, 301))
    assert ping.common.connect_timeout == 2


def test_vip_options_we_do_not_carry_are_noted() -> None:
    text = """\
vrrp_instance a {
  interface eth0
  virtual_router_id 9
  virtual_ipaddress {
    192.0.2.9/24 dev eth1 no_track label eth1:9
    192.0.2.10 peer 192.0.2.11 scope link
  }
}
"""
    res = import_keepalived_text(text, "k.conf")
    a, b = res.config.vrrp_instances[0].virtual_ipaddress
    assert (a.address, a.prefixlen, a.dev, a.label) == ("192.0.2.9", 24, "eth1", "eth1:9")
    assert (b.address, b.scope) == ("192.0.2.10", "link")
    assert [(n.line, n.message) for n in res.notes] == [
        (5, "address option `no_track` not supported; left out"),
        (6, "address option `peer 192.0.2.11` not supported; left out"),
    ]


# keepalived.conf edits that keepalived's own config test corrects (it warns, and runs the
# file with the line ignored, defaulted or reset): the import does what keepalived does and
# says so. (old, new, what keepalived says, what our note says)
CORRECTED_BY_BOTH = [
    ("lb_algo rr", "lb_algo rrr", "Invalid lvs_scheduler 'rrr'", "unknown scheduler 'rrr'"),
    ("virtual_router_id 51", "virtual_router_id 256", "VRID '256' not valid", "virtual_router_id"),
    ("lb_kind DR", "lb_kind ROUTE", "unknown [ROUTE] routing method", "runs this as NAT"),
    ("auth_type PASS", "auth_type FOO", "unknown authentication type 'FOO'", "PASS or AH only"),
    (
        "real_server 192.168.10.98 80",
        "real_server 192.168.10.98 8080",
        "ports don't match - resetting",
        "written as 80",
    ),
    (" 192.168.2.9\n", " 192.168.2.300\n", "invalid IP 192.168.2.300", "not an address"),
]


@pytest.mark.keepalived
@pytest.mark.root
def test_keepalived_itself_agrees(tmp_path: Path, interfaces_netns: str) -> None:
    """keepalived's own config test (`-t`) accepts what we accept, and where it corrects a
    line, so do we. Its DNS lookup of smtp_server and its one-member sync-group warning make
    it exit non-zero on the tutorial as written, so those two lines are adapted. It runs in a
    namespace that has the eth0 the tutorial names, whatever the host's NICs are called."""
    good = (FIX / "tutorial_full.conf").read_text()
    good = good.replace("smtp_server relayhost.example.com", "smtp_server 192.0.2.25")
    good = good.replace("vrrp_sync_group VG1 {\n group {\n linuxfr\n }\n}\n", "")
    cases: list[tuple[str, str, str]] = [(good, "", "")]
    for old, new, theirs, ours in CORRECTED_BY_BOTH:
        assert old in good, old
        cases.append((good.replace(old, new, 1), theirs, ours))
    for n, (text, theirs, ours) in enumerate(cases):
        conf = tmp_path / f"keepalived{n}.conf"
        conf.write_text(text)
        proc = keepalived_t(interfaces_netns, str(conf))
        notes = [n.message for n in import_keepalived(conf).notes]  # never refused
        if not theirs:
            assert proc.returncode == 0, proc.stderr
            continue
        assert proc.returncode == 5 and theirs in proc.stderr, (n, proc.stderr)  # warned, runs
        assert any(ours in m for m in notes), (n, notes)
