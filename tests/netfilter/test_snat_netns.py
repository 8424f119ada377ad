"""The source-NAT rule lvstui writes, in a real kernel: client → director (routing) → a real
server that has no route back to the client. Without the rule (or with one for another port)
the server's answers go nowhere; with it they come back, and the server sees the director's
address. IPVS itself is not in the host kernel: its part (conntrack for IPVS connections)
is checked in the IPVS guest where that kernel has nftables NAT (tests/engine/guest_engine.py).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from lvstui.netfilter.nft import NftCommand, delete_table, replace_table
from lvstui.netfilter.snat import FAMILY, TABLE, SnatTarget, snat_table
from tests.helpers import require_cmd, require_root

pytestmark = [pytest.mark.root, pytest.mark.netns]

SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("203.0.113.11", 8080)); s.listen(8); print("ready", flush=True)
for _ in range(20):
    c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()
"""
CLIENT = """
import socket
s = socket.create_connection(("203.0.113.11", 8080), timeout=1.5)
print(s.recv(100).decode())
"""


def ns(name: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", name, *argv], capture_output=True, text=True, timeout=20
    )


def connect(cli: str) -> str:
    """What the server saw as its peer; "" when the connection failed."""
    proc = ns(cli, sys.executable, "-c", CLIENT)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def test_rule_makes_a_server_without_a_route_back_answer() -> None:
    require_root("network namespaces")
    require_cmd("ip", "nft")
    tag = f"lvt-snat-{os.getpid()}"
    cli, dr, rs = f"{tag}-c", f"{tag}-d", f"{tag}-r"
    made: list[str] = []
    server = None
    try:
        for name in (cli, dr, rs):
            subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
            made.append(name)
        for line in (
            f"ip -n {cli} link add c0 type veth peer name dc netns {dr}",
            f"ip -n {rs} link add r0 type veth peer name dr netns {dr}",
            f"ip -n {cli} addr add 198.51.100.2/24 dev c0",
            f"ip -n {dr} addr add 198.51.100.1/24 dev dc",
            f"ip -n {dr} addr add 203.0.113.1/24 dev dr",
            f"ip -n {rs} addr add 203.0.113.11/24 dev r0",
            *(f"ip -n {n} link set {d} up" for n, d in ((cli, "c0"), (dr, "dc"), (dr, "dr"))),
            *(f"ip -n {n} link set lo up" for n in (cli, dr, rs)),
            f"ip -n {rs} link set r0 up",
            f"ip -n {cli} route add default via 198.51.100.1",  # the server has no route back
        ):
            subprocess.run(line.split(), check=True, timeout=10)
        assert ns(dr, "sysctl", "-qw", "net.ipv4.ip_forward=1").returncode == 0
        server = subprocess.Popen(
            ["ip", "netns", "exec", rs, sys.executable, "-c", SERVER],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        nft = NftCommand(prefix=("ip", "netns", "exec", dr))

        def with_rule(*targets: SnatTarget) -> str:
            spec = snat_table(targets)
            asyncio.run(nft.run(replace_table(spec) if spec else delete_table(FAMILY, TABLE)))
            return connect(cli)

        assert with_rule() == ""  # no rule: the answer has no way back
        assert with_rule(SnatTarget("203.0.113.11", "tcp", 8081)) == ""  # another port
        assert with_rule(SnatTarget("203.0.113.11", "udp", 8080)) == ""  # another protocol
        assert with_rule(SnatTarget("203.0.113.11", "tcp", 8080)) == "203.0.113.1"
        to = SnatTarget("203.0.113.11", "tcp", 8080, to="203.0.113.1")
        assert with_rule(to) == "203.0.113.1"  # snat to a given address
        assert with_rule() == ""  # the table removed: back to nothing
    finally:
        if server is not None:
            server.kill()
            server.wait(timeout=10)
            if server.stdout is not None:
                server.stdout.close()
        for name in made:
            subprocess.run(["ip", "netns", "del", name], check=False, timeout=10)
