"""Every error class of the loader, each with a broken file: the line, key and message."""

from __future__ import annotations

import textwrap

import pytest

from lvstui.config.load import ConfigErrors, load_config, load_config_text
from lvstui.errors import ConfigError

# A valid base that every case below breaks in one place.
BASE = """\
[global_defs]
router_id = "LVS"

[vrrp_script.chk]
script = "/bin/true"

[vrrp_sync_group.VG1]
group = ["linuxfr"]

[vrrp_instance.linuxfr]
state = "MASTER"
interface = "eth0"
virtual_router_id = 51
virtual_ipaddress = ["192.0.2.9"]

[[virtual_server]]
ip = "192.0.2.9"
port = 80
lb_algo = "rr"
lb_kind = "DR"

[[virtual_server.real_server]]
ip = "192.0.2.98"
port = 80

[[virtual_server.real_server.tcp_check]]
connect_timeout = 3
"""


def errors_of(text: str) -> list[ConfigError]:
    with pytest.raises(ConfigErrors) as info:
        load_config_text(text, "broken.toml")
    return list(info.value.errors)


def test_base_is_valid() -> None:
    cfg = load_config_text(BASE, "base.toml")
    assert cfg.path == "base.toml"
    assert cfg.virtual_servers[0].real_servers[0].checks[0].common.connect_timeout == 3.0


