"""Run inside the User-Mode-Linux guest (stdlib only): which real server the kernel's IPVS
picks, connection after connection, for given schedulers, weights and client addresses.

IPVS serves local clients too (its LOCAL_OUT hook), so everything stays on the guest's `lo`:
a virtual service on 127.0.0.1, real servers on 127.0.0.2-4 that answer their own address,
and clients bound to chosen 127.x source addresses. Prints one JSON object: scenario name →
list of the servers that answered, in order. `test_kernel_sequences.py` compares them with
what lvstui's userspace schedulers pick for the same connections.

    python3 kernel_sequences.py   (as root, in the guest)
"""

from __future__ import annotations

import json
import socket
import socketserver
import subprocess
import sys
import threading

PORT = 8080
REALS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(self.server.server_address[0].encode() + b"\n")
        try:
            while self.request.recv(4096):  # hold until the client closes
                pass
        except OSError:
            pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def ipvsadm(*args: str) -> None:
    subprocess.run(["ipvsadm", *args], check=True)


def service(vport: int, sched: str, weights: list[int], flags: str = "") -> None:
    extra = ["-b", flags] if flags else []
    ipvsadm("-A", "-t", f"127.0.0.1:{vport}", "-s", sched, *extra)
    for real, w in zip(REALS, weights, strict=False):
        ipvsadm("-a", "-t", f"127.0.0.1:{vport}", "-r", f"{real}:{PORT}", "-m", "-w", str(w))


def ask(vport: int, src: str | None = None) -> tuple[str, socket.socket]:
    s = socket.socket()
    s.settimeout(5)
    if src:
        s.bind((src, 0))
    s.connect(("127.0.0.1", vport))
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(64)
        if not chunk:
            break
        data += chunk
    return data.decode().strip(), s


def sequence(vport: int, n: int, hold: bool = False, srcs: list[str] | None = None) -> list[str]:
    out: list[str] = []
    held: list[socket.socket] = []
    for i in range(n):
        name, s = ask(vport, srcs[i] if srcs else None)
        out.append(name)
        if hold:
            held.append(s)
        else:
            s.close()
    for s in held:
        s.close()
    return out


def main() -> int:
    mods = ["ip_vs"] + [f"ip_vs_{m}" for m in ("rr", "wrr", "lc", "wlc", "sh", "mh", "sed", "nq")]
    for m in mods:
        subprocess.run(["modprobe", m], check=True)
    servers = [_Server((r, PORT), _Handler) for r in REALS]
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    srcs = [f"127.{1 + i // 200}.{i % 200}.{(i * 7) % 250 + 1}" for i in range(60)]
    res: dict[str, list[str]] = {}
    service(81, "rr", [1, 1, 1])
    res["rr"] = sequence(81, 7)
    service(82, "wrr", [1, 2, 3])
    res["wrr"] = sequence(82, 15)
    service(83, "wrr", [4, 2])
    res["wrr_gcd"] = sequence(83, 9)
    service(84, "wlc", [1, 2, 3])
    res["wlc_held"] = sequence(84, 8, hold=True)
    service(85, "lc", [1, 5, 1])
    res["lc_held"] = sequence(85, 6, hold=True)
    service(86, "sh", [1, 2, 1])
    res["sh"] = sequence(86, 60, srcs=srcs)
    service(87, "mh", [1, 2, 1])
    res["mh"] = sequence(87, 60, srcs=srcs)
    service(88, "sed", [1, 3])
    res["sed_held"] = sequence(88, 5, hold=True)
    service(89, "nq", [1, 3])
    res["nq_held"] = sequence(89, 3, hold=True)
    res["srcs"] = srcs
    print(json.dumps(res))
    sys.stdout.flush()
    for srv in servers:
        srv.shutdown()
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
