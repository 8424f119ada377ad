"""Shared fixtures of the config tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.helpers import network_namespace, require_cmd, require_root

# eth0.1 and ens7f1.57 are VLAN names in the corpus; keepalived -t only asks that they exist
PAIRS = (
    ("eth0", "eth1"),
    ("eth2", "eth3"),
    ("ens192", "ens224"),
    ("ens3", "ens18"),
    ("enp1s0", "enp0s3"),
    ("eno33554984", "wlp3s0"),
    ("em1", "em2"),
    ("ens7f0", "ens7f1"),
    ("eth0.1", "ens7f1.57"),
)


@pytest.fixture(scope="module")
def interfaces_netns() -> Iterator[str]:
    """keepalived -t wants the interfaces a file names to exist: a namespace of our own holds
    the names our fixtures and the corpus use (veth pairs, as the host kernel may lack dummy
    and vlan links), whatever the host's NICs are called."""
    require_cmd("keepalived", "ip")
    require_root("creating a network namespace for keepalived -t")
    with network_namespace(f"lvt-kaimp-{os.getpid()}", *PAIRS) as name:
        yield name


@pytest.fixture(autouse=True)
def _host_facts_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    """check-config's findings that depend on this host's sysctls (forwarding for NAT) would
    make these tests depend on the machine; here the host is unknown, and the tests of those
    findings say what the host is (tests/config/test_lint.py, tests/cli/test_director.py)."""
    from lvstui.commands import check_config
    from lvstui.config.lint import HostFacts

    monkeypatch.setattr(check_config, "_host_facts", lambda config: HostFacts())