def _replace(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


# (case id, broken text, line, key, message fragment, hint fragment)
CASES = [
    (
        "unknown key with did-you-mean",
        _replace(
            "port = 80\n\n[[virtual_server.real_server.tcp",
            "port = 80\nwieght = 2\n\n[[virtual_server.real_server.tcp",
        ),
        25,
        "virtual_server[0].real_server[0].wieght",
        "unknown key `wieght`",
        "did you mean `weight`",
    ),
    (
        "unknown top-level table",
        BASE + "\n[global_def]\nrouter_id = 'x'\n",
        29,
        "global_def",
        "unknown key",
        "did you mean `global_defs`",
    ),
    (
        "wrong type",
        _replace("virtual_router_id = 51", 'virtual_router_id = "51"'),
        13,
        "vrrp_instance.linuxfr.virtual_router_id",
        "expected an integer, got a string",
        "",
    ),
    (
        "weight out of range",
        _replace('ip = "192.0.2.98"\nport = 80', 'ip = "192.0.2.98"\nport = 80\nweight = 70000'),
        25,
        "virtual_server[0].real_server[0].weight",
        "between 0 and 65535",
        "",
    ),
    (
        "negative warmup (a range error whose default is None)",
        _replace("connect_timeout = 3", "connect_timeout = 3\nwarmup = -5"),
        28,
        "virtual_server[0].real_server[0].tcp_check[0].warmup",
        "at least 0, got -5",
        "",
    ),
    (
        "vrid out of range",
        _replace("virtual_router_id = 51", "virtual_router_id = 256"),
        13,
        "vrrp_instance.linuxfr.virtual_router_id",
        "between 1 and 255",
        "",
    ),
    (
        "vrid zero",
        _replace("virtual_router_id = 51", "virtual_router_id = 0"),
        13,
        "vrrp_instance.linuxfr.virtual_router_id",
        "between 1 and 255",
        "",
    ),
    (
        "priority out of range",
        _replace('state = "MASTER"', 'state = "MASTER"\npriority = 300'),
        12,
        "vrrp_instance.linuxfr.priority",
        "between 1 and 255",
        "",
    ),
    (
        "advert_int v2 not whole seconds",
        _replace('interface = "eth0"', 'interface = "eth0"\nadvert_int = 0.5'),
        13,
        "vrrp_instance.linuxfr.advert_int",
        "whole seconds",
        "version = 3",
    ),
    (
        "advert_int v3 not centiseconds",
        _replace('interface = "eth0"', 'interface = "eth0"\nversion = 3\nadvert_int = 0.005'),
        14,
        "vrrp_instance.linuxfr.advert_int",
        "steps of 0.01",
        "",
    ),
    (
        "advert_int v3 too long",
        _replace('interface = "eth0"', 'interface = "eth0"\nversion = 3\nadvert_int = 41'),
        14,
        "vrrp_instance.linuxfr.advert_int",
        "40.95",
        "",
    ),
    (
        "advert_int zero",
        _replace('interface = "eth0"', 'interface = "eth0"\nadvert_int = 0'),
        13,
        "vrrp_instance.linuxfr.advert_int",
        "greater than 0",
        "",
    ),
    (
        "port out of range",
        _replace("port = 80\nlb_algo", "port = 65536\nlb_algo"),
        18,
        "virtual_server[0].port",
        "between 0 and 65535",
        "",
    ),
    (
        "negative quorum",
        _replace('lb_kind = "DR"', 'lb_kind = "DR"\nquorum = -1'),
        21,
        "virtual_server[0].quorum",
        "at least 0",
        "",
    ),
    (
        "bad real server address",
        _replace('ip = "192.0.2.98"', 'ip = "192.0.2.300"'),
        23,
        "virtual_server[0].real_server[0].ip",
        "expected an IP address",
        "",
    ),
    (
        "bad VIP",
        _replace(
            'virtual_ipaddress = ["192.0.2.9"]',
            'virtual_ipaddress = [\n  "192.0.2.9",\n  "192.0.2.10/33",\n]',
        ),
        16,
        "vrrp_instance.linuxfr.virtual_ipaddress[1]",
        "prefix length",
        "",
    ),
    (
        "bad VIP option",
        _replace('["192.0.2.9"]', '["192.0.2.9 device eth0"]'),
        14,
        "vrrp_instance.linuxfr.virtual_ipaddress[0]",
        "unknown option 'device'",
        "",
    ),
    (
        "mixed address families in one instance",
        _replace('["192.0.2.9"]', '["192.0.2.9", "2001:db8::9"]'),
        14,
        "vrrp_instance.linuxfr.virtual_ipaddress[1]",
        "one instance per address family",
        "virtual_ipaddress_excluded",
    ),
    (
        "IPv6 with VRRPv2",
        _replace('["192.0.2.9"]', '["2001:db8::9"]'),
        14,
        "vrrp_instance.linuxfr.virtual_ipaddress",
        "VRRPv2 carries IPv4 addresses only",
        "version = 3",
    ),
    (
        "a key that belongs to another check",
        _replace(
            "connect_timeout = 3",
            "connect_timeout = 3\n[[virtual_server.real_server.ping_check]]\nconnect_port = 80",
        ),
        29,
        "virtual_server[0].real_server[0].ping_check[0].connect_port",
        "does not apply here: a ping has no port",
        "",
    ),
    (
        "unknown scheduler",
        _replace('lb_algo = "rr"', 'lb_algo = "rrr"'),
        19,
        "virtual_server[0].lb_algo",
        "unknown scheduler 'rrr'",
        "did you mean `rr`",
    ),
    (
        "scheduler the userspace dataplane lacks",
        _replace(
            'router_id = "LVS"', 'router_id = "LVS"\n[lvstui]\ndataplane = "userspace"'
        ).replace('lb_algo = "rr"', 'lb_algo = "lblcr"'),
        21,
        "virtual_server[0].lb_algo",
        'with dataplane = "userspace"',
        "",
    ),
    (
        "scheduler flag for another scheduler",
        _replace('lb_algo = "rr"', 'lb_algo = "rr"\nlb_flags = ["sh-port"]'),
        20,
        "virtual_server[0].lb_flags[0]",
        "is for the sh scheduler, not 'rr'",
        "",
    ),
    (
        "unknown scheduler flag",
        _replace('lb_algo = "rr"', 'lb_algo = "sh"\nlb_flags = ["sh-prt"]'),
        20,
        "virtual_server[0].lb_flags[0]",
        "unknown scheduler flag",
        "did you mean `sh-port`",
    ),
    (
        "DR with a port change",
        _replace('ip = "192.0.2.98"\nport = 80', 'ip = "192.0.2.98"\nport = 8080'),
        24,
        "virtual_server[0].real_server[0].port",
        "DR cannot change the port",
        'lb_kind = "NAT"',
    ),
    (
        "TUN with a port change on the real server",
        _replace('ip = "192.0.2.98"\nport = 80', 'ip = "192.0.2.98"\nport = 81\nlb_kind = "TUN"'),
        24,
        "virtual_server[0].real_server[0].port",
        "TUN cannot change the port",
        "",
    ),
    (
        "fwmark and ip both set",
        _replace('ip = "192.0.2.9"\nport = 80', 'ip = "192.0.2.9"\nfwmark = 3'),
        18,
        "virtual_server[0].fwmark",
        "not both",
        "",
    ),
    (
        "neither ip nor fwmark",
        _replace('ip = "192.0.2.9"\nport = 80\n', ""),
        16,
        "virtual_server[0]",
        "missing `ip`",
        "",
    ),
    (
        "duplicate virtual server",
        BASE + '\n[[virtual_server]]\nip = "192.0.2.9"\nport = 80\n',
        30,
        "virtual_server[1].ip",
        "duplicate virtual server TCP 192.0.2.9:80",
        "",
    ),
    (
        "duplicate real server",
        BASE + '\n[[virtual_server.real_server]]\nip = "192.0.2.98"\nport = 80\n',
        30,
        "virtual_server[0].real_server[1].ip",
        "duplicate real server 192.0.2.98:80",
        "",
    ),
    (
        "sync group member that is not an instance",
        _replace('group = ["linuxfr"]', 'group = ["linuxfr", "linuxrf"]'),
        8,
        "vrrp_sync_group.VG1.group[1]",
        "'linuxrf' is not a vrrp_instance",
        "did you mean `linuxfr`",
    ),
    (
        "track_script naming an unknown vrrp_script",
        _replace('interface = "eth0"', 'interface = "eth0"\ntrack_script = ["chk_haproxy"]'),
        13,
        "vrrp_instance.linuxfr.track_script[0]",
        "unknown vrrp_script 'chk_haproxy'",
        "",
    ),
    (
        "lvs_sync_daemon instance unknown",
        _replace(
            'router_id = "LVS"',
            'router_id = "LVS"\nlvs_sync_daemon = { interface = "eth0", instance = "linuxfrr" }',
        ),
        3,
        "global_defs.lvs_sync_daemon.instance",
        "unknown vrrp_instance 'linuxfrr'",
        "did you mean `linuxfr`",
    ),
    (
        "state SLAVE",
        _replace('state = "MASTER"', 'state = "SLAVE"'),
        11,
        "vrrp_instance.linuxfr.state",
        "SLAVE is not a VRRP state",
        "BACKUP",
    ),
    (
        "bad enum",
        _replace('lb_kind = "DR"', 'lb_kind = "ROUTE"'),
        20,
        "virtual_server[0].lb_kind",
        "expected one of NAT, DR, TUN",
        "",
    ),
    (
        "missing required key",
        _replace('interface = "eth0"\n', ""),
        10,
        "vrrp_instance.linuxfr",
        "missing required key `interface`",
        "",
    ),
    (
        "password too long",
        _replace(
            'interface = "eth0"',
            'interface = "eth0"\nauthentication = { auth_type = "PASS", auth_pass = "123456789" }',
        ),
        13,
        "vrrp_instance.linuxfr.authentication.auth_pass",
        "at most 8 characters",
        "",
    ),
    (
        "status code out of range (inline check table)",
        BASE.replace(
            "[[virtual_server.real_server.tcp_check]]\nconnect_timeout = 3\n",
            "[[virtual_server.real_server.http_get]]\n"
            'url = [{ path = "/", status_code = [200, "300-700"] }]\n',
        ),
        27,
        "virtual_server[0].real_server[0].http_get[0].url[0].status_code",
        "from 100 to 599",
        "",
    ),
    (
        "bad digest",
        BASE.replace(
            "[[virtual_server.real_server.tcp_check]]\nconnect_timeout = 3\n",
            "[[virtual_server.real_server.http_get]]\n"
            '[[virtual_server.real_server.http_get.url]]\npath = "/"\ndigest = "xyz"\n',
        ),
        29,
        "virtual_server[0].real_server[0].http_get[0].url[0].digest",
        "32 hex digits",
        "genhash",
    ),
    (
        "a table where a list of tables is expected",
        BASE.replace(
            "[[virtual_server.real_server.tcp_check]]", "[virtual_server.real_server.tcp_check]"
        ),
        26,
        "virtual_server[0].real_server[0].tcp_check",
        "expected a list of tables",
        "",
    ),
    (
        "alias and its name both set",
        _replace("connect_timeout = 3", "connect_timeout = 3\nretry = 2\nnb_get_retry = 2"),
        29,
        "virtual_server[0].real_server[0].tcp_check[0].nb_get_retry",
        "same setting",
        "",
    ),
    (
        "misc_path with an unbalanced quote",
        _replace(
            "[[virtual_server.real_server.tcp_check]]\nconnect_timeout = 3",
            "[[virtual_server.real_server.misc_check]]\nmisc_path = '/bin/x \"a'",
        ),
        27,
        "virtual_server[0].real_server[0].misc_check[0].misc_path",
        "cannot split into arguments",
        "",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "key", "message", "hint"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_error_names_line_key_and_expectation(
    text: str, line: int, key: str, message: str, hint: str
) -> None:
    errors = errors_of(text)
    match = [e for e in errors if e.key == key]
    assert match, f"no error for {key}; got: {[str(e) for e in errors]}"
    err = match[0]
    assert message in err.detail, str(err)
    assert hint in err.hint, str(err)
    assert err.file == "broken.toml"
    assert err.line == line, f"{err} (text line {line}: {text.splitlines()[line - 1]!r})"
    assert str(err).startswith(f"broken.toml:{line}: {key}: ")
    # the line really is where the key (or its table) is written
    last = key.rsplit(".", 1)[-1].split("[")[0]
    shown = text.splitlines()[line - 1]
    assert last in shown or shown.startswith("[") or key.endswith("]"), shown


def test_toml_syntax_error_has_line() -> None:
    errors = errors_of(BASE.replace("port = 80\nlb_algo", "port = 80\nlb_algo = rr\nx", 1))
    assert len(errors) == 1
    assert errors[0].line == 19  # `lb_algo = rr`: an unquoted string
    assert "TOML syntax error" in errors[0].detail


def test_all_errors_reported_not_just_the_first() -> None:
    text = (
        BASE.replace("virtual_router_id = 51", "virtual_router_id = 300")
        .replace('lb_algo = "rr"', 'lb_algo = "nope"')
        .replace('ip = "192.0.2.98"', 'ip = "nope"')
    )
    errors = errors_of(text)
    keys = [e.key for e in errors]
    assert keys == [
        "vrrp_instance.linuxfr.virtual_router_id",
        "virtual_server[0].lb_algo",
        "virtual_server[0].real_server[0].ip",
    ]
    # sorted by line, and the exception's text lists every one
    assert [e.line for e in errors] == sorted(e.line or 0 for e in errors)
    with pytest.raises(ConfigErrors) as info:
        load_config_text(text, "broken.toml")
    assert str(info.value).count("broken.toml:") == 3


def test_missing_file_is_a_config_error(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(f"{tmp_path}/absent.toml")


def test_accepts_aliases_values_and_forms() -> None:
    text = textwrap.dedent(
        """\
        [global_defs]
        smtp_server = "[2001:db8::25]:587"
        [vrrp_instance.v6]
        interface = "eth0"
        virtual_router_id = 7
        version = 3
        advert_int = 0.1
        virtual_ipaddress = [
          "2001:db8::9/64 dev eth0",
          { address = "2001:db8::10/64", dev = "eth1", label = "eth1:1", scope = "global" },
        ]
        [[virtual_server]]
        fwmark = 3
        family = 6
        lvs_sched = "SH"
        lb_flags = ["sh-port"]
        persistence_timeout = true
        [[virtual_server.real_server]]
        ip = "2001:db8::98"
        [[virtual_server.real_server.ssl_get]]
        nb_get_retry = 4
        url = [{ path = "/", status_code = ["200-204", 301] }]
        """
    )
    cfg = load_config_text(text)
    assert cfg.global_defs.smtp_server == "2001:db8::25"
    assert cfg.global_defs.smtp_port == 587
    inst = cfg.vrrp_instances[0]
    assert inst.advert_int == 0.1
    assert inst.virtual_ipaddress[0].prefixlen == 64
    assert inst.virtual_ipaddress[1].label == "eth1:1"
    vs = cfg.virtual_servers[0]
    assert (vs.fwmark, vs.family, vs.lb_algo, vs.port) == (3, 6, "sh", 0)
    assert vs.lb_flags == frozenset({"sh-port"})
    assert vs.persistence_timeout == 360
    rs = vs.real_servers[0]
    assert rs.port == 0
    check = rs.checks[0]
    assert check.common.retry == 4
    assert [str(r) for r in check.urls[0].status_code] == ["200-204", "301"]  # type: ignore[union-attr]
