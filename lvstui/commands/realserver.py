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
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Requirement", "add_arguments", "requirements", "run"]

PROC_SYS = Path("/proc/sys")
TUNNEL = "tunl0"


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


@dataclass(frozen=True, slots=True)
class Requirement:
    """One thing the real server needs: a sysctl value, an address, or a link up."""

    kind: str  # "sysctl" | "addr" | "link"
    name: str  # sysctl key (net.ipv4.conf.all.arp_ignore), address, or link name
    value: str = ""  # sysctl value; for "addr": the device
    why: str = ""

    def command(self) -> str:
        if self.kind == "sysctl":
            return f"sysctl -w {self.name}={self.value}"
        if self.kind == "addr":
            prefix = 128 if ":" in self.name else 32
            return f"ip addr add {self.name}/{prefix} dev {self.value}"
        return f"ip link set {self.name} up"


def _sysctl_key(*parts: str) -> str:
    # `sysctl` writes a dot inside an interface name as "/" (eth0.100 → eth0/100)
    return ".".join(p.replace(".", "/") for p in parts)


def requirements(vips: list[str], mode: str, interface: str | None) -> list[Requirement]:
    reqs: list[Requirement] = []
    v4 = [v for v in vips if ":" not in v]
    if v4:  # ARP is IPv4 only; IPv6 neighbour discovery does not need this
        for dev in ["all"] + ([interface] if interface else []):
            reqs.append(
                Requirement(
                    "sysctl",
                    _sysctl_key("net", "ipv4", "conf", dev, "arp_ignore"),
                    "1",
                    "answer ARP only for addresses of the receiving interface",
                )
            )
            reqs.append(
                Requirement(
                    "sysctl",
                    _sysctl_key("net", "ipv4", "conf", dev, "arp_announce"),
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
                    _sysctl_key("net", "ipv4", "conf", dev, "rp_filter"),
                    "0",
                    "accept decapsulated packets whose source routes elsewhere",
                )
            )
    dev = TUNNEL if mode == "tun" else "lo"
    for vip in vips:
        reqs.append(Requirement("addr", vip, dev, f"hold the VIP without announcing it ({dev})"))
    return reqs


# --- reading and writing the system -------------------------------------------------------------


def _sysctl_path(key: str) -> Path:
    # split on dots, then turn "/" (a dot inside an interface name) back into a dot
    return PROC_SYS.joinpath(*(p.replace("/", ".") for p in key.split(".")))


def read_sysctl(key: str) -> str | None:
    try:
        return _sysctl_path(key).read_text().strip()
    except OSError:
        return None


def _addresses(ipr: Any) -> dict[str, set[str]]:
    """device name → its addresses (without prefix)."""
    names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
    out: dict[str, set[str]] = {}
    for a in ipr.get_addr():
        addr = a.get_attr("IFA_ADDRESS") or a.get_attr("IFA_LOCAL")
        out.setdefault(names.get(a["index"], "?"), set()).add(str(addr))
    return out


def _link_up(ipr: Any, name: str) -> bool | None:
    """True/False: the link's admin state; None: no such link."""
    idx = ipr.link_lookup(ifname=name)
    if not idx:
        return None
    (link,) = ipr.get_links(idx[0])
    return bool(link["flags"] & 1)  # IFF_UP


