"""SMTP_CHECK, DNS_CHECK, UDP_CHECK, FILE_CHECK (with track_file) and BFD_CHECK: config.toml
keys, their errors, keepalived.conf import, and the TOML dump round trip."""

from __future__ import annotations

import pytest

from lvstui.config.dump import to_toml_dict
from lvstui.config.keepalived import import_keepalived_text
from lvstui.config.load import ConfigErrors, load_config_data, load_config_text
from lvstui.config.schema import (
    BfdCheck,
    DnsCheck,
    FileCheck,
    SmtpCheck,
    TrackFile,
    UdpCheck,
    retry_delay,
)

KEEPALIVED = """
track_file agent {
    file "/run/agent/weight"
    weight 5 reverse
    init_file 2 overwrite
}
virtual_server 192.0.2.1 53 {
    delay_loop 4
    protocol UDP
    real_server 198.51.100.1 53 {
        DNS_CHECK {
            type A
            name www.example.org
        }
        UDP_CHECK {
            payload 0102 3
            require_reply 0a0bXx
            max_reply_length 64
            connect_timeout 2
        }
        SMTP_CHECK {
            helo_name director.example.org
            connect_port 25
        }
        FILE_CHECK {
            track_file agent
            weight 2
        }
        BFD_CHECK {
            name 198.51.100.1
        }
    }
}
"""


def test_keepalived_import_of_every_new_checker() -> None:
    res = import_keepalived_text(KEEPALIVED, "k.conf")
    cfg = res.config
    assert cfg.track_files == (
        TrackFile("agent", "/run/agent/weight", 5, True, init_file=2, init_overwrite=True),
    )
    checks = {type(c): c for c in cfg.virtual_servers[0].real_servers[0].checks}
    dns = checks[DnsCheck]
    assert isinstance(dns, DnsCheck)
    assert (dns.type, dns.name, dns.common.retry) == ("A", "www.example.org", 3)
    assert retry_delay(dns, 4.0) == 4.0  # keepalived: DNS_CHECK retries delay_loop apart
    udp = checks[UdpCheck]
    assert isinstance(udp, UdpCheck)
    assert udp.payload == b"\x01\x02\x03" and udp.require_reply and udp.reply == "0A0BXX"
    assert udp.max_reply_length == 64 and udp.common.connect_timeout == 2
    smtp = checks[SmtpCheck]
    assert isinstance(smtp, SmtpCheck)
    assert smtp.helo_name == "director.example.org" and smtp.common.connect_port == 25
    fc = checks[FileCheck]
    assert isinstance(fc, FileCheck)
    # the check's own weight wins; reverse and init come from the track_file
    assert (fc.file, fc.weight, fc.reverse, fc.init_file) == ("/run/agent/weight", 2, True, 2)
    assert checks[BfdCheck] == BfdCheck(name="198.51.100.1")
    assert not [n for n in res.notes if "left out" in n.message], res.notes


def test_dump_round_trip_keeps_the_new_checks() -> None:
    cfg = import_keepalived_text(KEEPALIVED, "k.conf").config
    again = load_config_data(to_toml_dict(cfg), "k.conf")
    assert again.virtual_servers == cfg.virtual_servers
    assert again.track_files == cfg.track_files


def _toml(rs_extra: str, top: str = "") -> str:
    return f"""{top}
[[virtual_server]]
ip = "192.0.2.1"
port = 25
[[virtual_server.real_server]]
ip = "198.51.100.1"
{rs_extra}
"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[virtual_server.real_server.dns_check]]\ntype = "SRV"', "unknown DNS query type"),
        ('[[virtual_server.real_server.udp_check]]\npayload = "zz"', "not a hex string"),
        (
            "[[virtual_server.real_server.udp_check]]\nmin_reply_length = 9\nmax_reply_length = 3",
            "above max_reply_length",
        ),
        ('[[virtual_server.real_server.file_check]]\ntrack_file = "agnet"', "unknown track_file"),
        (
            '[[virtual_server.real_server.file_check]]\ntrack_file = "agent"\nconnect_port = 1',
            "FILE_CHECK and BFD_CHECK take none",
        ),
        ("[[virtual_server.real_server.bfd_check]]\n", "missing required key `name`"),
        (
            '[[virtual_server.real_server.bfd_check]]\nname = "198.51.100.1"\nvtysh = []',
            "must name a command",
        ),
        (
            '[[virtual_server.real_server.bfd_check]]\nname = "198.51.100.1"\nvtysh = [1]',
            "expected a string",
        ),
        ('[[virtual_server.real_server.smtp_check]]\nhelo = "x"', "unknown key `helo`"),
    ],
)
def test_bad_keys_are_clear_errors(body: str, message: str) -> None:
    top = '[track_file.agent]\nfile = "/tmp/x"\n'
    with pytest.raises(ConfigErrors) as exc:
        load_config_text(_toml(body, top))
    assert message in str(exc.value), str(exc.value)


def test_unknown_track_file_suggests_the_near_name() -> None:
    top = '[track_file.agent]\nfile = "/tmp/x"\n'
    body = '[[virtual_server.real_server.file_check]]\ntrack_file = "agnet"'
    with pytest.raises(ConfigErrors) as exc:
        load_config_text(_toml(body, top))
    assert "agent" in str(exc.value)


def test_bfd_check_reads_bfdd_through_the_configured_vtysh() -> None:
    body = (
        "[[virtual_server.real_server.bfd_check]]\n"
        'name = "198.51.100.1"\nvtysh = ["vtysh", "--vty_socket", "/run/frr/ns1"]'
    )
    cfg = load_config_text(_toml(body))
    (check,) = cfg.virtual_servers[0].real_servers[0].checks
    assert check == BfdCheck(name="198.51.100.1", vtysh=("vtysh", "--vty_socket", "/run/frr/ns1"))
    # the dump writes it back (and leaves the default out)
    again = load_config_data(to_toml_dict(cfg), "dump.toml")
    assert again.virtual_servers[0].real_servers[0].checks == (check,)
    plain = load_config_text(_toml('[[virtual_server.real_server.bfd_check]]\nname = "x"'))
    assert "vtysh" not in str(to_toml_dict(plain))
