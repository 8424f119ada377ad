"""BFD_CHECK through FRR's bfdd: a namespace pair, bfdd on both sides, vtysh read."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lvstui.config.schema import BfdCheck, CheckCommon, RealServer, VirtualServer
from lvstui.health.base import resolve_spec
from lvstui.health.bfd import BfdChecker, peer_status
from lvstui.health.build import build_checker
from tests.helpers import require_root

BFDD = "/usr/lib/frr/bfdd"
NS = ("health-bfd-a", "health-bfd-b")
ADDR = ("192.0.2.1", "192.0.2.2")


def test_peer_status_by_label_then_address() -> None:
    doc = [
        {"peer": "192.0.2.2", "status": "up"},
        {"peer": "192.0.2.3", "label": "rs3", "status": "down"},
    ]
    assert peer_status(doc, "192.0.2.2") == "up"
    assert peer_status(doc, "rs3") == "down"
    assert peer_status(doc, "192.0.2.9") is None
    assert peer_status({"not": "a list"}, "192.0.2.2") is None


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


@pytest.fixture(scope="module")
def bfd_pair() -> Iterator[Path]:
    require_root("a BFD namespace pair")
    if not os.path.exists(BFDD) or shutil.which("vtysh") is None:
        pytest.skip("needs FRR's bfdd and vtysh (apt frr; .ci/run installs it)")
    # bfdd runs as user frr: its directory must be reachable by frr (pytest's are 0700)
    base = Path(tempfile.mkdtemp(prefix="health-bfd-"))
    base.chmod(0o755)
    dirs = [base / "a", base / "b"]
    try:
        for ns in NS:
            _sh("ip", "netns", "add", ns)
        _sh("ip", "link", "add", "health-bfa", "type", "veth", "peer", "name", "health-bfb")
        for ns, dev, addr in zip(NS, ("health-bfa", "health-bfb"), ADDR, strict=True):
            _sh("ip", "link", "set", dev, "netns", ns)
            _sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
            _sh("ip", "-n", ns, "link", "set", dev, "up")
        for i, d in enumerate(dirs):
            d.mkdir()
            (d / "bfdd.conf").write_text(
                f"bfd\n peer {ADDR[1 - i]} local-address {ADDR[i]}\n"
                "  receive-interval 100\n  transmit-interval 100\n !\n!\n"
            )
            shutil.chown(d, "frr", "frr")  # bfdd drops to user frr
            _sh(
                "ip", "netns", "exec", NS[i], BFDD, "-d", "-f", str(d / "bfdd.conf"),
                "-i", str(d / "bfdd.pid"), "--vty_socket", str(d),
                "--bfdctl", str(d / "bfdd.sock"), "-z", str(d / "zserv.api"),
                "--log", f"file:{d / 'log'}",
            )  # fmt: skip
        yield dirs[0]
    finally:
        for d in dirs:
            pid = d / "bfdd.pid"
            if pid.exists():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid.read_text().strip()), signal.SIGTERM)
        for ns in NS:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _peers(vty: Path) -> object:
    out = subprocess.run(
        ["vtysh", "--vty_socket", str(vty), "-c", "show bfd peers json"],
        capture_output=True, timeout=10,
    )  # fmt: skip
    return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else []


@pytest.mark.netns
@pytest.mark.frr
async def test_bfd_session_up_then_down(bfd_pair: Path) -> None:
    vty = bfd_pair
    deadline = time.monotonic() + 20
    while peer_status(_peers(vty), ADDR[1]) != "up":
        assert time.monotonic() < deadline, f"BFD session never came up: {_peers(vty)}"
        await asyncio.sleep(0.2)
    spec = resolve_spec(
        BfdCheck(name=ADDR[1], common=CheckCommon(connect_timeout=5)),
        RealServer(ADDR[1], 80),
        VirtualServer("203.0.113.1", 80),
    )
    # the vty socket as a user configures it: bfd_check's `vtysh` key
    vtysh = ("vtysh", "--vty_socket", str(vty))
    checker = build_checker(
        BfdCheck(name=ADDR[1], vtysh=vtysh, common=CheckCommon(connect_timeout=5)),
        RealServer(ADDR[1], 80),
        VirtualServer("203.0.113.1", 80),
    )
    up = await checker.run()
    assert up.ok, up.reason
    unknown = await BfdChecker(
        spec, BfdCheck(name="192.0.2.77"), vtysh=("vtysh", "--vty_socket", str(vty))
    ).run()
    assert not unknown.ok and "no peer 192.0.2.77" in unknown.reason
    # the far side goes silent: detection time 3 × 100 ms, then bfdd says down
    _sh("ip", "-n", NS[1], "link", "set", "health-bfb", "down")
    deadline = time.monotonic() + 20
    while True:
        r = await checker.run()
        if not r.ok:
            break
        assert time.monotonic() < deadline, "bfdd never saw the peer go down"
        await asyncio.sleep(0.1)
    assert "is down" in r.reason, r.reason
    _sh("ip", "-n", NS[1], "link", "set", "health-bfb", "up")


async def test_missing_vtysh_is_down_not_a_crash() -> None:
    spec = resolve_spec(
        BfdCheck(name="x"), RealServer("192.0.2.2", 80), VirtualServer("192.0.2.1", 80)
    )
    r = await BfdChecker(spec, BfdCheck(name="x"), vtysh=("/nonexistent/vtysh",)).run()
    assert not r.ok and "cannot run" in r.reason


async def test_the_configured_vtysh_command_is_the_one_run(tmp_path: Path) -> None:
    """bfd_check's `vtysh` (argv) reaches the checker: a stand-in that answers only when
    called with the configured arguments."""
    fake = tmp_path / "my-vtysh"
    fake.write_text(
        "#!/bin/sh\n"
        '[ "$1 $2 $3 $4" = "--vty_socket /run/frr/ns1 -c show bfd peers json" ] || exit 3\n'
        'echo \'[{"peer": "192.0.2.5", "status": "up"}]\'\n'
    )
    fake.chmod(0o755)
    real, vs = RealServer("192.0.2.5", 80), VirtualServer("192.0.2.1", 80)
    ours = (str(fake), "--vty_socket", "/run/frr/ns1")
    up = await build_checker(BfdCheck(name="192.0.2.5", vtysh=ours), real, vs).run()
    assert up.ok, up.reason
    wrong = await build_checker(BfdCheck(name="192.0.2.5", vtysh=(str(fake),)), real, vs).run()
    assert not wrong.ok and "exited 3" in wrong.reason
