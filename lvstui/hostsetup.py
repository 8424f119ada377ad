"""What a host needs for a forwarding role, checked and applied: sysctls, addresses, links,
kernel modules. `lvstui realserver` (a DR/TUN real server) and `lvstui director` (an IPVS
director) each build a list of `Requirement`s; this module prints, checks and applies any
such list, through /proc/sys, /sys/module and netlink (pyroute2).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lvstui.netutil import is_ipv6

__all__ = [
    "Requirement",
    "apply",
    "check",
    "default_interface",
    "module_loaded",
    "print_plan",
    "read_sysctl",
    "report_apply",
    "report_check",
    "sysctl_key",
    "write_sysctl",
]

PROC_SYS = Path("/proc/sys")
SYS_MODULE = Path("/sys/module")
TUNNEL = "tunl0"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One thing the host needs: a sysctl value, an address, a link up, or a kernel module."""

    kind: str  # "sysctl" | "addr" | "link" | "module"
    name: str  # sysctl key (net.ipv4.conf.all.arp_ignore), address, link or module name
    value: str = ""  # sysctl value; for "addr": the device
    why: str = ""

    def command(self) -> str:
        if self.kind == "sysctl":
            return f"sysctl -w {self.name}={self.value}"
        if self.kind == "addr":
            prefix = 128 if is_ipv6(self.name) else 32
            return f"ip addr add {self.name}/{prefix} dev {self.value}"
        if self.kind == "module":
            return f"modprobe {self.name}"
        return f"ip link set {self.name} up"


def sysctl_key(*parts: str) -> str:
    # `sysctl` writes a dot inside an interface name as "/" (eth0.100 → eth0/100)
    return ".".join(p.replace(".", "/") for p in parts)


def _sysctl_path(key: str) -> Path:
    # split on dots, then turn "/" (a dot inside an interface name) back into a dot
    return PROC_SYS.joinpath(*(p.replace("/", ".") for p in key.split(".")))


def read_sysctl(key: str) -> str | None:
    try:
        return _sysctl_path(key).read_text().strip()
    except OSError:
        return None


def write_sysctl(key: str, value: str) -> None:
    """Set a sysctl; OSError when the kernel refuses (or the key does not exist)."""
    _sysctl_path(key).write_text(value + "\n")


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
            elif r.kind == "module":
                if not module_loaded(r.name):
                    missing.append((r, "not loaded"))
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
    detail = _run_modprobe("ipip")
    with IPRoute() as ipr:
        if not ipr.link_lookup(ifname=TUNNEL):
            from lvstui.errors import LvstuiError

            raise LvstuiError(
                f"no {TUNNEL}: this kernel has no ipip module ({detail or 'modprobe ipip failed'})",
                hint="TUN needs CONFIG_NET_IPIP; use --mode dr, or a kernel with ipip",
            )


def module_loaded(name: str) -> bool:
    # a loaded module, or a built-in one with parameters, has its /sys/module directory
    return (SYS_MODULE / name).is_dir()


def _run_modprobe(name: str) -> str:
    """Load a module; what modprobe said on failure ("" on success)."""
    try:
        res = subprocess.run(
            ["modprobe", name], capture_output=True, text=True, timeout=30, check=False
        )
        return res.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)


def _modprobe(name: str) -> None:
    detail = _run_modprobe(name)
    if not module_loaded(name):
        from lvstui.errors import LvstuiError

        raise LvstuiError(
            f"cannot load the {name} module ({detail or 'modprobe failed'})",
            hint="run as root, on a kernel built with it",
        )


def apply(reqs: list[Requirement]) -> list[str]:
    """Make every requirement true; returns what was changed (already-true ones are skipped)."""
    from pyroute2 import IPRoute

    done: list[str] = []
    for r in reqs:
        if r.kind == "module" and not module_loaded(r.name):
            _modprobe(r.name)
            done.append(r.command())
    if any(r.kind == "link" for r in reqs):
        _ensure_tunnel()
    with IPRoute() as ipr:
        for r in reqs:
            if r.kind == "link" and not _link_up(ipr, r.name):
                ipr.link("set", index=ipr.link_lookup(ifname=r.name)[0], state="up")
                done.append(r.command())
    for r in reqs:
        if r.kind == "sysctl" and read_sysctl(r.name) != r.value:
            try:
                write_sysctl(r.name, r.value)
            except OSError as exc:
                from lvstui.errors import LvstuiError

                raise LvstuiError(
                    f"cannot write {_sysctl_path(r.name)}: {exc.strerror}",
                    hint="run as root; check that the interface exists",
                ) from None
            done.append(r.command())
    with IPRoute() as ipr:
        addrs = _addresses(ipr)
        for r in reqs:
            if r.kind == "addr" and r.name not in addrs.get(r.value, set()):
                idx = ipr.link_lookup(ifname=r.value)[0]
                prefix = 128 if is_ipv6(r.name) else 32
                ipr.addr("add", index=idx, address=r.name, prefixlen=prefix)
                done.append(r.command())
    return done


def print_plan(reqs: list[Requirement], sysctl_file: str) -> None:
    """The commands, each with why, and the sysctl.d lines that keep the sysctls."""
    for r in reqs:
        print(f"{r.command():<60} # {r.why}")
    sysctls = [r for r in reqs if r.kind == "sysctl"]
    if sysctls:
        print(f"# keep the sysctls across reboots: {sysctl_file}")
        for r in sysctls:
            print(f"#   {r.name} = {r.value}")


def report_check(reqs: list[Requirement], ready: str) -> int:
    """Print each requirement as ok or MISSING; 0 when all hold, 1 otherwise."""
    missing = check(reqs)
    for r in reqs:
        bad = next((have for m, have in missing if m == r), None)
        mark = "ok     " if bad is None else "MISSING"
        print(f"{mark} {r.command()}" + (f"   ({bad})" if bad else ""))
    if missing:
        print(f"{len(missing)} thing(s) missing: fix with --apply (root)", file=sys.stderr)
        return 1
    print(ready)
    return 0


def report_apply(reqs: list[Requirement], prog: str) -> int:
    """Apply, print what changed, verify; 0 when everything holds afterwards."""
    from lvstui.errors import LvstuiError

    try:
        done = apply(reqs)
    except (LvstuiError, OSError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
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
