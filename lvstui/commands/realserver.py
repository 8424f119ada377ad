"""`lvstui realserver`: what a real server needs for direct routing (DR) or IP-in-IP (TUN).

    lvstui realserver --vip VIP [--vip VIP ...] [--mode dr|tun] [--interface IF]
                      [--apply | --check]

With DR and TUN the real server answers clients directly, from the VIP, so it must hold
the VIP itself, but must never answer ARP for it (or it steals the VIP from the director):

- DR: `arp_ignore=1` (answer ARP only for addresses of the receiving interface) and
  `arp_announce=2` (use the best local address as ARP source) on `all` and the interface
  facing the director; the VIP as a /32 on `lo`.
- TUN: the same ARP settings; the `ipip` module loaded, `tunl0` up with the VIP /32, and
  reverse-path filtering off on `all` and `tunl0` (decapsulated packets arrive from the
  director, whose address is not the route back to the client).

Without --apply or --check it prints the commands (and the sysctl.d lines that keep the
settings across reboots). --apply makes the changes here (root: /proc/sys writes and
netlink through pyroute2). --check reads the current state, prints what is missing and
exits 1 if anything is.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys

from lvstui.hostsetup import (
    TUNNEL,
    Requirement,
    default_interface,
    print_plan,
    report_apply,
    report_check,
    sysctl_key,
)
from lvstui.netutil import is_ipv6

__all__ = ["add_arguments", "requirements", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vip", action="append", required=True, metavar="VIP", help="a virtual IP (repeatable)"
    )
    parser.add_argument("--mode", choices=["dr", "tun"], default="dr", help="forwarding (dr)")
    parser.add_argument(
        "--interface",
        metavar="IF",
        help="interface facing the director (default: the default route's)",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--apply", action="store_true", help="make the changes (root)")
    action.add_argument("--check", action="store_true", help="verify; exit 1 if not ready")


def requirements(vips: list[str], mode: str, interface: str | None) -> list[Requirement]:
    reqs: list[Requirement] = []
    v4 = [v for v in vips if not is_ipv6(v)]
    if v4:  # ARP is IPv4 only; IPv6 neighbour discovery does not need this
        for dev in ["all"] + ([interface] if interface else []):
            reqs.append(
                Requirement(
                    "sysctl",
                    sysctl_key("net", "ipv4", "conf", dev, "arp_ignore"),
                    "1",
                    "answer ARP only for addresses of the receiving interface",
                )
            )
            reqs.append(
                Requirement(
                    "sysctl",
                    sysctl_key("net", "ipv4", "conf", dev, "arp_announce"),
                    "2",
                    "never announce the VIP as an ARP source",
                )
            )
    if mode == "tun":
        reqs.append(Requirement("link", TUNNEL, why="the ipip tunnel device (modprobe ipip)"))
        for dev in ("all", TUNNEL):
            reqs.append(
                Requirement(
                    "sysctl",
                    sysctl_key("net", "ipv4", "conf", dev, "rp_filter"),
                    "0",
                    "accept decapsulated packets whose source routes elsewhere",
                )
            )
    dev = TUNNEL if mode == "tun" else "lo"
    for vip in vips:
        reqs.append(Requirement("addr", vip, dev, f"hold the VIP without announcing it ({dev})"))
    return reqs


def _print_plan(reqs: list[Requirement], mode: str, vips: list[str]) -> None:
    print(f"# real server for {mode.upper()} behind VIP {', '.join(vips)}: run as root")
    if mode == "tun":
        print("modprobe ipip")
    print_plan(reqs, "/etc/sysctl.d/90-lvs-realserver.conf")
    print("# or let lvstui do it: lvstui realserver ... --apply; verify with --check")


def run(args: argparse.Namespace) -> int:
    try:
        vips = [str(ipaddress.ip_address(v)) for v in args.vip]
    except ValueError as exc:
        print(f"lvstui realserver: {exc}", file=sys.stderr)
        return 2
    if args.mode == "tun" and any(is_ipv6(v) for v in vips):
        print("lvstui realserver: TUN with an IPv6 VIP (ip6tnl) is not supported", file=sys.stderr)
        return 2
    interface = args.interface
    if interface is None:
        try:
            interface = default_interface()
        except Exception:  # no netlink (container, unusual kernel): `all` still works
            interface = None
    reqs = requirements(vips, args.mode, interface)
    if args.check:
        return report_check(reqs, f"ready for {args.mode.upper()}")
    if args.apply:
        return report_apply(reqs, "lvstui realserver")
    _print_plan(reqs, args.mode, vips)
    return 0
