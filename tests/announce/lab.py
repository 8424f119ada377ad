"""The BGP/ECMP namespace lab: a router running BIRD 2 with ECMP, directors each running
lvstui (userspace dataplane) and a routing daemon of its own that takes lvstui's handoff —
BIRD 2 its kernel table, FRR the addresses on its tun device — real HTTP servers, a client.
Built once per test module.

    client 203.0.113.100 ── router 203.0.113.1 | 192.0.2.1 (bridge) ── d1 .11, d2 .12, d3 .13
                                                                  └── real servers .101 .102

Every director holds the VIP on lo (FRR's by a local route on lo) and announces it over BGP
(AS 6501N) to the router (AS 65000), which installs one multipath route over the directors and
hashes on ports
(fib_multipath_hash_policy=1). A real server answers an HTTP GET with the address the
connection came from: the director's, as the userspace forwarder connects from its own
address. Each director checks the real servers on a health port of its own
(9000 + its number), so one director's quorum can be taken away by closing its port.

Names carry `bgp` (or $LVSTUI_LAB_PREFIX) and the pid, so parallel runs never collide;
`close()` removes all.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import REPO

VIP = "198.51.100.10"
ROUTER_LAN = "192.0.2.1"
RS = ("192.0.2.101", "192.0.2.102")
CLIENT = "203.0.113.100"

HTTP_SERVER = r"""
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        body = self.client_address[0].encode()
        if self.path.startswith("/slow"):
            import time; time.sleep(float(self.path.split("/")[-1]))
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True; allow_reuse_address = True
S((sys.argv[1], 8080), H).serve_forever()
"""

HEALTH_PORT = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(64); print("listening", flush=True)
while True:
    c, _ = s.accept(); c.close()
"""

# Connect from each source port, GET /, print {port: director address or error}.
CLIENT_SCRIPT = r"""
import json, socket, sys
lo, hi, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
out = {}
for p in range(lo, hi):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(3)
    try:
        s.bind((sys.argv[4], p)); s.connect((sys.argv[5], 80))
        s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        data = b""
        while True:
            b = s.recv(4096)
            if not b: break
            data += b
        out[p] = data.split(b"\r\n\r\n", 1)[-1].decode()
    except OSError as e:
        out[p] = "error: " + type(e).__name__
    finally:
        s.close()
print(json.dumps(out))
"""


# Requests in flight: connect from every source port at once, send GET PATH on each, say
# "sent", then read every response; print {port: director address or error}.
INFLIGHT_SCRIPT = r"""
import json, socket, sys
lo, hi, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks, out = {}, {}
for p in range(lo, hi):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(10)
    try:
        s.bind((sys.argv[4], p)); s.connect((sys.argv[5], 80))
        s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode()); socks[p] = s
    except OSError as e:
        out[p] = "error: " + type(e).__name__; s.close()
print("sent", flush=True)
for p, s in socks.items():
    data = b""
    try:
        while True:
            b = s.recv(4096)
            if not b: break
            data += b
        out[p] = data.split(b"\r\n\r\n", 1)[-1].decode() or "error: empty"
    except OSError as e:
        body = data.split(b"\r\n\r\n", 1)
        out[p] = body[1].decode() if len(body) == 2 and body[1] else "error: " + type(e).__name__
    finally:
        s.close()
print(json.dumps(out), flush=True)
"""


def have(*tools: str) -> str | None:
    """The first missing tool, or None."""
    for t in tools:
        if shutil.which(t) is None and not Path(t).exists():
            return t
    return None


def sh(*argv: str, check: bool = True, timeout: float = 30) -> str:
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {p.stdout}{p.stderr}")
    return p.stdout


def bird_director_conf(n: int, table: int, proto: int, *, mark_drain: bool = True) -> str:
    """`mark_drain`: the export filter of docs/bgp.md, which turns lvstui's drained route
    (metric 65535) into the graceful-shutdown community and a longer AS path."""
    addr = f"192.0.2.{10 + n}"
    drain = (
        f"if krt_metric = 65535 then {{ bgp_community.add((65535, 0)); "
        f"bgp_path.prepend({65010 + n}); bgp_path.prepend({65010 + n}); }}"
        if mark_drain
        else ""
    )
    return f"""
router id {addr};
filter lvstui_export {{
    if net.len != 32 then reject;
    {drain}
    accept;
}}
protocol device {{ scan time 10; }}
ipv4 table lvstui4;
protocol kernel lvstui_vips {{
    kernel table {table};
    learn;
    scan time 10;
    ipv4 {{ table lvstui4; import where krt_source = {proto}; export none; }};
}}
protocol bgp uplink {{
    local {addr} as {65010 + n};
    neighbor {ROUTER_LAN} as 65000;
    hold time 9; connect retry time 1; error wait time 1, 2;
    ipv4 {{ table lvstui4; import none; export filter lvstui_export; next hop self; }};
}}
"""


