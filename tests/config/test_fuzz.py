"""Bad input of any shape gets a ConfigError, never a crash (property tests)."""

from __future__ import annotations

from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lvstui.config.keepalived import import_keepalived_text
from lvstui.config.load import load_config_data, load_config_text
from lvstui.errors import ConfigError

KEYS = [
    "global_defs",
    "lvstui",
    "vrrp_script",
    "vrrp_sync_group",
    "vrrp_instance",
    "virtual_server",
    "real_server",
    "tcp_check",
    "http_get",
    "ssl_get",
    "misc_check",
    "ping_check",
    "url",
    "ip",
    "port",
    "fwmark",
    "weight",
    "lb_algo",
    "lb_kind",
    "lb_flags",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "version",
    "state",
    "authentication",
    "auth_type",
    "auth_pass",
    "virtual_ipaddress",
    "group",
    "track_script",
    "sorry_server",
    "persistence_timeout",
    "status_code",
    "digest",
    "path",
    "misc_path",
    "connect_timeout",
    "retry",
    "delay_loop",
    "lvs_sync_daemon",
    "instance",
    "smtp_server",
    "keys",
    "dataplane",
    "linuxfr",
    "address",
    "quorum",
    "family",
    "script",
]
scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(
        [
            "",
            "rr",
            "DR",
            "192.0.2.9",
            "2001:db8::1/64 dev x",
            "MASTER",
            "200-299",
            "sh-port",
            "linuxfr",
            'a b "c',
            "/x",
        ]
    ),
    st.text(max_size=6),
)
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    ),
    max_leaves=25,
)
documents = st.dictionaries(st.sampled_from(KEYS[:6]), values, max_size=4)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_data_loads_or_raises_config_error(data: dict[str, Any]) -> None:
    try:
        load_config_data(data, "fuzz.toml")
    except ConfigError as exc:
        assert str(exc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_toml_text_loads_or_raises_config_error_with_lines(data: dict[str, Any]) -> None:
    try:
        text = tomli_w.dumps(data)
    except (TypeError, ValueError):
        return  # not representable as a TOML document (e.g. a list at the top)
    try:
        load_config_text(text, "fuzz.toml")
    except ConfigError as exc:
        for e in getattr(exc, "errors", (exc,)):
            # every error found in a real file has a line
            assert e.line is not None and 1 <= e.line <= max(1, len(text.splitlines())), e


kwords = st.sampled_from(
    [
        "{",
        "}",
        "{",
        "}",
        "virtual_server",
        "real_server",
        "vrrp_instance",
        "global_defs",
        "HTTP_GET",
        "url",
        "path",
        "192.0.2.1",
        "80",
        "weight",
        "!",
        "#",
        '"',
        '"a b"',
        "\n",
        "\n",
        "\n",
        "include",
        "lb_algo",
        "rr",
        "fwmark",
        "state",
        "SLAVE",
        "TCP_CHECK",
    ]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(kwords, max_size=40))
def test_any_keepalived_text_imports_or_raises_config_error(words: list[str]) -> None:
    text = " ".join(words).replace("include", "include_not")  # no file system access
    try:
        import_keepalived_text(text, "fuzz.conf")
    except ConfigError as exc:
        assert str(exc)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))] + [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))] + [path]
    return [path]


def _example() -> dict[str, Any]:
    import tomllib

    from tests.helpers import REPO

    return tomllib.loads((REPO / "config.toml.example").read_text())


EXAMPLE_PATHS = [p for p in _leaves(_example()) if p]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(EXAMPLE_PATHS), values)
def test_one_changed_value_in_the_example_never_crashes(path: tuple[Any, ...], new: Any) -> None:
    data = _example()
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = new
    try:
        text = tomli_w.dumps(data)
    except (TypeError, ValueError):
        return
    try:
        load_config_text(text, "fuzz.toml")
    except ConfigError as exc:
        for e in getattr(exc, "errors", (exc,)):
            assert e.line is not None, e
