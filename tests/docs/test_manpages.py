"""The man pages: generated from the code, checked in up to date, rendered by groff without a
warning, and complete (every option of the parser; every key the config loader accepts)."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lvstui.cli import build_parser
from lvstui.config.keydoc import KEY_DOCS
from lvstui.config.load import ConfigErrors, load_config_data, load_config_text
from lvstui.config.reference import tables
from lvstui.manpage import PAGES, cli_page, toml_page
from lvstui.manpage.configfile import _EXAMPLE
from lvstui.manpage.roff import escape
from tests.helpers import REPO

UNKNOWN = "zz_not_a_key"


@pytest.mark.parametrize("name", sorted(PAGES))
def test_checked_in_page_is_up_to_date(name: str) -> None:
    path = REPO / "man" / name
    assert path.exists(), f"{path} is missing: run python -m lvstui.manpage --write"
    assert path.read_text(encoding="utf-8") == PAGES[name](), (
        f"man/{name} is stale: run python -m lvstui.manpage --write"
    )


def test_check_option_finds_a_stale_page(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "lvstui.manpage", "--dir", str(tmp_path)]
    assert subprocess.run([*cmd, "--check"], capture_output=True).returncode == 1
    assert subprocess.run([*cmd, "--write"], capture_output=True).returncode == 0
    assert subprocess.run([*cmd, "--check"], capture_output=True).returncode == 0
    (tmp_path / "lvstui.8").write_text(cli_page().replace("drain", "drian"), encoding="utf-8")
    assert subprocess.run([*cmd, "--check"], capture_output=True).returncode == 1


@pytest.mark.parametrize("name", sorted(PAGES))
def test_groff_renders_the_page_without_a_warning(name: str) -> None:
    groff = shutil.which("groff")
    if groff is None:
        pytest.skip("groff is not installed (apt: groff-base, listed in .ci/apt.d/docs.txt)")
    text = PAGES[name]()
    done = subprocess.run(
        [groff, "-man", "-ww", "-z"], input=text, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    # and it says something: the rendered page has its sections and some length
    out = subprocess.run(
        [groff, "-man", "-Tascii", "-P-cbou"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "NAME" in out and "SEE ALSO" in out and len(out.splitlines()) > 100


def _walk(parser: argparse.ArgumentParser) -> list[tuple[argparse.ArgumentParser, Any]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                out += _walk(child)
        elif not isinstance(action, argparse._HelpAction):
            out.append((parser, action))
    return out


def test_lvstui_8_has_every_command_and_option_with_its_help() -> None:
    page = cli_page()
    parser = build_parser()
    seen = 0
    for p, action in _walk(parser):
        assert f'.SS "{escape(p.prog)}"' in page or p is parser, p.prog
        assert action.help, f"{p.prog} {action.option_strings or action.dest}: no help text"
        for opt in action.option_strings:
            assert f"\\fB{escape(opt)}\\fR" in page, f"{p.prog} {opt} is not in lvstui(8)"
        assert escape(" ".join(action.help.split()).split("%")[0]) in page, action.help
        seen += 1
    assert seen > 40  # every command's options, not just the top level


def _probe() -> dict[str, Any]:
    """A config with an unknown key in every table, so the loader names the keys it allows."""
    u: dict[str, Any] = {UNKNOWN: 1}
    check = {**u}
    url = {"path": "/", **u}
    real = {
        "ip": "192.0.2.2",
        "port": 80,
        **u,
        "tcp_check": [check],
        "ping_check": [check],
        "misc_check": [{"misc_path": "/bin/true", **u}],
        "http_get": [{**u, "url": [url]}],
        "ssl_get": [{**u, "url": [url]}],
        "smtp_check": [check],
        "dns_check": [check],
        "udp_check": [check],
        "file_check": [{"track_file": "NAME", **u}],
        "bfd_check": [{"name": "192.0.2.2", **u}],
    }
    return {
        "global_defs": {
            **u,
            "lvs_sync_daemon": {"interface": "lo", "instance": "NAME", **u},
            "lvs_timeouts": u,
        },
        "lvstui": {
            **u,
            "group": {"listen": "192.0.2.1:7946", "peers": [], "key_file": "k", **u},
            "announce": u,
        },
        "vrrp_script": {"NAME": {"script": "/bin/true", **u}},
        "track_file": {"NAME": {"file": "/run/x", **u}},
        "vrrp_track_process": {"NAME": {"process": "nginx", **u}},
        "vrrp_sync_group": {"NAME": {"group": ["NAME"], **u}},
        "vrrp_instance": {
            "NAME": {
                "interface": "lo",
                "virtual_router_id": 5,
                **u,
                "authentication": {"auth_type": "PASS", "auth_pass": "x", **u},
                "virtual_ipaddress": [{"address": "192.0.2.1", **u}],
            }
        },
        "virtual_server": [
            {
                "ip": "192.0.2.1",
                "port": 80,
                **u,
                "sorry_server": {"ip": "192.0.2.5", **u},
                "real_server": [real],
            }
        ],
    }


def _loader_keys() -> dict[str, set[str]]:
    with pytest.raises(ConfigErrors) as info:
        load_config_data(_probe(), "probe.toml")
    allowed: dict[str, set[str]] = {}
    for e in info.value.errors:
        if not e.key.endswith(UNKNOWN):
            continue
        m = re.search(r"keys allowed here: (.*)", e.hint)
        assert m, f"{e.key}: no list of allowed keys in the hint {e.hint!r}"
        path = re.sub(r"\[\d+\]", "[]", e.key.removesuffix(UNKNOWN).rstrip("."))
        allowed[path] = set(m.group(1).split(", "))
    return allowed


def test_lvstui_toml_5_documents_exactly_the_keys_the_loader_accepts() -> None:
    loader = _loader_keys()
    documented = {t.path: {k.name for k in t.keys} for t in tables() if t.path != "lvstui.keys"}
    assert set(loader) - {""} == set(documented), "a table is missing on one side"
    for path, keys in documented.items():
        assert keys == loader[path], (
            f"[{path}] documented but not accepted: {sorted(keys - loader[path])}; "
            f"accepted but not documented: {sorted(loader[path] - keys)} "
            "(describe new keys in lvstui/config/keydoc.py, map them in config/reference.py)"
        )


def test_every_key_has_a_type_and_a_description() -> None:
    keys = [k for t in tables() for k in t.keys]
    assert len(keys) > 120
    for k in keys:
        assert k.type and k.description, k


def test_keydoc_describes_no_field_the_schema_lacks() -> None:
    from dataclasses import fields

    for cls, docs in KEY_DOCS.items():
        names = {f.name for f in fields(cls)}
        assert set(docs) <= names, f"{cls.__name__}: {sorted(set(docs) - names)}"


def test_the_pages_show_schema_defaults() -> None:
    page = toml_page()
    # a few defaults from the schema, as they must read
    for key, default in (("priority", "100"), ("delay_loop", "60"), ("lb_algo", '"wlc"')):
        assert f"\\fB{key}\\fR (\\fIinteger\\fR, default \\fB{default}\\fR)" in page or (
            f"\\fB{key}\\fR (" in page and f"default \\fB{escape(default)}\\fR" in page
        ), key


def test_the_example_in_lvstui_toml_5_is_a_valid_config() -> None:
    cfg = load_config_text(_EXAMPLE, "example.toml")
    assert cfg.virtual_servers[0].real_servers[0].weight == 2


def test_escape_keeps_roff_out_of_text() -> None:
    assert escape(".start") == "\\&.start"
    assert escape("a\\b --x ’") == "a\\eb \\-\\-x \\[u2019]"
    assert escape("'quoted'") == "\\(aqquoted\\(aq"  # escaped: no request