def default_interface() -> str | None:
    """The interface of the IPv4 default route (a local table lookup, nothing is sent)."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        for r in ipr.get_default_routes(family=2):
            oif = r.get_attr("RTA_OIF")
            if oif:
                links = ipr.get_links(oif)
                if links:
                    name: str = links[0].get_attr("IFLA_IFNAME")
                    return name
    return None


def check(reqs: list[Requirement]) -> list[tuple[Requirement, str]]:
    """What is missing: (requirement, what is there instead)."""
    from pyroute2 import IPRoute

    missing: list[tuple[Requirement, str]] = []
    with IPRoute() as ipr:
        addrs = _addresses(ipr)
        for r in reqs:
            if r.kind == "sysctl":
                have = read_sysctl(r.name)
                if have != r.value:
                    missing.append((r, "absent" if have is None else f"is {have}"))
            elif r.kind == "addr":
                if r.name not in addrs.get(r.value, set()):
                    missing.append((r, f"not on {r.value}"))
            else:
                up = _link_up(ipr, r.name)
                if not up:
                    missing.append((r, "no such device" if up is None else "down"))
    return missing


def _ensure_tunnel() -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        if ipr.link_lookup(ifname=TUNNEL):
            return
    # tunl0 appears when the ipip module loads (it cannot be created by netlink).
    try:
        res = subprocess.run(
            ["modprobe", "ipip"], capture_output=True, text=True, timeout=30, check=False
        )
        detail = res.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        detail = str(exc)
    with IPRoute() as ipr:
        if not ipr.link_lookup(ifname=TUNNEL):
            from lvstui.errors import LvstuiError

            raise LvstuiError(
                f"no {TUNNEL}: this kernel has no ipip module ({detail or 'modprobe ipip failed'})",
                hint="TUN needs CONFIG_NET_IPIP; use --mode dr, or a kernel with ipip",
            )


def apply(reqs: list[Requirement]) -> list[str]:
    """Make every requirement true; returns what was changed (already-true ones are skipped)."""
    from pyroute2 import IPRoute

    done: list[str] = []
    if any(r.kind == "link" for r in reqs):
        _ensure_tunnel()
    with IPRoute() as ipr:
        for r in reqs:
            if r.kind == "link" and not _link_up(ipr, r.name):
                ipr.link("set", index=ipr.link_lookup(ifname=r.name)[0], state="up")
                done.append(r.command())
    for r in reqs:
        if r.kind == "sysctl" and read_sysctl(r.name) != r.value:
            path = _sysctl_path(r.name)
            try:
                path.write_text(r.value + "\n")
            except OSError as exc:
                from lvstui.errors import LvstuiError

                raise LvstuiError(
                    f"cannot write {path}: {exc.strerror}",
                    hint="run as root; check that the interface exists",
                ) from None
            done.append(r.command())
    with IPRoute() as ipr:
        addrs = _addresses(ipr)
        for r in reqs:
            if r.kind == "addr" and r.name not in addrs.get(r.value, set()):
                idx = ipr.link_lookup(ifname=r.value)[0]
                prefix = 128 if ":" in r.name else 32
                ipr.addr("add", index=idx, address=r.name, prefixlen=prefix)
                done.append(r.command())
    return done


def _print_plan(reqs: list[Requirement], mode: str, vips: list[str]) -> None:
    print(f"# real server for {mode.upper()} behind VIP {', '.join(vips)}: run as root")
    if mode == "tun":
        print("modprobe ipip")
    for r in reqs:
        print(f"{r.command():<60} # {r.why}")
    sysctls = [r for r in reqs if r.kind == "sysctl"]
    if sysctls:
        print("# keep the sysctls across reboots: /etc/sysctl.d/90-lvs-realserver.conf")
        for r in sysctls:
            print(f"#   {r.name} = {r.value}")
    print("# or let lvstui do it: lvstui realserver ... --apply; verify with --check")


def run(args: argparse.Namespace) -> int:
    from lvstui.errors import LvstuiError

    try:
        vips = [str(ipaddress.ip_address(v)) for v in args.vip]
    except ValueError as exc:
        print(f"lvstui realserver: {exc}", file=sys.stderr)
        return 2
    if args.mode == "tun" and any(":" in v for v in vips):
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
        missing = check(reqs)
        for r in reqs:
            bad = next((have for m, have in missing if m == r), None)
            mark = "ok     " if bad is None else "MISSING"
            print(f"{mark} {r.command()}" + (f"   ({bad})" if bad else ""))
        if missing:
            print(f"{len(missing)} thing(s) missing: fix with --apply (root)", file=sys.stderr)
            return 1
        print(f"ready for {args.mode.upper()}")
        return 0
    if args.apply:
        try:
            done = apply(reqs)
        except LvstuiError as exc:
            print(f"lvstui realserver: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"lvstui realserver: {exc}", file=sys.stderr)
            return 1
        for line in done:
            print(f"done: {line}")
        if not done:
            print("nothing to do: already set up")
        missing = check(reqs)
        if missing:
            for r, have in missing:
                print(f"still missing: {r.command()} ({have})", file=sys.stderr)
            return 1
        return 0
    _print_plan(reqs, args.mode, vips)
    return 0
