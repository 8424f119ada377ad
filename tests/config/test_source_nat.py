"""source_nat / source_nat_address: read from TOML, refused where they could do nothing,
warned about on the userspace dataplane, written back by the dump."""

from __future__ import annotations

import pytest
import tomli_w

from lvstui.config.dump import to_toml_dict
from lvstui.config.lint import Level, lint
from lvstui.config.load import load_config_text
from lvstui.errors import ConfigError

BASE = """\
[lvstui]
dataplane = "{dp}"

[[virtual_server]]
ip = "{vip}"
port = 80
lb_kind = "{kind}"
{extra}
[[virtual_server.real_server]]
ip = "{rs}"
port = 80
"""


def text(extra: str, *, dp: str = "ipvs", kind: str = "NAT", v6: bool = False) -> str:
    vip, rs = ("2001:db8::9", "2001:db8::98") if v6 else ("192.0.2.9", "192.0.2.98")
    return BASE.format(dp=dp, vip=vip, rs=rs, kind=kind, extra=extra)


def test_read_and_dumped_back() -> None:
    cfg = load_config_text(text('source_nat = true\nsource_nat_address = "198.51.100.1"\n'))
    vs = cfg.virtual_servers[0]
    assert (vs.source_nat, vs.source_nat_address) == (True, "198.51.100.1")
    again = load_config_text(tomli_w.dumps(to_toml_dict(cfg))).virtual_servers[0]
    assert (again.source_nat, again.source_nat_address) == (True, "198.51.100.1")
    assert load_config_text(text("")).virtual_servers[0].source_nat is False


@pytest.mark.parametrize(
    ("extra", "kind", "v6", "says"),
    [
        ('source_nat_address = "198.51.100.1"\n', "NAT", False, "without source_nat"),
        ('source_nat = true\nsource_nat_address = "198.51.100.1"\n', "NAT", True, "family"),
        ("source_nat = true\n", "DR", False, "lb_kind is DR"),
        ("source_nat = 1\n", "NAT", False, "source_nat"),
    ],
)
def test_refused_where_it_could_do_nothing(extra: str, kind: str, v6: bool, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        load_config_text(text(extra, kind=kind, v6=v6))


def test_userspace_dataplane_warns_that_it_is_ignored() -> None:
    ws = [f for f in lint(load_config_text(text("source_nat = true\n", dp="userspace")))]
    (w,) = [f for f in ws if f.key == "virtual_server[0].source_nat"]
    assert w.level is Level.WARNING and "ignored with the userspace dataplane" in w.message
    ipvs = lint(load_config_text(text("source_nat = true\n")))
    assert not [f for f in ipvs if f.key == "virtual_server[0].source_nat"]
