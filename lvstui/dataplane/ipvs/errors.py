"""What a kernel error code means for an operation, in a sentence and a hint."""

from __future__ import annotations

import errno
import os

from lvstui.dataplane.base import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    EditDest,
    EditService,
    Op,
)
from lvstui.dataplane.ipvs.uapi import IPVS_SCHEDULERS
from lvstui.errors import DataplaneError


def explain(op: Op, code: int) -> tuple[str, str]:
    """A sentence and a hint for a kernel error code on an operation."""
    match op:
        case AddService(svc) if code == errno.ENOENT:
            return (
                f"scheduler {svc.scheduler!r} is not available in this kernel",
                f"modprobe ip_vs_{svc.scheduler}; known: {', '.join(sorted(IPVS_SCHEDULERS))}",
            )
        case EditService(svc) if code == errno.ENOENT:
            return (
                f"scheduler {svc.scheduler!r} is not available in this kernel",
                f"modprobe ip_vs_{svc.scheduler}",
            )
        case AddService() if code == errno.EEXIST:
            return "the service already exists", "observe() and reconcile instead of adding"
        case AddDest() if code == errno.EEXIST:
            return "the real server already exists", "use an edit (set) to change it"
        case EditService() | DelService() | AddDest() if code == errno.ESRCH:
            return "no such service in the kernel", "the table changed behind us: re-observe"
        case EditDest() | DelDest() if code == errno.ENOENT:
            return "no such real server in the kernel", "the table changed behind us: re-observe"
        case EditDest() | DelDest() if code == errno.ESRCH:
            return "no such service in the kernel", "the table changed behind us: re-observe"
    if code == errno.EPERM:
        return "permission denied", "the IPVS dataplane needs CAP_NET_ADMIN (run as root)"
    return os.strerror(code), "see the kernel log (dmesg) for IPVS messages"


def dump_error(code: int) -> DataplaneError:
    return DataplaneError(
        f"reading the IPVS table failed: {os.strerror(code)}",
        hint="the IPVS dataplane needs CAP_NET_ADMIN",
    )
