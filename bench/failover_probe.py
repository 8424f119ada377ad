"""Client-side probe for bench/failover.py, run inside the lab's client namespace.

Listens to VRRP adverts (raw socket, 224.0.0.18) and connects to VIP:80 every 2 ms; prints
one JSON object: the monotonic time of every advert per source (with its priority) and of
every reply with the body (the answering host's name). CLOCK_MONOTONIC is shared by all
network namespaces, so the driver can compare these times with its own.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import sys
import time


def main() -> None:
    vip, seconds, ready = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    mreqn = struct.pack(
        "=4s4si", socket.inet_aton("224.0.0.18"), b"\0" * 4, socket.if_nametoindex("eth0")
    )
    raw.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
    raw.setblocking(False)
    adverts: list[tuple[float, str, int]] = []
    replies: list[tuple[float, str]] = []
    open(ready, "w").close()
    end = time.monotonic() + seconds
    next_probe = 0.0
    try:
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_probe:
                next_probe = now + 0.002
                try:
                    with socket.create_connection((vip, 80), timeout=0.005) as s:
                        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                        body = b""
                        while chunk := s.recv(4096):
                            body += chunk
                    replies.append((now, body.rsplit(b"\r\n\r\n", 1)[-1].decode()))
                except OSError:
                    replies.append((now, "error"))
            r, _, _ = select.select([raw], [], [], 0.001)
            while r:
                try:
                    data, addr = raw.recvfrom(2048)
                except BlockingIOError:
                    break
                ihl = (data[0] & 15) * 4
                prio = data[ihl + 2] if len(data) > ihl + 2 else -1
                adverts.append((time.monotonic(), addr[0], prio))
    finally:
        raw.close()
    print(json.dumps({"adverts": adverts, "replies": replies}))


if __name__ == "__main__":
    main()
