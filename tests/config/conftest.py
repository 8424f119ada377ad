"""Shared fixtures of the config tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.helpers import require_cmd, require_root

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
    name = f"lvt-kaimp-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
    try:
        for a, b in PAIRS:
            subprocess.run(
                ["ip", "-n", name, "link", "add", a, "type", "veth", "peer", "name", b],
                check=True,
                timeout=10,
            )
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=10)
