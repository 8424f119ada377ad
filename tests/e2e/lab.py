"""An operator's director-pair lab in network namespaces, for end-to-end trials.

    netns <pfx>lan : bridge br0 (no address)
    <pfx>d1, <pfx>d2 : directors 198.51.100.11 / .12 (lvstui --daemon or keepalived)
    <pfx>r1, <pfx>r2 : real servers 198.51.100.21 / .22, HTTP on :80 answering their name
    <pfx>cl         : a client, 198.51.100.100

The VIP is 198.51.100.9; the directors serve it on :8080 with the userspace dataplane. Every
process is started with a handle kept here and every namespace is deleted by `close()`, even
after a failure. Addresses are only from 198.51.100.0/24 (TEST-NET-2), inside the namespaces.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

from tests.helpers import REPO, wait_until

VIP = "198.51.100.9"
VPORT = 8080
VRID = 57
ADDR = {
    "d1": "198.51.100.11",
    "d2": "198.51.100.12",
    "r1": "198.51.100.21",
    "r2": "198.51.100.22",
    "cl": "198.51.100.100",
}

HTTP_SERVER = """
import http.server, sys
name = sys.argv[1].encode()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(name)))
        self.end_headers()
        self.wfile.write(name)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("0.0.0.0", 80), H).serve_forever()
"""

# Runs in the client namespace: `count` HTTP GETs to the VIP, one every `gap` seconds, each
# with a short timeout; prints one JSON line per request (time, body or error).
CLIENT_LOOP = """
import json, socket, sys, time
vip, port, count, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
print("ready", flush=True)
for i in range(count):
    t = time.monotonic()
    try:
        with socket.create_connection((vip, port), timeout=3.0) as s:
            s.settimeout(3.0)
            s.sendall(b"GET / HTTP/1.0\\r\\nHost: vip\\r\\n\\r\\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\\r\\n\\r\\n")
        ok = head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200")
        out = {"t": t, "ok": ok, "body": body.decode(errors="replace")}
    except OSError as exc:
        out = {"t": t, "ok": False, "err": repr(exc)}
    print(json.dumps(out), flush=True)
    time.sleep(max(0.0, gap - (time.monotonic() - t)))
"""


def daemon_config(
    router_id: str,
    priority: int,
    state: str,
    *,
    weight1: int = 1,
    extra: str = "",
    global_extra: str = "",
    dataplane: str = "userspace",
    lb_kind: str = "NAT",
    vport: int = VPORT,
) -> str:
    """A director's config.toml: VRRPv3 at 0.1 s for the VIP, one virtual server with r1
    and r2 (tcp_check). `global_extra`: more [global_defs] lines; `extra`: more tables.
    Direct routing (`lb_kind = "DR"`) needs `vport` 80, the real servers' port."""
    return f"""
[global_defs]
router_id = "{router_id}"
{global_extra}
[lvstui]
dataplane = "{dataplane}"
directors = 2

[vrrp_instance.web]
state = "{state}"
interface = "eth0"
virtual_router_id = {VRID}
priority = {priority}
version = 3
advert_int = 0.1
virtual_ipaddress = ["{VIP}/24"]

[[virtual_server]]
ip = "{VIP}"
port = {vport}
protocol = "TCP"
lb_algo = "wrr"
lb_kind = "{lb_kind}"
delay_loop = 1

[[virtual_server.real_server]]
ip = "{ADDR["r1"]}"
port = 80
weight = {weight1}
[[virtual_server.real_server.tcp_check]]
connect_timeout = 1
retry = 0

[[virtual_server.real_server]]
ip = "{ADDR["r2"]}"
port = 80
weight = 1
[[virtual_server.real_server.tcp_check]]
connect_timeout = 1
retry = 0
{extra}"""


def keepalived_config(router_id: str, priority: int, state: str) -> str:
    return f"""global_defs {{
    router_id {router_id}
    vrrp_version 3
}}
vrrp_instance web {{
    state {state}
    interface eth0
    virtual_router_id {VRID}
    priority {priority}
    advert_int 0.1
    virtual_ipaddress {{
        {VIP}/24 dev eth0
    }}
}}
"""


