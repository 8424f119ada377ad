"""A real server's `name` from config.toml reaches its view (the console shows it)."""

from __future__ import annotations

from lvstui.clock import FakeClock
from lvstui.config.load import load_config_text
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine

TEXT = """
[[virtual_server]]
ip = "192.0.2.1"
port = 80
name = "web"
[[virtual_server.real_server]]
ip = "198.51.100.1"
port = 80
name = "web-01.rack3"
[[virtual_server.real_server]]
ip = "198.51.100.2"
port = 80
"""


async def test_real_server_names_reach_the_snapshot() -> None:
    e = Engine(load_config_text(TEXT), dataplane=MemoryDataplane(), clock=FakeClock())
    await e.start()
    try:
        sv = e.snapshot().services[0]
        assert sv.name == "web"
        assert [r.name for r in sv.real_servers] == ["web-01.rack3", ""]
    finally:
        await e.stop()


def test_an_empty_name_is_refused() -> None:
    import pytest

    from lvstui.config.load import ConfigErrors

    with pytest.raises(ConfigErrors, match="name"):
        load_config_text(TEXT.replace('"web-01.rack3"', '""'))
