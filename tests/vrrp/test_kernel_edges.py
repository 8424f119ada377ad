"""The kernel edges on a real veth pair in namespaces: VIPs through pyroute2 (label, scope,
IPv6 nodad, idempotent), gratuitous ARP / unsolicited NA frames as seen on the wire, and a
VRRPv3-over-IPv6 pair of lvstui processes."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import require_cmd, require_root, wait_until
from tests.vrrp.nsdaemon import REPO, sh

pytestmark = [pytest.mark.netns]


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[str, str]]:
    require_root("namespace tests")
    require_cmd("ip")
    base = f"lvt-vrrp-e{os.getpid() % 100000}"
    a, b = f"{base}-a", f"{base}-b"
    for n in (a, b):
        sh("ip", "netns", "del", n, check=False)
    try:
        for n in (a, b):
            sh("ip", "netns", "add", n)
            sh(
                "ip",
                "netns",
                "exec",
                n,
                "sysctl",
                "-qw",
                "net.ipv6.conf.default.accept_dad=0",
                "net.ipv6.conf.all.accept_dad=0",
            )
            sh("ip", "-n", n, "link", "set", "lo", "up")
        sh("ip", "-n", a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b)
        for n, last in ((a, 1), (b, 2)):
            sh("ip", "-n", n, "link", "set", "eth0", "address", f"02:00:00:00:01:0{last}")
            sh("ip", "-n", n, "addr", "add", f"192.0.2.{last}/24", "dev", "eth0")
            sh("ip", "-n", n, "link", "set", "eth0", "up")
        yield a, b
    finally:
        for n in (a, b):
            sh("ip", "netns", "del", n, check=False)


def py_in(ns: str, code: str, timeout: float = 30) -> str:
    r = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_pyroute2_addresses(pair: tuple[str, str]) -> None:
    a, _ = pair
    out = py_in(
        a,
        """
        import asyncio, json
        from lvstui.config.schema import VipAddress
        from lvstui.vrrp.addresses import PyrouteAddresses
        async def main():
            m = PyrouteAddresses()
            v4 = VipAddress("192.0.2.9", 24, label="eth0:vip", scope="global")
            v6 = VipAddress("2001:db8::9", 64)
            res = {}
            for v in (v4, v6):
                await m.add(v, "eth0")
                await m.add(v, "eth0")          # idempotent
                res[v.address] = await m.present(v, "eth0")
            import subprocess
            for fam in ("4", "6"):
                cmd = ["ip", "-" + fam, "-o", "addr", "show", "dev", "eth0"]
                res["ip" + fam] = subprocess.run(cmd, capture_output=True, text=True).stdout
            for v in (v4, v6):
                await m.remove(v, "eth0")
                await m.remove(v, "eth0")       # idempotent
                res[v.address + "-after"] = await m.present(v, "eth0")
            await m.close()
            print(json.dumps(res))
        asyncio.run(main())
    """,
    )
    res = json.loads(out)
    assert res["192.0.2.9"] and res["2001:db8::9"]
    assert "192.0.2.9/24" in res["ip4"] and "eth0:vip" in res["ip4"]
    line6 = next(ln for ln in res["ip6"].splitlines() if "2001:db8::9/64" in ln)
    assert "nodad" in line6 and "tentative" not in line6
    assert not res["192.0.2.9-after"] and not res["2001:db8::9-after"]


SNIFF = """
    import socket, sys, time, json
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind(("eth0", 0)); s.settimeout(0.2)
    open(sys.argv[1], "w").close()
    frames, end = [], time.monotonic() + 4
    while time.monotonic() < end and len(frames) < 40:
        try:
            f = s.recv(2048)
        except TimeoutError:
            continue
        arp = f[12:14] == b"\\x08\\x06"
        if arp or (f[12:14] == b"\\x86\\xdd" and f[20] == 58 and f[54] == 136):
            frames.append([time.monotonic(), f.hex()])
    print(json.dumps(frames))