def alive(pid: int) -> bool:
    """Exists and is not a zombie (PID 1 here reaps orphans late)."""
    try:
        st = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return st != "Z"


class Lab:
    def __init__(self, prefix: str) -> None:
        self.pfx = prefix
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[bytes]] = []
        self.ka_pids: list[Path] = []
        self.namespaces: list[str] = []

    # -- topology ---------------------------------------------------------------------------

    def ns(self, host: str) -> str:
        return f"{self.pfx}{host}"

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, timeout=10, capture_output=True)

    def _sysctl(self, ns: str, *settings: str) -> None:
        subprocess.run(
            ["ip", "netns", "exec", ns, "sysctl", "-qw", *settings],
            check=True,
            timeout=10,
            capture_output=True,
        )

    def up(self) -> None:
        lan = self.ns("lan")
        self._ip("netns", "add", lan)
        self.namespaces.append(lan)
        self._ip("-n", lan, "link", "set", "lo", "up")
        self._ip(
            *("-n", lan, "link", "add", "br0", "type", "bridge"),
            *("stp_state", "0", "forward_delay", "0", "mcast_snooping", "0"),
        )
        self._sysctl(
            lan, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"
        )
        self._ip("-n", lan, "link", "set", "br0", "up")
        for i, (host, addr) in enumerate(ADDR.items(), 1):
            n = self.ns(host)
            self._ip("netns", "add", n)
            self.namespaces.append(n)
            self._ip("-n", n, "link", "set", "lo", "up")
            self._sysctl(
                n,
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
                "net.ipv4.conf.all.arp_ignore=1",
                "net.ipv4.conf.all.arp_announce=2",
            )
            self._ip(
                *("-n", lan, "link", "add", f"p-{host}", "type", "veth"),
                *("peer", "name", "eth0", "netns", n),
            )
            self._ip("-n", lan, "link", "set", f"p-{host}", "master", "br0", "up")
            self._ip("-n", n, "link", "set", "eth0", "address", f"02:00:00:00:5a:{i:02x}")
            self._ip("-n", n, "addr", "add", f"{addr}/24", "dev", "eth0")
            self._ip("-n", n, "link", "set", "eth0", "up")

    # -- processes --------------------------------------------------------------------------

    def spawn(self, host: str, argv: list[str], name: str) -> subprocess.Popen[bytes]:
        """Start `argv` in `host`'s namespace, stdout and stderr to DIR/name.log."""
        log = (self.dir / f"{name}.log").open("ab")
        self.logs.append(log)
        p = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(host), *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        self.procs.append(p)
        return p

    def log(self, name: str) -> str:
        path = self.dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def http(self, host: str) -> subprocess.Popen[bytes]:
        return self.spawn(host, [sys.executable, "-c", HTTP_SERVER, host], f"http-{host}")

    def daemon(self, host: str, config: str, state: str = "") -> Daemon:
        return Daemon(self, host, config, state)

    def keepalived(self, host: str, conf: str) -> Keepalived:
        return Keepalived(self, host, conf)

    def vip_on(self, host: str) -> bool:
        out = subprocess.run(
            ["ip", "-n", self.ns(host), "-4", "addr", "show", "dev", "eth0"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        return f"inet {VIP}/" in out

    def get(self, host: str = "cl", timeout: float = 2.0) -> str | None:
        """One HTTP GET of the VIP from `host`: the body, or None on any failure."""
        r = subprocess.run(
            [
                *("ip", "netns", "exec", self.ns(host), sys.executable, "-c", CLIENT_LOOP),
                *(VIP, str(VPORT), "1", "0"),
            ],
            capture_output=True,
            text=True,
            timeout=timeout + 10,
            check=False,
        )
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            return None
        out = json.loads(lines[-1])
        return str(out["body"]) if out["ok"] else None

    def client_loop(self, count: int, gap: float) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(
            [
                *("ip", "netns", "exec", self.ns("cl"), sys.executable, "-c", CLIENT_LOOP),
                *(VIP, str(VPORT), str(count), str(gap)),
            ],
            stdout=subprocess.PIPE,
            cwd=REPO,
        )
        self.procs.append(p)
        assert p.stdout is not None
        assert p.stdout.readline().strip() == b"ready"
        return p

    def close(self) -> None:
        for pidfile in self.ka_pids:
            with contextlib.suppress(OSError, ValueError):
                pid = int(pidfile.read_text().strip())
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)
            if p.stdout is not None:
                p.stdout.close()
        for log in self.logs:
            log.close()
        for n in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", n], check=False, timeout=10, capture_output=True)
        self.namespaces.clear()
        if not os.environ.get("LVT_KEEP"):  # LVT_KEEP=1 keeps the logs to read after a failure
            shutil.rmtree(self.dir, ignore_errors=True)


class Daemon:
    """`python -m lvstui --daemon` in a director namespace, with its own socket and state."""

    def __init__(self, lab: Lab, host: str, config: str, state: str = "") -> None:
        """`state`: a suffix for the state dir (and the log): a restart with a new one
        starts with an empty state dir."""
        self.lab = lab
        self.host = host
        self.cfg = lab.dir / f"{host}.toml"
        self.cfg.write_text(config)
        self.sock = lab.dir / f"{host}.sock"
        self.name = f"daemon-{host}{state}"
        self.state_dir = lab.dir / f"{host}-state{state}"
        self.proc = lab.spawn(
            host,
            [
                *(sys.executable, "-m", "lvstui", "--daemon", "-f", str(self.cfg)),
                *("--socket", str(self.sock), "--state-dir", str(self.state_dir)),
            ],
            self.name,
        )

    def cli(self, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lvstui", *args, "--socket", str(self.sock)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
            check=False,
        )

    def status(self) -> dict[str, object] | None:
        if not self.sock.exists() or self.proc.poll() is not None:
            return None
        r = self.cli("status", "--json")
        if r.returncode != 0:
            return None
        data: dict[str, object] = json.loads(r.stdout)
        return data

    def vrrp_state(self) -> str | None:
        st = self.status()
        if st is None:
            return None
        instances: list[dict[str, object]] = st["vrrp"]  # type: ignore[assignment]
        return str(instances[0]["state"])

    def wait_state(self, state: str, timeout: float = 15) -> None:
        wait_until(lambda: self.vrrp_state() == state, timeout=timeout, interval=0.1)

    def log(self) -> str:
        return self.lab.log(self.name)


class Keepalived:
    """A real keepalived (VRRP only) with its own pid files, as vrrp-lab.sh starts it."""

    def __init__(self, lab: Lab, host: str, conf: str) -> None:
        self.log_name = f"keepalived-{host}-{len(lab.ka_pids)}"
        self.lab = lab
        d = lab.dir / self.log_name
        d.mkdir()
        self.conf = d / "keepalived.conf"
        self.conf.write_text(conf)
        self.pid = d / "keepalived.pid"
        self.vrrp_pid = d / "vrrp.pid"
        lab.ka_pids += [self.vrrp_pid, self.pid]
        self.proc = lab.spawn(
            host,
            [
                *("keepalived", "-P", "-n", "-l", "-D", "-G", "-f", str(self.conf)),
                *("-p", str(self.pid), "-r", str(self.vrrp_pid)),
                *("-c", str(d / "checkers.pid"), "-b", str(d / "bfd.pid")),
            ],
            self.log_name,
        )
        wait_until(lambda: self.vrrp_pid.exists() and self.vrrp_pid.read_text().strip() != "", 5)

    def log(self) -> str:
        return self.lab.log(self.log_name)

    def kill9(self) -> None:
        """A real crash: freeze the parent, kill the VRRP child, then the parent (no
        priority-0 advert)."""
        parent = int(self.pid.read_text())
        child = int(self.vrrp_pid.read_text())
        os.kill(parent, signal.SIGSTOP)
        os.kill(child, signal.SIGKILL)
        os.kill(parent, signal.SIGKILL)
        self.proc.wait(10)
        wait_until(lambda: not alive(child), 5)
