"""net_namespace: the daemon, started in the host's namespace, runs VRRP (and the rest) in
the named one: the VIP and the static route appear there and nowhere else; a namespace that
is not there is an error at start, as under keepalived."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lvstui.config.keepalived.importer import import_keepalived_text
from lvstui.config.load import ConfigErrors, load_config_text
from lvstui.errors import ConfigError
from lvstui.netns import enter_namespace
from tests.helpers import require_cmd, require_root, wait_until
from tests.vrrp.nsdaemon import REPO, daemon, sh, veth_netns


def test_a_missing_namespace_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="network namespace 'lb' not found") as exc:
        enter_namespace("lb", tmp_path)
    assert "ip netns add lb" in exc.value.hint
    enter_namespace("", tmp_path)  # none: stay where we are


def test_the_name_is_checked_and_imported() -> None:
    with pytest.raises(ConfigErrors, match="not a namespace name"):
        load_config_text('[global_defs]\nnet_namespace = "../x"\n')
    res = import_keepalived_text("net_namespace lb\nglobal_defs {\n router_id a\n}\n", "k")
    assert res.config.global_defs.net_namespace == "lb" and not res.notes


def config(ns: str) -> str:
    return (
        f'[global_defs]\nnet_namespace = "{ns}"\n'
        'static_routes = ["192.0.2.0/24 dev eth0 table 102"]\n\n'
        '[lvstui]\ndataplane = "userspace"\n\n'
        '[vrrp_instance.VI_1]\ninterface = "eth0"\nvirtual_router_id = 62\nversion = 3\n'
        'advert_int = 0.1\nvirtual_ipaddress = ["198.51.100.9/24"]\n'
    )


@pytest.fixture
def netns() -> Iterator[str]:
    require_root("namespace tests")
    require_cmd("ip")
    with veth_netns(f"kanet-ns{os.getpid() % 100000}") as ns:
        yield ns


@pytest.mark.netns
@pytest.mark.root
def test_the_daemon_runs_vrrp_inside_the_namespace(netns: str) -> None:
    with daemon(None, config(netns), prefix="kanet-") as (proc, cfg, err):
        tmp = cfg.parent
        inside = lambda: sh("ip", "-n", netns, "-4", "-o", "addr", "show").stdout  # noqa: E731
        wait_until(lambda: "198.51.100.9/24" in inside(), 15)
        assert "198.51.100.9" not in sh("ip", "-4", "-o", "addr", "show").stdout
        route = sh("ip", "-n", netns, "route", "show", "table", "102").stdout
        assert "192.0.2.0/24 dev eth0" in route
        # the control socket is a file: reachable from the host's namespace
        st = subprocess.run(
            [sys.executable, "-m", "lvstui", "status", "--socket", f"{tmp}/control.sock"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert st.returncode == 0, st.stderr
    assert "198.51.100.9/" not in sh("ip", "-n", netns, "-4", "-o", "addr", "show").stdout
    assert proc.returncode == 0, err.read_text()