"""


def sniffed(pair: tuple[str, str], tmp_path: Path, sender: str) -> list[tuple[float, bytes]]:
    """Run `sender` (Python) in the first namespace while the second one captures the
    gratuitous ARPs and NAs on its eth0: (arrival time, frame) each."""
    a, b = pair
    ready = tmp_path / "ready"
    sniff = subprocess.Popen(
        ["ip", "netns", "exec", b, sys.executable, "-c", textwrap.dedent(SNIFF), str(ready)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(ready.exists, 10)
        py_in(a, sender)
        out, _ = sniff.communicate(timeout=20)
    finally:
        if sniff.poll() is None:
            sniff.kill()
            sniff.wait()
    return [(t, bytes.fromhex(h)) for t, h in json.loads(out)]


def test_gratuitous_arp_and_na_on_the_wire(pair: tuple[str, str], tmp_path: Path) -> None:
    sent = sniffed(
        pair,
        tmp_path,
        """
            import asyncio
            from lvstui.vrrp.garp import RawAnnouncer
            a = RawAnnouncer()
            asyncio.run(a.announce("eth0", ["192.0.2.9", "2001:db8::9"], 5))
            a.close()
        """,
    )
    frames = [f for _t, f in sent]
    arps = [f for f in frames if f[12:14] == b"\x08\x06"]
    nas = [f for f in frames if f[12:14] == b"\x86\xdd"]
    assert len(arps) == 5 and len(nas) == 5
    mac = bytes.fromhex("020000000101")
    f = arps[0]
    assert f[0:6] == b"\xff" * 6 and f[6:12] == mac
    assert f[20:22] == b"\x00\x01"  # request
    assert f[22:28] == mac and f[28:32] == bytes([192, 0, 2, 9])  # sender = VIP
    assert f[32:38] == b"\xff" * 6 and f[38:42] == bytes([192, 0, 2, 9])  # like keepalived
    n = nas[0]
    assert n[21] == 255  # hop limit
    assert n[38:54] == bytes.fromhex("ff020000000000000000000000000001")
    assert n[62:78] == bytes.fromhex("20010db8000000000000000000000009")  # target
    assert n[78:80] == b"\x02\x01" and n[80:86] == mac  # target link-layer address option


def test_garp_and_gna_intervals_space_the_frames(pair: tuple[str, str], tmp_path: Path) -> None:
    """keepalived's vrrp_garp_interval / vrrp_gna_interval: frames on one interface are at
    least that far apart (a lower bound the announcer sleeps for, not a speed claim)."""
    frames = sniffed(
        pair,
        tmp_path,
        """
            import asyncio
            from lvstui.vrrp.garp import RawAnnouncer
            async def main():
                a = RawAnnouncer()
                a.set_intervals(0.2, 0.3)
                await a.announce("eth0", ["192.0.2.9", "2001:db8::9"], 3)  # returns at once
                await asyncio.sleep(1.5)  # the paced rest goes out meanwhile
                a.close()
            asyncio.run(main())
        """,
    )
    arps = [t for t, f in frames if f[12:14] == b"\x08\x06"]
    nas = [t for t, f in frames if f[12:14] == b"\x86\xdd"]
    assert len(arps) == 3 and len(nas) == 3
    assert min(y - x for x, y in itertools.pairwise(arps)) >= 0.18
    assert min(y - x for x, y in itertools.pairwise(nas)) >= 0.28


def test_vrrp_v3_over_ipv6_between_two_lvstui(pair: tuple[str, str], tmp_path: Path) -> None:
    a, b = pair
    procs = []
    logs = []

    def start(ns: str, prio: int) -> tuple[subprocess.Popen[bytes], Path]:
        st = tmp_path / f"{ns}.json"
        log = open(tmp_path / f"{ns}.log", "wb")  # noqa: SIM115 - closed in finally
        logs.append(log)
        p = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns,
                sys.executable,
                "-m",
                "lvstui.vrrp.run_instance",
                "--interface",
                "eth0",
                "--vrid",
                "7",
                "--priority",
                str(prio),
                "--version",
                "3",
                "--advert-int",
                "0.1",
                "--vip",
                "2001:db8::9/64",
                "--status",
                str(st),
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        procs.append(p)
        return p, st

    def state(st: Path) -> dict[str, object]:
        try:
            return dict(json.loads(st.read_text()))
        except (OSError, ValueError):
            return {}

    def has_vip(ns: str) -> bool:
        return "2001:db8::9/64" in sh("ip", "-n", ns, "-6", "addr", "show", "dev", "eth0").stdout

    try:
        pa, sa = start(a, 150)
        _pb, sb = start(b, 100)
        wait_until(
            lambda: state(sa).get("state") == "MASTER" and state(sb).get("state") == "BACKUP", 15
        )
        wait_until(lambda: str(state(sb).get("master_addr", "")).startswith("fe80::"), 5)
        assert has_vip(a) and not has_vip(b)
        assert state(sb)["drops"] in ({}, {"vrid_mismatch": 0})
        t0 = time.monotonic()
        pa.terminate()
        pa.wait(10)
        wait_until(lambda: state(sb).get("state") == "MASTER" and has_vip(b), 3)
        assert time.monotonic() - t0 < 2
        assert not has_vip(a)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(10)
        for log in logs:
            log.close()


def test_link_monitor_follows_link_events(pair: tuple[str, str]) -> None:
    a, _ = pair
    out = py_in(
        a,
        """
        import asyncio, json, subprocess
        from lvstui.vrrp.track import PyrouteLinks
        async def until(links, up):
            for _ in range(200):
                if await links.is_up("eth0") == up:
                    return True
                await asyncio.sleep(0.01)
            return False
        async def main():
            links = PyrouteLinks()
            res = {"initial": await links.is_up("eth0"), "missing": await links.is_up("nosuch0")}
            subprocess.run(["ip", "link", "set", "eth0", "down"], check=True)
            res["down"] = await until(links, False)
            subprocess.run(["ip", "link", "set", "eth0", "up"], check=True)
            res["up"] = await until(links, True)
            await links.close()
            print(json.dumps(res))
        asyncio.run(main())
    """,
    )
    assert json.loads(out) == {"initial": True, "missing": False, "down": True, "up": True}