def bird_router_conf(directors: int) -> str:
    peers = "".join(
        f"""
protocol bgp d{n} {{
    local {ROUTER_LAN} as 65000;
    neighbor 192.0.2.{10 + n} as {65010 + n};
    hold time 9; connect retry time 1; error wait time 1, 2;
    ipv4 {{ import all; export none; }};
}}"""
        for n in range(1, directors + 1)
    )
    return f"""
router id {ROUTER_LAN};
protocol device {{ scan time 10; }}
protocol kernel {{
    merge paths yes limit 16;
    scan time 10;
    ipv4 {{ export all; import none; }};
}}
{peers}
"""


def frr_director_conf(n: int, device: str) -> str:
    """docs/bgp.md's FRR snippet: lvstui's address handoff (the VIP an address on its tun
    device `device`), redistributed as connected routes of that device only; the drain's
    metric 65535 becomes the graceful-shutdown community and a longer AS path."""
    addr = f"192.0.2.{10 + n}"
    asn = 65010 + n
    return f"""frr defaults traditional
hostname d{n}
no ipv6 forwarding
!
! FRR marks redistributed routes origin incomplete, BIRD's directors origin IGP: the router
! prefers IGP and never merges the two into one ECMP route unless they match
route-map LVSTUI permit 5
 match interface {device}
 match metric 65535
 set origin igp
 set community 65535:0 additive
 set as-path prepend {asn} {asn}
route-map LVSTUI permit 10
 match interface {device}
 set origin igp
!
router bgp {asn}
 bgp router-id {addr}
 no bgp ebgp-requires-policy
 no bgp network import-check
 timers bgp 3 9
 neighbor {ROUTER_LAN} remote-as 65000
 neighbor {ROUTER_LAN} timers connect 1
 address-family ipv4 unicast
  redistribute connected route-map LVSTUI
 exit-address-family
!
"""


def lvstui_conf(n: int, device: str, daemon: str = "", daemon_socket: str = "") -> str:
    reals = "".join(
        f"""
[[virtual_server.real_server]]
ip = "{rs}"
port = 8080
[[virtual_server.real_server.tcp_check]]
connect_port = {9000 + n}
connect_timeout = 0.5
"""
        for rs in RS
    )
    return f"""
[lvstui]
dataplane = "userspace"
[lvstui.announce]
mode = "bgp"
device = "{device}"
daemon = "{daemon or "none"}"
daemon_socket = "{daemon_socket}"

[[virtual_server]]
ip = "{VIP}"
port = 80
lb_algo = "mh"
delay_loop = 0.3
{reals}"""


