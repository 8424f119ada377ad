"""Inside the IPVS guest: established DR connections survive their route moving to another
director, because both directors built the same mh table (and run sloppy_tcp).

Called from guest_hashorder.py's main() (one guest boot for both). A client, a router whose
route to the VIP goes through director 1 and is then moved to director 2 (what ECMP does when
a director leaves), two directors running `lvstui --daemon` (IPVS, DR, mh with mh-port; the
two configs list the real servers in different orders), two real servers holding the VIP on
lo and answering each line with their name. Twenty long-lived connections are opened through
director 1; after the move their next line must come back from the same real server
through director 2, which has never seen them (sloppy_tcp lets it take a mid-flow packet).

Both directors announce the VIP (`announce = "bgp"`): director 1 with the address handoff
(the VIP an address on its tun device, FRR's), director 2 with a route in its table 245
(BIRD's), so the connections that enter by director 1 show that IPVS takes the VIP's
traffic with the address on the device as well. The second check drains director 1 (`ctl
drain-director --settle 2 --wait`) under a long-lived connection. The test plays the
router as a plain ECMP router with BGP does: it sends the VIP through director 1 while
director 1 announces it normally, and through director 2 once director 1's announcement
turns less preferred (metric 65535: the graceful-shutdown community and longer AS path of
the shipped BIRD/FRR snippets). Director 1's address must show metric 65535 first, then go
(withdrawn) and status say SAFE; the connection must carry on through director 2.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

VIP = "198.51.100.10"
RS = ("192.0.2.101", "192.0.2.102")
PORTS = range(45000, 45020)

ECHO = r"""
import socket, sys, threading
name = sys.argv[1]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80)); s.listen(64)
def serve(c):
    f = c.makefile("rb")
    for line in f:
        c.sendall(f"{name}:{line.decode().strip()}\n".encode())
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

# Open one connection per port, send "a", print {port: reply}; wait for a line on stdin;
# send "b" on each, print {port: reply or error}.
CLIENT = r"""
import json, socket, sys
conns, first, second = {}, {}, {}
for p in range(int(sys.argv[1]), int(sys.argv[2])):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(5); s.bind(("203.0.113.100", p)); s.connect((sys.argv[3], 80))
    s.sendall(b"a\n"); first[p] = s.makefile("rb").readline().decode().strip()
    conns[p] = s
print(json.dumps(first), flush=True)
sys.stdin.readline()
for p, s in conns.items():
    try:
        s.sendall(b"b\n"); second[p] = s.makefile("rb").readline().decode().strip()
    except OSError as e:
        second[p] = "error: " + type(e).__name__
print(json.dumps(second), flush=True)
"""


# the director whose announcements are addresses on its tun device (the address handoff)
ADDRESS_HANDOFF = "bgp-x1"


def config(
    reals: list[str], kind: str = "DR", port: int = 80, *, bgp: bool = False, handoff: str = ""
) -> str:
    """A director's config: the VIP's port 80, mh with mh-port, the real servers in order;
    `bgp`: the VIP announced on the default device, by `handoff` ("": the default, a route
    in table 245 with the default protocol)."""
    announce = '[lvstui.announce]\nmode = "bgp"\n' if bgp else ""
    if handoff:
        announce += f'handoff = "{handoff}"\n'
    out = f"""
[lvstui]
dataplane = "ipvs"
{announce}
[[virtual_server]]
ip = "{VIP}"
port = 80
lb_algo = "mh"
lb_flags = ["mh-port"]
lb_kind = "{kind}"
"""
    for r in reals:
        out += f'[[virtual_server.real_server]]\nip = "{r}"\nport = {port}\n'
    return out


def run(
    check: Callable[[str, Callable[[], str]], None],
    sh: Callable[..., str],
    py: str,
    repo: Path,
    tmp: Path,
) -> None:
    names = ["bgp-xc", "bgp-xr", "bgp-x1", "bgp-x2", "bgp-xs1", "bgp-xs2"]
    procs: list[subprocess.Popen[str]] = []
    for mod in ("bridge", "tun"):  # tun: the announcements' device
        subprocess.run(["modprobe", "-q", mod], check=False)
    try:
        check(
            "hash_dr_connections_survive_a_route_move",
            lambda: scenario(sh, py, repo, tmp, names, procs),
        )
        check(
            "hash_director_drain_keeps_a_long_lived_connection",
            lambda: drain(sh, py, repo, tmp, procs),
        )
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        for n in names:
            subprocess.run(["ip", "netns", "del", n], check=False)


