"""How fast a director's VIP leaves the router: quorum loss, and kill -9 of lvstui.

    sudo .venv/bin/python bench/bgp_withdraw.py [--runs 10] [--daemon bird|frr]

Builds the BGP/ECMP namespace lab of tests/announce/lab.py (a BIRD 2 router with ECMP, two
directors running `lvstui --daemon` on the userspace dataplane and BIRD 2 exporting lvstui's
kernel table — or, with --daemon frr, director 1 running FRR, which announces the addresses
on lvstui's tun device (the address handoff) — real servers, a client) and measures, at the
router, `--runs` times each:

- quorum loss: from the moment director 1's real servers stop answering its checks
  (delay_loop 0.3 s, connect_timeout 0.5 s) to the router's route no longer going through
  it; split into detection (to the route leaving the director's table 245, or the address
  its tun device) and the rest
  (routing daemon, BGP, the router's kernel route);
- kill -9 of lvstui on director 1 → the route gone at the router;
- the peer, measured in the same run the same way: an announcement without fate sharing —
  with BIRD a `dev lo` route in table 245, with FRR the VIP on a veth device of the tun
  device's name, which outlives its process (a persistent tun would not do: it loses its
  carrier when its last reader goes, and zebra follows that) — added by a process that is
  then killed with -9: the router still sends traffic to the dead director when the wait
  ends.

Prints p50 and max of each. Root and apt bird2 (and frr for --daemon frr). Traffic stays in
the namespaces it creates (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.announce.lab import VIP, Lab, wait

PEER_WAIT_S = 5.0


def _fig(xs: list[float]) -> str:
    if not xs:
        return "-"
    return f"p50 {statistics.median(xs) * 1000:7.0f} ms   max {max(xs) * 1000:7.0f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--daemon", choices=("bird", "frr"), default="bird")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="bgp-bench-"))
    lab = Lab(directors=2, daemon={1: args.daemon}, root=root)
    d1 = lab.director_addr(1)
    both = {d1, lab.director_addr(2)}
    quorum: list[float] = []
    detect: list[float] = []
    kill: list[float] = []
    peer_left = 0
    try:
        lab.up()
        lab.routing()
        lab.lvstui(1)
        lab.lvstui(2)
        wait(lambda: lab.nexthops() == both, 120)
        for i in range(args.runs):
            t0 = time.monotonic()
            lab.health(1, False)
            wait(lambda: not lab.announced(1), 30, interval=0.005)
            t1 = time.monotonic()
            wait(lambda: d1 not in lab.nexthops(), 30, interval=0.005)
            t2 = time.monotonic()
            quorum.append(t2 - t0)
            detect.append(t1 - t0)
            lab.health(1, True)
            wait(lambda: lab.nexthops() == both, 60)
            print(f"quorum run {i + 1}: {t2 - t0:.3f} s (director table {t1 - t0:.3f} s)")
        for i in range(args.runs):
            t0 = lab.kill9(1)
            wait(lambda: d1 not in lab.nexthops(), 30, interval=0.005)
            kill.append(time.monotonic() - t0)
            print(f"kill -9 run {i + 1}: {kill[-1]:.3f} s")
            lab.lvstui(1)
            wait(lambda: lab.nexthops() == both and lab.announced(1), 120)
        # the peer: an announcement owned by nobody once its process is gone
        lab.stop("lvstui1")
        wait(lambda: lab.nexthops() == {lab.director_addr(2)}, 30)
        dev = lab.tun(1)
        add = (
            f"ip link add {dev} type veth peer {dev}p && ip link set {dev}p up && "
            f"ip link set {dev} up && "
            f"ip addr add {VIP}/32 dev {dev}"
            if args.daemon == "frr"
            else f"ip route add {VIP}/32 dev lo table 245 proto 245"
        )
        holder = subprocess.Popen(
            ["ip", "netns", "exec", lab.d(1), "sh", "-c", f"{add} && exec sleep 600"]
        )
        wait(lambda: lab.nexthops() == both, 30)
        holder.kill()
        holder.wait()
        time.sleep(PEER_WAIT_S)
        peer_left = int(d1 in lab.nexthops())
    finally:
        lab.close()
        shutil.rmtree(root, ignore_errors=True)
    print()
    print(f"director-side daemon: {args.daemon}; {args.runs} runs each")
    print(f"quorum loss -> route gone at the router   {_fig(quorum)}")
    print(f"  of which to the director's table        {_fig(detect)}")
    print(f"kill -9 lvstui -> route gone at the router {_fig(kill)}")
    peer = "address on a veth" if args.daemon == "frr" else "dev lo route"
    print(
        f"peer: {peer}, its process killed -9: "
        f"{'still routed to the dead director' if peer_left else 'gone'} after {PEER_WAIT_S:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