@dataclass
class Lab:
    directors: int = 3
    daemon: dict[int, str] = field(default_factory=dict)  # director → "bird" | "frr"
    pid: int = field(default_factory=os.getpid)
    # the namespaces' prefix: LVSTUI_LAB_PREFIX lets parallel sessions tell theirs apart
    prefix: str = field(default_factory=lambda: os.environ.get("LVSTUI_LAB_PREFIX", "bgp"))
    root: Path = Path("/tmp")
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: list[Path] = field(default_factory=list)

    # ---- names -------------------------------------------------------------------------
    def ns(self, what: str) -> str:
        return f"{self.prefix}{self.pid}{what}"

    def d(self, n: int) -> str:
        return self.ns(f"d{n}")

    @property
    def router(self) -> str:
        return self.ns("r")

    @property
    def client(self) -> str:
        return self.ns("c")

    @property
    def servers(self) -> str:
        return self.ns("s")

    def tun(self, n: int) -> str:
        return f"bgpann{n}"

    def sock(self, n: int) -> Path:
        return self.root / f"d{n}.sock"

    def run_in(self, ns: str, *argv: str, check: bool = True, timeout: float = 30) -> str:
        return sh("ip", "netns", "exec", ns, *argv, check=check, timeout=timeout)

    # ---- build -------------------------------------------------------------------------
    def up(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        names = [self.router, self.client, self.servers] + [
            self.d(n) for n in range(1, self.directors + 1)
        ]
        for name in names:
            sh("ip", "netns", "add", name)
            self.run_in(name, "ip", "link", "set", "lo", "up")
        r = self.router
        self.run_in(r, "ip", "link", "add", "br0", "type", "bridge")
        self.run_in(r, "ip", "addr", "add", f"{ROUTER_LAN}/24", "dev", "br0")
        self.run_in(r, "ip", "link", "set", "br0", "up")
        self.run_in(r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.run_in(r, "sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=1")
        # the client
        sh(
            "ip",
            "link",
            "add",
            "rc",
            "netns",
            r,
            "type",
            "veth",
            "peer",
            "cr",
            "netns",
            self.client,
        )
        self.run_in(r, "ip", "addr", "add", "203.0.113.1/24", "dev", "rc")
        self.run_in(r, "ip", "link", "set", "rc", "up")
        self.run_in(self.client, "ip", "addr", "add", f"{CLIENT}/24", "dev", "cr")
        self.run_in(self.client, "ip", "link", "set", "cr", "up")
        self.run_in(self.client, "ip", "route", "add", "default", "via", "203.0.113.1")
        # the LAN: directors and real servers on the router's bridge
        lan = [(self.servers, "s", [f"{a}/24" for a in RS])] + [
            (self.d(n), f"d{n}", [f"192.0.2.{10 + n}/24"]) for n in range(1, self.directors + 1)
        ]
        for name, short, addrs in lan:
            sh("ip", "link", "add", f"b{short}", "netns", r, "type", "veth", "peer", "eth0",
               "netns", name)  # fmt: skip
            self.run_in(r, "ip", "link", "set", f"b{short}", "master", "br0", "up")
            for a in addrs:
                self.run_in(name, "ip", "addr", "add", a, "dev", "eth0")
            self.run_in(name, "ip", "link", "set", "eth0", "up")
            self.run_in(name, "ip", "route", "add", "default", "via", ROUTER_LAN)
        for n in range(1, self.directors + 1):
            if self.daemon.get(n, "bird") == "frr":
                # zebra turns an address on lo into a connected /32 that outranks (and so
                # hides) the imported table route: a local route accepts the VIP as well
                self.run_in(self.d(n), "ip", "route", "add", "local", f"{VIP}/32", "dev", "lo")
            else:
                self.run_in(self.d(n), "ip", "addr", "add", f"{VIP}/32", "dev", "lo")
        # real servers: HTTP on each address, a health port per director
        for a in RS:
            self.spawn(f"http-{a}", self.servers, sys.executable, "-c", HTTP_SERVER, a)
        for n in range(1, self.directors + 1):
            self.health(n, True)
        self.run_in(r, "true")

    def spawn(self, key: str, ns: str, *argv: str, env: dict[str, str] | None = None) -> None:
        log = self.root / f"{key}.log"
        self.logs.append(log)
        with log.open("ab") as out:
            self.procs[key] = subprocess.Popen(
                ["ip", "netns", "exec", ns, *argv],
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def stop(self, key: str, sig: int = signal.SIGTERM) -> None:
        p = self.procs.pop(key, None)
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(sig)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)

    def health(self, n: int, on: bool) -> None:
        """Open or close director n's health port on the real servers."""
        key = f"health{n}"
        if not on:
            self.stop(key, signal.SIGKILL)
            return
        self.spawn(key, self.servers, sys.executable, "-c", HEALTH_PORT, str(9000 + n))
        wait(lambda: str(9000 + n) in self.run_in(self.servers, "ss", "-Hltn"), 10)

    # ---- routing daemons ---------------------------------------------------------------
    def bird(self, ns: str, name: str, conf: str) -> None:
        path = self.root / f"{name}.conf"
        path.write_text(conf)
        self.spawn(
            f"bird-{name}", ns, "bird", "-f", "-c", str(path), "-s", str(self.root / f"{name}.ctl"),
            "-P", str(self.root / f"{name}.pid"),
        )  # fmt: skip

    def birdc(self, name: str, *cmd: str) -> str:
        return sh("birdc", "-s", str(self.root / f"{name}.ctl"), *cmd)

    def frr(self, n: int) -> None:
        """zebra + bgpd for director n, with their own paths (FRR's -N pathspace is under
        /var/run/frr; we keep everything in our root instead)."""
        d = self.root / f"frr{n}"
        d.mkdir(exist_ok=True)
        conf = d / "frr.conf"
        conf.write_text(frr_director_conf(n, self.tun(n)))
        shutil.chown(d, "frr", "frr")
        shutil.chown(conf, "frr", "frr")
        zsock = d / "zserv.api"
        common = ["--vty_socket", str(d), "-u", "frr", "-g", "frr"]
        self.spawn(
            f"zebra{n}", self.d(n), "/usr/lib/frr/zebra", "-f", str(conf), "-i", str(d / "z.pid"),
            "-z", str(zsock), *common,
        )  # fmt: skip
        wait(lambda: zsock.exists(), 15)
        self.spawn(
            f"bgpd{n}", self.d(n), "/usr/lib/frr/bgpd", "-f", str(conf), "-i", str(d / "b.pid"),
            "-z", str(zsock), "-p", "0", "--listenon", f"192.0.2.{10 + n}", *common,
        )  # fmt: skip

    def vtysh(self, n: int, cmd: str) -> str:
        return self.run_in(
            self.d(n), "vtysh", "--vty_socket", str(self.root / f"frr{n}"), "-c", cmd
        )

    def routing(self) -> None:
        self.bird(self.router, "router", bird_router_conf(self.directors))
        for n in range(1, self.directors + 1):
            if self.daemon.get(n, "bird") == "frr":
                self.frr(n)
            else:
                self.bird(self.d(n), f"d{n}", bird_director_conf(n, 245, 245))

    # ---- lvstui ------------------------------------------------------------------------
    def lvstui(self, n: int) -> None:
        cfg = self.root / f"d{n}.toml"
        frr = self.daemon.get(n, "bird") == "frr"
        sock = self.root / (f"frr{n}" if frr else f"d{n}.ctl")
        cfg.write_text(lvstui_conf(n, self.tun(n), "frr" if frr else "bird", str(sock)))
        self.spawn(
            f"lvstui{n}", self.d(n), sys.executable, "-m", "lvstui", "--daemon", "-f", str(cfg),
            "--socket", str(self.sock(n)), "--state-dir", str(self.root / f"state{n}"),
        )  # fmt: skip

    def ctl(self, n: int, *args: str) -> str:
        return self.run_in(
            self.d(n),
            sys.executable,
            "-m",
            "lvstui",
            *args,
            "--socket",
            str(self.sock(n)),
            timeout=120,
        )

    def announced(self, n: int) -> bool:
        """lvstui announces on director n: its route in table 245 (BIRD), the VIP an address
        on its tun device (FRR: the address handoff)."""
        if self.daemon.get(n, "bird") == "frr":
            out = self.run_in(self.d(n), "ip", "-o", "addr", "show", "dev", self.tun(n))
            return f"inet {VIP}/32" in out
        return "proto 245" in self.run_in(self.d(n), "ip", "route", "show", "table", "245")

    def kill9(self, n: int) -> float:
        """SIGKILL lvstui on director n; the monotonic time it was sent."""
        p = self.procs.pop(f"lvstui{n}")
        t = time.monotonic()
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=10)
        return t

    # ---- what the router sees ----------------------------------------------------------
    def nexthops(self) -> set[str]:
        """The directors the router's route to the VIP goes through."""
        out = self.run_in(self.router, "ip", "-j", "route", "show", f"{VIP}/32")
        hops: set[str] = set()
        for r in json.loads(out or "[]"):
            if "gateway" in r:
                hops.add(r["gateway"])
            for h in r.get("nexthops", []):
                hops.add(h["gateway"])
        return hops

    def director_addr(self, n: int) -> str:
        return f"192.0.2.{10 + n}"

    def inflight(self, lo: int, hi: int, path: str) -> Path:
        """Start requests from ports lo..hi-1 at once in the background (INFLIGHT_SCRIPT);
        returns its log, whose last line is the {port: answer} JSON when it is done."""
        self.spawn(
            "inflight", self.client, sys.executable, "-c", INFLIGHT_SCRIPT, str(lo), str(hi),
            path, CLIENT, VIP,
        )  # fmt: skip
        log = self.root / "inflight.log"
        wait(lambda: "sent" in log.read_text(), 30)
        return log

    def connect_many(self, lo: int, hi: int, path: str = "/") -> dict[int, str]:
        out = self.run_in(
            self.client, sys.executable, "-c", CLIENT_SCRIPT, str(lo), str(hi), path, CLIENT, VIP,
            timeout=120,
        )  # fmt: skip
        return {int(k): v for k, v in json.loads(out).items()}

    # ---- teardown ----------------------------------------------------------------------
    def tail(self) -> str:
        out = []
        for log in self.logs:
            with contextlib.suppress(OSError):
                text = log.read_text(errors="replace")
                if text.strip():
                    out.append(f"--- {log.name}\n{text[-1500:]}")
        return "\n".join(out)

    def close(self) -> None:
        for key in list(self.procs):
            self.stop(key, signal.SIGKILL if key.startswith("http") else signal.SIGTERM)
        names = [self.router, self.client, self.servers] + [
            self.d(n) for n in range(1, self.directors + 1)
        ]
        for name in names:
            sh("ip", "netns", "del", name, check=False)


def wait(cond: Callable[[], bool], timeout: float, interval: float = 0.1) -> float:
    """Poll until cond() holds; the seconds it took. AssertionError when it never does."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        try:
            if cond():
                return time.monotonic() - start
        except (RuntimeError, ValueError, OSError):
            pass
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(interval)
