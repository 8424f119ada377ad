"""Send hand-made adverts from a lab namespace (run as a script inside `ip netns exec`).

    python tests/vrrp/craft.py --kind bad_checksum --priority 200 --count 5

Kinds: good, bad_checksum, ttl (TTL 254), wrong_pass (v2), wrong_vips, v2 (a v2 advert to a
v3 peer). Encoded with lvstui's own encoder, sent on a raw socket like the real transport.
"""

from __future__ import annotations

import argparse
import socket
import struct
import time

from lvstui.vrrp.packet import MCAST_V4, Advert, AuthType, encode


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--kind", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--vrid", type=int, default=51)
    p.add_argument("--priority", type=int, default=200)
    p.add_argument("--version", type=int, default=3)
    p.add_argument("--advert-int", type=float, default=0.1)
    p.add_argument("--vip", default="198.51.100.9")
    p.add_argument("--auth-pass", default="")
    p.add_argument("--count", type=int, default=5)
    p.add_argument("--gap", type=float, default=0.05)
    a = p.parse_args()
    version, ttl, vips, bad = a.version, 255, (a.vip,), False
    pw = a.auth_pass
    if a.kind == "bad_checksum":
        bad = True
    elif a.kind == "ttl":
        ttl = 254
    elif a.kind == "wrong_pass":
        pw = "wrong!"
    elif a.kind == "wrong_vips":
        vips = ("198.51.100.99",)
    elif a.kind == "v2":
        version = 2
    intv = a.advert_int if version == 3 else max(1.0, round(a.advert_int))
    auth = AuthType.PASS if (pw and version == 2) else AuthType.NONE
    adv = Advert(version, a.vrid, a.priority, intv, vips, 4, auth, pw.encode())
    payload = encode(adv, src=a.src, dst=MCAST_V4, bad_checksum=bad)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    try:
        s.setsockopt(socket.SOL_SOCKET, 25, b"eth0")
        mreqn = struct.pack(
            "=4s4si",
            socket.inet_aton(MCAST_V4),
            socket.inet_aton(a.src),
            socket.if_nametoindex("eth0"),
        )
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        for _ in range(a.count):
            s.sendto(payload, (MCAST_V4, 0))
            time.sleep(a.gap)
    finally:
        s.close()


if __name__ == "__main__":
    main()
