"""[lvstui.group] in config.toml: read, defaulted, and refused with the key named."""

from __future__ import annotations

import asyncio
import socket

import pytest

from lvstui.config.load import load_config_text
from lvstui.config.schema import DEFAULT_GROUP_STARTUP_WAIT, GroupSettings
from lvstui.errors import ConfigError


def load(group: str) -> GroupSettings | None:
    return load_config_text("[lvstui]\n" + group).lvstui.group


def test_without_the_table_nothing_changes() -> None:
    assert load("") is None


def test_a_full_group_table() -> None:
    g = load(
        '[lvstui.group]\nname = "lb1"\nlisten = "[2001:db8::11]:7946"\n'
        'peers = ["198.51.100.12:7946", "[2001:db8::13]:7946"]\n'
        'key_file = "/etc/lvstui/group.pem"\n'
        "startup_wait = 2.5\n"
    )
    assert g == GroupSettings(
        "lb1",
        "[2001:db8::11]:7946",
        ("198.51.100.12:7946", "[2001:db8::13]:7946"),
        "/etc/lvstui/group.pem",
        2.5,
    )


def test_name_defaults_to_the_hostname() -> None:
    g = load('[lvstui.group]\nlisten = "0.0.0.0:7946"\npeers = []\nkey_file = "k"\n')
    assert g is not None and g.name == socket.gethostname()
    assert g.startup_wait == DEFAULT_GROUP_STARTUP_WAIT


def test_peers_may_be_host_names() -> None:
    g = load(
        '[lvstui.group]\nlisten = "0.0.0.0:7946"\nkey_file = "k"\n'
        'peers = ["lb2.example.net:7946", "lb3:7946", "198.51.100.14:7946"]\n'
    )
    assert g is not None
    assert g.peers == ("lb2.example.net:7946", "lb3:7946", "198.51.100.14:7946")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('peers = []\nkey_file = "k"', "listen"),
        ('listen = "0.0.0.0:7946"\nkey_file = "k"', "peers"),
        ('listen = "0.0.0.0:7946"\npeers = []', "key_file"),
        ('listen = "lb1.example:7946"\npeers = []\nkey_file = "k"', "listen"),
        ('listen = "0.0.0.0"\npeers = []\nkey_file = "k"', "listen"),
        ('listen = "0.0.0.0:7946"\npeers = ["2001:db8::1:7946"]\nkey_file = "k"', "peers"),
        ('listen = "0.0.0.0:7946"\npeers = ["198.51.100.12:0"]\nkey_file = "k"', "peers"),
        ('listen = "0.0.0.0:7946"\npeers = ["lb2.example"]\nkey_file = "k"', "peers"),
        ('listen = "0.0.0.0:7946"\npeers = ["lb_2.example:7946"]\nkey_file = "k"', "peers"),
        ('listen = "0.0.0.0:7946"\npeers = ["lb2.example:70000"]\nkey_file = "k"', "peers"),
        ('listen = "0.0.0.0:7946"\npeers = []\nkey_file = "k"\nstartup_wait = -1', "startup_wait"),
        ('listen = "0.0.0.0:7946"\npeers = []\nkey_file = "k"\nleader = true', "leader"),
    ],
)
def test_bad_group_settings_are_refused_naming_the_key(body: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load("[lvstui.group]\n" + body + "\n")
    assert needle in str(info.value)


async def test_a_reload_that_changes_the_group_says_it_waits_for_a_restart() -> None:
    from lvstui.dataplane.memory import MemoryDataplane
    from lvstui.engine.engine import Engine
    from lvstui.model import LogEvent

    group = '[lvstui.group]\nlisten = "127.0.0.1:7946"\nkey_file = "k"\npeers = [{}]\n'
    old = load_config_text("[lvstui]\n" + group.format('"127.0.0.1:7947"'))
    new = load_config_text("[lvstui]\n" + group.format('"127.0.0.1:7948"'))
    engine = Engine(old, dataplane=MemoryDataplane())
    await engine.start()
    try:
        events = engine.subscribe()
        assert (await engine.reload(new)).ok
        async with asyncio.timeout(5):
            async for ev in events:
                if isinstance(ev, LogEvent) and "[lvstui] group changed" in ev.message:
                    assert "next restart" in ev.message and ev.level == "warning"
                    break
    finally:
        await engine.stop()