def scenario(
    sh: Callable[..., str],
    py: str,
    repo: Path,
    tmp: Path,
    names: list[str],
    procs: list[subprocess.Popen[str]],
) -> str:
    def ns(name: str, *argv: str) -> str:
        return sh("ip", "netns", "exec", name, *argv)

    for n in names:
        sh("ip", "netns", "add", n)
        ns(n, "ip", "link", "set", "lo", "up")
    r = "bgp-xr"
    ns(r, "ip", "link", "add", "br0", "type", "bridge")
    ns(r, "ip", "addr", "add", "192.0.2.1/24", "dev", "br0")
    ns(r, "ip", "link", "set", "br0", "up")
    ns(r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    sh("ip", "link", "add", "rc", "netns", r, "type", "veth", "peer", "cr", "netns", "bgp-xc")
    ns(r, "ip", "addr", "add", "203.0.113.1/24", "dev", "rc")
    ns(r, "ip", "link", "set", "rc", "up")
    ns("bgp-xc", "ip", "addr", "add", "203.0.113.100/24", "dev", "cr")
    ns("bgp-xc", "ip", "link", "set", "cr", "up")
    ns("bgp-xc", "ip", "route", "add", "default", "via", "203.0.113.1")
    lan = {"bgp-x1": "192.0.2.11", "bgp-x2": "192.0.2.12", "bgp-xs1": RS[0], "bgp-xs2": RS[1]}
    for i, (n, addr) in enumerate(lan.items()):
        sh("ip", "link", "add", f"b{i}", "netns", r, "type", "veth", "peer", "eth0",
           "netns", n)  # fmt: skip
        ns(r, "ip", "link", "set", f"b{i}", "master", "br0", "up")
        ns(n, "ip", "addr", "add", f"{addr}/24", "dev", "eth0")
        ns(n, "ip", "link", "set", "eth0", "up")
        ns(n, "ip", "route", "add", "default", "via", "192.0.2.1")
        ns(n, "ip", "addr", "add", f"{VIP}/32", "dev", "lo")
    for n in ("bgp-xs1", "bgp-xs2"):  # real servers: the VIP is theirs, not for ARP
        ns(n, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1")
        ns(n, "sysctl", "-qw", "net.ipv4.conf.all.arp_announce=2")
        procs.append(
            subprocess.Popen(["ip", "netns", "exec", n, py, "-c", ECHO, n[-3:]], text=True)
        )
    orders = {"bgp-x1": [RS[0], RS[1]], "bgp-x2": [RS[1], RS[0]]}
    for n, reals in orders.items():
        cfg = tmp / f"{n}.toml"
        cfg.write_text(config(reals, bgp=True, handoff="address" if n == ADDRESS_HANDOFF else ""))
        procs.append(
            subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    n,
                    py,
                    "-m",
                    "lvstui",
                    "--daemon",
                    "-f",
                    str(cfg),
                    "--socket",
                    str(tmp / f"{n}.sock"),
                    "--state-dir",
                    str(tmp / f"st-{n}"),
                ],
                cwd=repo,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        )
    ns(r, "ip", "route", "add", f"{VIP}/32", "via", "192.0.2.11")

    def tables_ready() -> bool:
        for n in orders:
            out = ns(n, "ipvsadm", "-Ln")
            if out.count("Route") < 2:
                return False
        return True

    deadline = time.monotonic() + 90
    while not tables_ready():
        if time.monotonic() > deadline:
            raise AssertionError("the directors never programmed their tables")
        time.sleep(0.3)
    for n in orders:  # what check-config asks of a bgp director
        ns(n, "sysctl", "-qw", "net.ipv4.vs.sloppy_tcp=1")

    client = subprocess.Popen(
        ["ip", "netns", "exec", "bgp-xc", py, "-c", CLIENT, str(PORTS.start),
         str(PORTS.stop), VIP],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    procs.append(client)
    assert client.stdin is not None and client.stdout is not None
    first = json.loads(client.stdout.readline())
    # the route moves to director 2, as when director 1 leaves the ECMP set
    ns(r, "ip", "route", "replace", f"{VIP}/32", "via", "192.0.2.12")
    client.stdin.write("go\n")
    client.stdin.flush()
    second = json.loads(client.stdout.readline())
    broken = {p: (first[p], second[p]) for p in first if second[p] != first[p].replace(":a", ":b")}
    assert not broken, f"connections that lost their real server: {broken}"
    used = {v.split(":")[0] for v in first.values()}
    entered = ns("bgp-x2", "ipvsadm", "-Lnc")
    # (the client has closed them by now: director 2 carried their FINs too)
    seen = sum(f"203.0.113.100:{p} " in entered for p in PORTS)
    assert seen == len(PORTS), f"director 2 carried {seen} of them:\n{entered}"
    return (
        f"{len(first)} connections moved from director 1 to director 2 and kept "
        f"their real server ({sorted(used)})"
    )


def announced(sh: Callable[..., str], name: str) -> dict[str, int]:
    """The director's announcements, each with its metric: its routes in table 245
    (protocol 245), or with the address handoff the addresses on its tun device."""
    if name != ADDRESS_HANDOFF:
        out = sh("ip", "-n", name, "-j", "route", "show", "table", "245", "proto", "245")
        return {r["dst"]: int(r.get("metric", 0)) for r in json.loads(out or "[]")}
    # the table stays empty (iproute2 says the table does not exist)
    table = subprocess.run(
        ["ip", "-n", name, "route", "show", "table", "245"], capture_output=True, text=True
    )
    assert not table.stdout.strip(), f"routes in table 245 with the address handoff: {table}"
    out = sh("ip", "-n", name, "-j", "addr", "show", "dev", "lvsannounce")
    return {
        a["local"]: int(a.get("metric", 0))
        for link in json.loads(out or "[]")
        for a in link.get("addr_info", [])
        if a.get("scope") == "global"
    }


def drain(
    sh: Callable[..., str],
    py: str,
    repo: Path,
    tmp: Path,
    procs: list[subprocess.Popen[str]],
) -> str:
    """Director 1 drained under a long-lived connection (set up by scenario())."""
    r, d1, d2 = "bgp-xr", "bgp-x1", "bgp-x2"

    def wait_for(what: str, ok: Callable[[], bool], limit: float) -> None:
        end = time.monotonic() + limit
        while not ok():
            if time.monotonic() > end:
                raise AssertionError(f"{what}: not after {limit:g} s")
            time.sleep(0.05)

    wait_for("both directors announce normally", lambda: (
        announced(sh, d1) == announced(sh, d2) == {VIP: 0}), 30)  # fmt: skip
    sh("ip", "netns", "exec", r, "ip", "route", "replace", f"{VIP}/32", "via", "192.0.2.11")
    client = subprocess.Popen(
        ["ip", "netns", "exec", "bgp-xc", py, "-c", CLIENT, "45100", "45101", VIP],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    procs.append(client)
    assert client.stdin is not None and client.stdout is not None
    first = json.loads(client.stdout.readline())["45100"]
    entered = sh("ip", "netns", "exec", d1, "ipvsadm", "-Lnc")
    assert "203.0.113.100:45100 " in entered, "the connection did not enter by director 1"
    ctl = subprocess.Popen(
        [py, "-m", "lvstui", "ctl", "drain-director", "--settle", "2", "--wait",
         "--wait-timeout", "60", "--socket", str(tmp / f"{d1}.sock")],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    procs.append(ctl)
    seen: list[dict[str, int]] = []

    def look(want: dict[str, int]) -> bool:
        now = announced(sh, d1)
        if not seen or seen[-1] != now:
            seen.append(now)
        return now == want

    wait_for("director 1 announces less preferred", lambda: look({VIP: 65535}), 20)
    # the router: a less preferred path leaves its ECMP route, director 2 takes the VIP
    sh("ip", "netns", "exec", r, "ip", "route", "replace", f"{VIP}/32", "via", "192.0.2.12")
    wait_for("director 1 withdraws", lambda: look({}), 30)
    out, _ = ctl.communicate(timeout=60)
    assert ctl.returncode == 0 and "director: safe" in out, out
    status = json.loads(
        sh(py, "-m", "lvstui", "status", "--json", "--socket", str(tmp / f"{d1}.sock"))
    )
    assert status["director_drain"]["phase"] == "safe", status["director_drain"]
    assert seen == [{VIP: 0}, {VIP: 65535}, {}] or seen == [{VIP: 65535}, {}], seen
    assert announced(sh, d2) == {VIP: 0}, "director 2 stopped announcing"
    client.stdin.write("go\n")
    client.stdin.flush()
    second = json.loads(client.stdout.readline())["45100"]
    assert second == first.replace(":a", ":b"), f"the connection broke: {first} then {second}"
    carried = sh("ip", "netns", "exec", d2, "ipvsadm", "-Lnc")
    assert "203.0.113.100:45100 " in carried, f"director 2 did not carry it:\n{carried}"
    return (
        f"director 1: {' -> '.join(str(x.get(VIP, 'withdrawn')) for x in seen)} (metric), "
        f"SAFE; the connection kept {first.split(':')[0]} through director 2"
    )
