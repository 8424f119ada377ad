"""File descriptors: the process's budget, raised at start and guarded while running.

Running out of descriptors used to be a total outage (issue 10): 1,100 idle control
connections, or 200 idle clients on a userspace VIP, left no descriptor for the health
checks, every check failed with EMFILE, and every real server was marked down. Three layers
keep that from happening:

- `raise_nofile_limit()` at start lifts the soft RLIMIT_NOFILE to the hard limit (systemd's
  default soft limit is 1,024 while the hard one is 524,288; the unit sets LimitNOFILE too);
- `DescriptorReserve` lets the accept paths (control socket, VIP listeners) refuse a new
  client while the process is within a reserve of its limit, so checks, VRRP and netlink
  always find a descriptor;
- a check that still fails for a local reason is *unknown*, not down (lvstui.health).
"""

from __future__ import annotations

import logging
import os
import resource
import time
from collections.abc import Callable
from typing import Final

__all__ = [
    "DescriptorReserve",
    "nofile_limit",
    "open_descriptors",
    "raise_nofile_limit",
]

log = logging.getLogger("lvstui.descriptors")

RESERVE_MIN: Final = 64  # descriptors kept free for checks, VRRP, netlink, scripts' pipes
RESERVE_MAX: Final = 1024
RESERVE_SHARE: Final = 8  # 1/8th of the limit, between RESERVE_MIN and RESERVE_MAX


def nofile_limit() -> int:
    """The soft RLIMIT_NOFILE (RLIM_INFINITY never happens for NOFILE on Linux)."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def raise_nofile_limit() -> tuple[int, int]:
    """Lift the soft descriptor limit to the hard one; (before, after). Logged either way,
    so the journal says what the daemon may open."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:  # not on Linux (nr_open caps it), but be safe
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the descriptor limit from %d to %d: %s", soft, hard, exc)
            return soft, soft
        log.info("descriptor limit raised from %d to %d (the hard limit)", soft, hard)
        return soft, hard
    log.info("descriptor limit: %d (the hard limit)", soft)
    return soft, soft


def open_descriptors() -> int:
    """How many descriptors this process has open (-1 when /proc is not there)."""
    try:
        return len(os.listdir("/proc/self/fd")) - 1  # minus the one listdir itself opened
    except OSError:
        return -1


class DescriptorReserve:
    """Decides whether a newly accepted client may stay: not when the process is within
    `reserve` descriptors of its limit.

    Cheap on the common path: the kernel hands out the lowest free descriptor, so a new
    socket numbered N proves N descriptors below it are taken, and one numbered within the
    reserve is refused outright. Otherwise /proc/self/fd is counted, at most every
    `RECOUNT` seconds while numbers stay in the lower half of the range (the count has to
    be taken now and then: holes left by closed sockets hand out low numbers while the
    upper range is full).
    """

    RECOUNT: Final = 0.25

    def __init__(
        self,
        reserve: int | None = None,
        limit: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fixed_limit = limit
        self._reserve = reserve
        self._clock = clock
        self._count = 0
        self._counted_at = -self.RECOUNT

    @property
    def limit(self) -> int:
        # read each time: raise_nofile_limit() may run after this object was made
        return self._fixed_limit if self._fixed_limit is not None else nofile_limit()

    @property
    def reserve(self) -> int:
        if self._reserve is not None:
            return self._reserve
        return max(RESERVE_MIN, min(RESERVE_MAX, self.limit // RESERVE_SHARE))

    def exhausted(self, fd: int) -> bool:
        """True when a client just given descriptor `fd` would eat into the reserve."""
        limit, reserve = self.limit, self.reserve
        if fd >= limit - reserve:
            return True
        now = self._clock()
        if fd >= limit // 2 or now - self._counted_at >= self.RECOUNT:
            self._count = open_descriptors()
            self._counted_at = now
        return self._count >= limit - reserve
