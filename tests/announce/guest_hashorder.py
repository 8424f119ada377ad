"""Two BGP/ECMP directors must build the same mh table: run INSIDE the IPVS guest.

Run from the repository: `run-in-ipvs-vm.sh .venv/bin/python tests/announce/guest_hashorder.py`
(tests/announce/test_hashorder_ipvs_vm.py does it once for the module). Prints one JSON line
per check. Two copies of one site, `a` and `b`, each a client, a director running
`lvstui --daemon` on the kernel's IPVS (mh with mh-port, NAT), and a real-server namespace
holding the five real-server addresses; a real server answers with the address it was
reached at. The kernel exposes nothing of its Maglev table, so the checks are on behaviour:
the same client source port must reach the same real server through both directors.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO))  # run by path in the guest

from tests.announce import guest_drmove  # noqa: E402
from tests.vm.guestcheck import check, results  # noqa: E402

PY = sys.executable
VIP = "198.51.100.10"
RS = [f"203.0.113.{i}" for i in (11, 12, 13, 14, 15)]
PORTS = range(40000, 40160)

SERVER = r"""
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(128)
while True:
    c, _ = s.accept()
    c.sendall(c.getsockname()[0].encode()); c.close()
"""


def config(reals: list[str]) -> str:
    return guest_drmove.config(reals, "NAT", 8080)


def sh(*argv: str) -> str:
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {p.stdout}{p.stderr}")
    return p.stdout


def ns(name: str, *argv: str) -> str:
    return sh("ip", "netns", "exec", name, *argv)


def site(tag: str) -> None:
    """client-TAG 192.0.2.100 — dir-TAG (VIP on lo) — rs-TAG 203.0.113.11-15."""
    c, d, r = f"bgp-c{tag}", f"bgp-d{tag}", f"bgp-r{tag}"
    for n in (c, d, r):
        sh("ip", "netns", "add", n)
        ns(n, "ip", "link", "set", "lo", "up")
    sh("ip", "link", "add", "cd", "netns", c, "type", "veth", "peer", "dc", "netns", d)
    sh("ip", "link", "add", "rd", "netns", r, "type", "veth", "peer", "dr", "netns", d)
    ns(c, "ip", "addr", "add", "192.0.2.100/24", "dev", "cd")
    ns(c, "ip", "link", "set", "cd", "up")
    ns(c, "ip", "route", "add", f"{VIP}/32", "via", "192.0.2.1")
    ns(d, "ip", "addr", "add", "192.0.2.1/24", "dev", "dc")
    ns(d, "ip", "addr", "add", "203.0.113.1/24", "dev", "dr")
    ns(d, "ip", "addr", "add", f"{VIP}/32", "dev", "lo")
    for dev in ("dc", "dr"):
        ns(d, "ip", "link", "set", dev, "up")
    ns(d, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    for a in RS:
        ns(r, "ip", "addr", "add", f"{a}/24", "dev", "rd")
    ns(r, "ip", "link", "set", "rd", "up")
    ns(r, "ip", "route", "add", "default", "via", "203.0.113.1")


def mapping(tag: str) -> dict[int, str]:
    """Source port → the real server that answered, for every port of PORTS."""
    code = (
        "import socket,sys,json\n"
        "out={}\n"
        f"for p in range({PORTS.start},{PORTS.stop}):\n"
        "    s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "    s.settimeout(5); s.bind(('192.0.2.100',p))\n"
        f"    s.connect(('{VIP}',80)); out[p]=s.recv(64).decode(); s.close()\n"
        "print(json.dumps(out))\n"
    )
    return {int(k): v for k, v in json.loads(ns(f"bgp-c{tag}", PY, "-c", code)).items()}


def main() -> int:
    d = Path(tempfile.mkdtemp(prefix="bgp-hash-vm-"))
    for mod in ("veth", "ip_vs", "ip_vs_mh"):
        subprocess.run(["modprobe", "-q", mod], check=False)
    daemons: dict[str, subprocess.Popen[str]] = {}
    servers: list[subprocess.Popen[bytes]] = []

    def start(tag: str, reals: list[str]) -> None:
        cfg = d / f"{tag}.toml"
        cfg.write_text(config(reals))
        daemons[tag] = subprocess.Popen(
            ["ip", "netns", "exec", f"bgp-d{tag}", PY, "-m", "lvstui", "--daemon",
             "-f", str(cfg), "--socket", str(d / f"{tag}.sock"),
             "--state-dir", str(d / f"state-{tag}")],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip

    def stop(tag: str) -> None:
        p = daemons.pop(tag)
        p.terminate()
        p.wait(30)

    def lvstui(tag: str, *args: str) -> str:
        return ns(f"bgp-d{tag}", PY, "-m", "lvstui", *args, "--socket", str(d / f"{tag}.sock"))

    def status(tag: str) -> dict[str, object]:
        doc = json.loads(lvstui(tag, "status", "--json"))
        return dict(doc["services"][0])

    def dests(tag: str) -> list[str]:
        out = ns(f"bgp-d{tag}", "ipvsadm", "-Ln", "--nosort")
        return [ln.split()[1] for ln in out.splitlines() if ln.strip().startswith("->")][1:]

    def wait_table(tag: str, n: int) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                st = status(tag)
            except (RuntimeError, ValueError, IndexError, KeyError):
                st = {}
            if st.get("hash_table") and len(dests(tag)) == n:
                return str(st["hash_table"])
            time.sleep(0.3)
        raise AssertionError(f"director {tag}: no table of {n} real servers: {dests(tag)}")

    try:
        for tag in ("a", "b"):
            site(tag)
            servers.append(
                subprocess.Popen(["ip", "netns", "exec", f"bgp-r{tag}", PY, "-c", SERVER])
            )
        # the same real servers, listed in two different orders
        start("a", [RS[2], RS[0], RS[4], RS[1], RS[3]])
        start("b", [RS[3], RS[1], RS[4], RS[0], RS[2]])
        digests: dict[str, str] = {}

        def same_list_and_digest() -> str:
            digests["a"], digests["b"] = wait_table("a", 5), wait_table("b", 5)
            la, lb = dests("a"), dests("b")
            assert la == lb, f"kernel lists differ: {la} vs {lb}"
            assert la == [f"{r}:8080" for r in sorted(RS, reverse=True)], la
            assert digests["a"] == digests["b"], digests
            return f"digest {digests['a']}, list {la}"

        check("hash_same_list_and_digest_from_two_orders", same_list_and_digest)

        maps: dict[str, dict[int, str]] = {}

        def same_server_per_port() -> str:
            maps["a"], maps["b"] = mapping("a"), mapping("b")
            differ = {
                p: (maps["a"][p], maps["b"][p]) for p in PORTS if maps["a"][p] != maps["b"][p]
            }
            assert not differ, f"ports reaching different real servers: {differ}"
            used = set(maps["a"].values())
            assert len(used) >= 3, f"mh-port spread the ports over {used} only"
            return f"{len(PORTS)} ports, same real server through both; spread over {sorted(used)}"

        check("hash_same_real_server_per_client_port", same_server_per_port)

        def ctl_add_keeps_them_equal() -> str:
            # a: four in the config, the fifth (sorting in the middle) added at run time;
            # b: restarted with all five in its config: a fresh build
            stop("a")
            stop("b")
            start("a", [RS[4], RS[0], RS[3], RS[1]])
            start("b", [RS[1], RS[2], RS[0], RS[4], RS[3]])
            wait_table("a", 4)
            lvstui("a", "ctl", "add", f"{VIP}:80", f"{RS[2]}:8080")
            da, db = wait_table("a", 5), wait_table("b", 5)
            assert dests("a") == dests("b"), f"{dests('a')} vs {dests('b')}"
            assert da == db == digests["a"], (da, db, digests)
            ma, mb = mapping("a"), mapping("b")
            assert ma == mb == maps["a"], "ctl add left a different table"
            return f"after ctl add: digest {da}, list {dests('a')}"

        check("hash_ctl_add_keeps_the_table_equal", ctl_add_keeps_them_equal)

        def kernel_depends_on_order() -> str:
            # the reason for all this: the same five added in config order (what ipvsadm or
            # a naive reconciler does) send some ports elsewhere
            stop("b")  # SIGTERM releases its services
            svc = f"{VIP}:80"
            ns("bgp-db", "ipvsadm", "-A", "-t", svc, "-s", "mh", "-b", "mh-port")
            for r in [RS[2], RS[0], RS[4], RS[1], RS[3]]:
                ns("bgp-db", "ipvsadm", "-a", "-t", svc, "-r", f"{r}:8080", "-m")
            mb = mapping("b")
            moved = [p for p in PORTS if mb[p] != maps["a"][p]]
            assert moved, "the kernel's mh table did not depend on the order (unexpected)"
            return f"{len(moved)} of {len(PORTS)} ports reach another real server"

        check("hash_kernel_table_depends_on_add_order", kernel_depends_on_order)
        guest_drmove.run(check, sh, PY, REPO, d)
    finally:
        for tag in list(daemons):
            with contextlib.suppress(Exception):  # teardown goes on
                stop(tag)
        for s in servers:
            s.kill()
        for tag in ("a", "b"):
            for n in ("c", "d", "r"):
                subprocess.run(["ip", "netns", "del", f"bgp-{n}{tag}"], check=False)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
