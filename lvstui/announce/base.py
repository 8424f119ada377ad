"""The Announcer seam: what the engine asks of whatever carries a VIP to the routers, and an
in-memory twin for tests and --dry-run.

The methods are synchronous on purpose: a driver's work is one or two netlink messages to the
local kernel (microseconds), and a synchronous edge keeps withdraw-on-stop usable from a
signal-handling path where no event loop may be running any more."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from lvstui.errors import LvstuiError

__all__ = ["AnnounceError", "Announcer", "MemoryAnnouncer"]


class AnnounceError(LvstuiError):
    """The driver could not announce or withdraw (no tun device, netlink refused, …)."""


class Announcer(Protocol):
    def announce(self, vip: str, *, graceful: bool = False) -> None:
        """Announce `vip` (an IPv4 or IPv6 address, no prefix). Idempotent. `graceful`:
        marked less preferred (director drain), replacing a normal announcement; without,
        it replaces a graceful one."""

    def withdraw(self, vip: str) -> None:
        """Stop announcing `vip`. Idempotent: withdrawing what is not announced is no error."""

    def withdraw_all(self) -> None:
        """Stop announcing every VIP (on stop and on start, for a previous run's leftovers)."""

    def announced(self) -> frozenset[str]:
        """What is announced now, as the driver (the kernel, for a real driver) sees it."""

    def graceful(self) -> Mapping[str, bool | None]:
        """What is announced now, each VIP with whether it is marked less preferred (None:
        both ways at once, a switch cut short)."""


class MemoryAnnouncer:
    """The in-memory twin: keeps the announced set and a log of changes, for assertions."""

    def __init__(self) -> None:
        self._vips: dict[str, bool] = {}  # VIP -> graceful
        self.log: list[tuple[str, str]] = []

    def announce(self, vip: str, *, graceful: bool = False) -> None:
        if self._vips.get(vip) != graceful:
            self._vips[vip] = graceful
            self.log.append(("announce graceful" if graceful else "announce", vip))

    def withdraw(self, vip: str) -> None:
        if vip in self._vips:
            del self._vips[vip]
            self.log.append(("withdraw", vip))

    def withdraw_all(self) -> None:
        for vip in sorted(self._vips):
            self.withdraw(vip)

    def announced(self) -> frozenset[str]:
        return frozenset(self._vips)

    def graceful(self) -> Mapping[str, bool | None]:
        return dict(self._vips)
