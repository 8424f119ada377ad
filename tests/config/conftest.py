"""Shared fixtures of the config tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.helpers import require_cmd, require_root


@pytest.fixture(scope="module")
def interfaces_netns() -> Iterator[str]:
    """keepalived -t wants the interfaces a file names to exist: a namespace of our own
    holds eth0/eth1 and ens192/ens224 (veth pairs), whatever the host's NICs are called."""
    require_cmd("keepalived", "ip")
    require_root("creating a network namespace for keepalived -t")
    name = f"lvt-kaimp-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
    try:
        for a, b in (("eth0", "eth1"), ("ens192", "ens224")):
            subprocess.run(
                ["ip", "-n", name, "link", "add", a, "type", "veth", "peer", "name", b],
                check=True,
                timeout=10,
            )
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=10)
