"""The key-path → line locator on the TOML forms tomllib accepts."""

from __future__ import annotations

from lvstui.config.locate import Locator, format_key

TEXT = '''\
# comment with [brackets] and key = value
[global_defs]
router_id = "a # not a comment"
notes = """
multi-line [not.a.table]
x = 1
"""
lvs_sync_daemon = { interface = "eth0",  instance = "i" }

[vrrp_instance."my inst"]
virtual_ipaddress = [
  "192.0.2.1",   # first
  { address = "192.0.2.2" },
]

[[virtual_server]]
ip = "192.0.2.9"
[[virtual_server.real_server]]
ip = "a"
[[virtual_server.real_server]]
ip = "b"
[virtual_server.sorry_server]
ip = "c"
[[virtual_server]]
fwmark = 1
[[virtual_server.real_server]]
dotted.key = 1
'''


def test_lines_of_every_form() -> None:
    loc = Locator(TEXT)
    assert loc(("global_defs",)) == 2
    assert loc(("global_defs", "router_id")) == 3
    assert loc(("global_defs", "lvs_sync_daemon", "instance")) == 8
    assert loc(("vrrp_instance", "my inst")) == 10
    assert loc(("vrrp_instance", "my inst", "virtual_ipaddress", 1)) == 13
    assert loc(("vrrp_instance", "my inst", "virtual_ipaddress", 1, "address")) == 13
    assert loc(("virtual_server", 0, "ip")) == 17
    assert loc(("virtual_server", 0, "real_server", 1, "ip")) == 21
    assert loc(("virtual_server", 0, "sorry_server", "ip")) == 23
    assert loc(("virtual_server", 1, "fwmark")) == 25
    assert loc(("virtual_server", 1, "real_server", 0, "dotted", "key")) == 27
    # a key that is not written falls back to its table: where to add it
    assert loc(("virtual_server", 1, "real_server", 0, "weight")) == 26
    assert loc(("nowhere",)) is None


def test_format_key() -> None:
    assert format_key(("virtual_server", 1, "real_server", 0, "weight")) == (
        "virtual_server[1].real_server[0].weight"
    )
    assert format_key(("vrrp_instance", "my inst", "state")) == 'vrrp_instance."my inst".state'
