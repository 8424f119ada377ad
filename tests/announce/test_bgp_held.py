"""check-config: a VIP announced over BGP by the route handoff must be held by the host (an
address on lo or a dummy, or a local route), or the router sends its traffic to a director
whose kernel does not take it. Read from the kernel (`ip route get`) in a namespace of ours."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lvstui.config.lint import HostFacts, lint
from lvstui.config.load import load_config_text
from tests.config.test_announce import BGP_HEAD, cfg_text
from tests.helpers import REPO, network_namespace, require_cmd, require_root

VIP = "198.51.100.1"
SAYS = "is announced over BGP but this host does not hold it"


def held_findings(text: str, host: HostFacts | None) -> list[str]:
    return [f.message for f in lint(load_config_text(text), host) if SAYS in f.message]


def test_unheld_bgp_vip_is_a_finding_with_the_route_handoff_only() -> None:
    text = cfg_text(BGP_HEAD, (VIP, 80, "mh", ""))
    (found,) = held_findings(text, HostFacts(local_vips=frozenset()))
    assert found.startswith(VIP)
    assert held_findings(text, HostFacts(local_vips=frozenset({VIP}))) == []
    assert held_findings(text, HostFacts()) == []  # not read
    # the address handoff makes the VIP local on lvstui's device while it is announced
    frr = cfg_text(BGP_HEAD + 'handoff = "address"\n', (VIP, 80, "mh", ""))
    assert held_findings(frr, HostFacts(local_vips=frozenset())) == []
    # a VIP by vrrp: VRRP holds it on the master
    assert held_findings(cfg_text("", (VIP, 80, "mh", "")), HostFacts(local_vips=frozenset())) == []


@pytest.mark.root
@pytest.mark.netns
def test_check_config_reads_it_from_the_kernel(tmp_path) -> None:
    require_root("a network namespace")
    require_cmd("ip")
    cfg = tmp_path / "bgp.toml"
    cfg.write_text(cfg_text(BGP_HEAD, (VIP, 80, "mh", "")))

    def check(ns: str) -> tuple[int, str]:
        cmd = ["ip", "netns", "exec", ns, sys.executable, "-m", "lvstui"]
        r = subprocess.run(
            [*cmd, "check-config", "-f", str(cfg)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return r.returncode, r.stdout + r.stderr

    with network_namespace(f"audit-held-{os.getpid()}") as ns:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True, timeout=10)
        rc, said = check(ns)
        assert rc == 0 and SAYS in said, said  # a warning: check-config still passes
        subprocess.run(
            ["ip", "-n", ns, "addr", "add", f"{VIP}/32", "dev", "lo"], check=True, timeout=10
        )
        rc, said = check(ns)
        assert rc == 0 and SAYS not in said and "lb_algo" not in said, said
