"""Real and sorry servers must fit their virtual server: family and port (issue 10, item 6).
A `::1` sorry server on an IPv4 service reset every client; a server on port 0 in a service
on port 80 black-holed a share of the connections."""

from __future__ import annotations

import pytest

from lvstui.config.fit import family_problem, port_problem
from lvstui.config.load import ConfigErrors, load_config_text
from lvstui.config.schema import LbKind

SERVICE = """\
[[virtual_server]]
ip = "{vip}"
port = {port}
lb_kind = "{kind}"
{extra}
[[virtual_server.real_server]]
ip = "{rip}"
port = {rport}
{sorry}
"""


def load(
    *,
    vip: str = "192.0.2.9",
    port: int = 80,
    kind: str = "NAT",
    rip: str = "192.0.2.98",
    rport: int = 80,
    sorry: str = "",
    extra: str = "",
) -> list[str]:
    text = SERVICE.format(
        vip=vip, port=port, kind=kind, rip=rip, rport=rport, sorry=sorry, extra=extra
    )
    try:
        load_config_text(text, "fit.toml")
    except ConfigErrors as exc:
        return [f"{e.key}: {e.detail}" for e in exc.errors]
    return []


def sorry(ip: str, port: int | None = None, kind: str = "") -> str:
    lines = ["[virtual_server.sorry_server]", f'ip = "{ip}"']
    if port is not None:
        lines.append(f"port = {port}")
    if kind:
        lines.append(f'lb_kind = "{kind}"')
    return "\n".join(lines) + "\n"


def test_a_sorry_server_of_the_other_family_is_refused() -> None:
    (err,) = load(sorry=sorry("::1", 0))[-1:]
    assert "virtual_server[0].sorry_server" in err
    errs = load(sorry=sorry("::1", 8080))
    assert errs == [
        "virtual_server[0].sorry_server.ip: an IPv6 sorry server (::1) in an IPv4 service "
        "needs TUN forwarding, not NAT"
    ]
    assert load(sorry=sorry("::1", 80, "TUN")) == []  # tunnelling crosses families
    assert load(vip="2001:db8::9", rip="2001:db8::98", sorry=sorry("192.0.2.1", 80)) != []


def test_a_sorry_server_on_port_0_in_a_port_service_is_refused() -> None:
    errs = load(sorry=sorry("192.0.2.1", 0))
    assert errs == [
        "virtual_server[0].sorry_server.port: a sorry server on port 0 in a service on "
        "port 80: nothing would answer there"
    ]
    assert load(sorry=sorry("192.0.2.1")) == []  # the service's port by default
    # an all-ports service keeps the packet's port: 0 is right there
    assert (
        load(port=0, rport=0, extra="persistence_timeout = 60", sorry=sorry("192.0.2.1", 0)) == []
    )


def test_real_servers_of_a_fwmark_service_follow_its_family() -> None:
    text = """\
[[virtual_server]]
fwmark = 7
family = 6
lb_kind = "NAT"
[[virtual_server.real_server]]
ip = "192.0.2.98"
port = 0
"""
    with pytest.raises(ConfigErrors, match=r"an IPv4 real server .* in an IPv6 service"):
        load_config_text(text, "fw.toml")
    load_config_text(text.replace("192.0.2.98", "2001:db8::98"), "fw.toml")


def test_the_rules() -> None:
    assert family_problem(4, "10.0.0.1", LbKind.NAT) == ""
    assert "TUN" in family_problem(4, "2001:db8::1", LbKind.DR)
    assert family_problem(6, "10.0.0.1", LbKind.TUN) == ""
    assert "port 0" in port_problem(80, False, LbKind.NAT, 0)
    assert port_problem(80, True, LbKind.NAT, 0) == ""  # fwmark: the packet's port
    assert port_problem(0, False, LbKind.NAT, 0) == ""  # all-ports service
    assert "cannot change the port" in port_problem(80, False, LbKind.DR, 8080)
    assert port_problem(80, False, LbKind.NAT, 8080) == ""
