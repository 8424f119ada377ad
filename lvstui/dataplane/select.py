"""Choosing the dataplane: `dataplane = "auto" | "ipvs" | "userspace"` (and memory for dry runs).

`auto` takes the kernel's IPVS when both hold:

- we have CAP_NET_ADMIN (effective capabilities, read from /proc/self/status), and
- the `ip_vs` module is there: /proc/net/ip_vs exists, or `modprobe ip_vs` makes it appear;

otherwise it falls back to the userspace forwarder. Either way it returns a one-line reason
that the daemon logs loudly (it is also in `capabilities.reason`), because an operator who
expected IPVS and got userspace (or the reverse) must see it at once.

The IPVS dataplane lives in `lvstui.dataplane.ipvs` (class `IpvsDataplane`, given the reason
as its constructor argument); it is imported only when chosen, so pyroute2's IPVS stays out
of processes that do not use it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lvstui.config.schema import DataplaneKind
from lvstui.dataplane.base import Dataplane
from lvstui.errors import DataplaneError

if TYPE_CHECKING:
    from lvstui.dataplane.ipvs import IpvsDataplane

__all__ = ["CAP_NET_ADMIN", "Probe", "has_cap", "probe", "select_dataplane"]

CAP_NET_ADMIN = 12
_PROC_IPVS = Path("/proc/net/ip_vs")


@dataclass(frozen=True, slots=True)
class Probe:
    cap_net_admin: bool
    ipvs_module: bool
    detail: str  # what was found about the module


def has_cap(cap: int = CAP_NET_ADMIN, status: str | None = None) -> bool:
    """Whether capability `cap` is in this process's effective set."""
    if status is None:
        try:
            status = Path("/proc/self/status").read_text()
        except OSError:
            return os.geteuid() == 0
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> cap & 1)
    return os.geteuid() == 0


def _ipvs_module(try_modprobe: bool) -> tuple[bool, str]:
    if _PROC_IPVS.exists():
        return True, "ip_vs is loaded (/proc/net/ip_vs)"
    if not try_modprobe:
        return False, "ip_vs is not loaded"
    modprobe = shutil.which("modprobe") or "/sbin/modprobe"
    if not Path(modprobe).exists():
        return False, "ip_vs is not loaded and modprobe is missing"
    try:
        proc = subprocess.run(
            [modprobe, "-q", "ip_vs"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"modprobe ip_vs failed: {e}"
    if _PROC_IPVS.exists():
        return True, "ip_vs loaded by modprobe"
    why = proc.stderr.strip() or f"exit {proc.returncode}"
    return False, f"the kernel has no ip_vs module (modprobe ip_vs: {why})"


def probe() -> Probe:
    cap = has_cap()
    ok, detail = _ipvs_module(try_modprobe=cap)
    return Probe(cap, ok, detail)


def _ipvs_class() -> tuple[type[IpvsDataplane] | None, str]:
    # imported only when chosen: pyroute2's IPVS stays out of processes that never use it
    try:
        from lvstui.dataplane.ipvs import IpvsDataplane
    except ImportError as e:
        return None, f"the IPVS dataplane cannot be imported ({e})"
    return IpvsDataplane, ""


def _userspace(reason: str) -> Dataplane:
    from lvstui.dataplane.userspace.forwarder import UserspaceDataplane

    return UserspaceDataplane(reason=reason)


def select_dataplane(kind: DataplaneKind, *, dry_run: bool = False) -> tuple[Dataplane, str]:
    """(the dataplane to use, why). DataplaneError if `ipvs` is demanded and impossible."""
    if dry_run:
        from lvstui.dataplane.memory import MemoryDataplane

        reason = "dry run: operations are recorded, nothing is programmed"
        return MemoryDataplane(reason=reason), reason
    if kind is DataplaneKind.USERSPACE:
        reason = 'userspace forwarder (dataplane = "userspace")'
        return _userspace(reason), reason
    p = probe()
    cls, why_not = _ipvs_class()
    if kind is DataplaneKind.IPVS:
        if not p.cap_net_admin:
            raise DataplaneError(
                'dataplane = "ipvs" but this process lacks CAP_NET_ADMIN',
                hint='run as root (or with CAP_NET_ADMIN), or set dataplane = "auto"',
            )
        if not p.ipvs_module:
            raise DataplaneError(
                f'dataplane = "ipvs" but {p.detail}',
                hint='load ip_vs (modprobe ip_vs), or set dataplane = "auto" or "userspace"',
            )
        if cls is None:
            raise DataplaneError(f'dataplane = "ipvs" but {why_not}')
        reason = f'kernel IPVS (dataplane = "ipvs"; {p.detail})'
        return cls(reason=reason), reason
    # auto
    if not p.cap_net_admin:
        reason = "userspace forwarder: no CAP_NET_ADMIN, so the kernel's IPVS cannot be used"
    elif not p.ipvs_module:
        reason = f"userspace forwarder: {p.detail}"
    elif cls is None:
        reason = f"userspace forwarder: {why_not}"
    else:
        reason = f"kernel IPVS: {p.detail} and CAP_NET_ADMIN held"
        return cls(reason=reason), reason
    return _userspace(reason), reason
