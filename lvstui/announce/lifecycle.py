"""The announcement device follows the configuration: opened while some VIP is in bgp mode,
closed (everything withdrawn) when a reload leaves none, and handed to a new program on a
seamless restart (lvstui/handover.py) instead of being withdrawn; a reload that changes the
table, protocol or device moves the announcements to the new ones (`retarget`).

Without it a reload that switched the first VIP to `announce = "bgp"` was never announced
until a restart (the tun device was only opened at start), and a seamless restart failed:
the new program could not create the tun device the old one still held."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from lvstui.announce.base import Announcer, MemoryAnnouncer

__all__ = ["Driver", "MemoryDriver", "OnDemand"]


class Driver(Announcer, Protocol):
    @property
    def device(self) -> str:
        """The device's name (what a seamless restart hands it over by)."""

    def start(self) -> None:
        """Open the device (or adopt a handed-over one) and remove stale routes."""

    def close(self) -> None:
        """Withdraw everything (unless detached) and give the device back."""

    def adopt(self, fd: int | None) -> None:
        """At the next start, use this descriptor a previous daemon handed over."""

    def detach(self) -> None:
        """A new program took the device over: from now on touch no route, so closing
        leaves the announcements to it."""

    def fileno(self) -> int | None:
        """The descriptor that keeps the device (and its routes) alive; None: not open."""


class MemoryDriver(MemoryAnnouncer):
    """The twin of a driver: the announcer twin with an open/closed device and a detach."""

    def __init__(self, device: str = "memory") -> None:
        super().__init__()
        self.device = device
        self.opened = 0  # how many times the device was opened
        self.fd: int | None = None
        self.detached = False
        self.adopted: int | None = None

    def adopt(self, fd: int | None) -> None:
        self.adopted = fd

    def start(self) -> None:
        self.opened += 1
        self.fd, self.adopted = (self.adopted or 100 + self.opened), None
        self.detached = False
        self.log.append(("start", ""))

    def close(self) -> None:
        if not self.detached:
            self.withdraw_all()
        self.fd = None
        self.log.append(("close", ""))

    def detach(self) -> None:
        self.detached = True

    def announce(self, vip: str, *, graceful: bool = False) -> None:
        if not self.detached:
            super().announce(vip, graceful=graceful)

    def withdraw(self, vip: str) -> None:
        if not self.detached:
            super().withdraw(vip)

    def fileno(self) -> int | None:
        return self.fd


class OnDemand:
    """An Announcer over a Driver that is open only while it is wanted (`want(True)`: some
    VIP is in bgp mode). While closed it announces nothing and carries nothing."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.running = False

    def want(self, on: bool) -> None:
        if on and not self.running:
            self.driver.start()
            self.running = True
        elif not on and self.running:
            self.running = False
            self.driver.close()

    def close(self) -> None:
        self.want(False)

    def retarget(self, driver: Driver) -> None:
        """Announce through `driver` from now on (a reload changed the table, the protocol
        or the device): everything leaves the old one — withdrawn, its device closed — and
        the new one opens at once when the old one was open, so the next apply announces
        there (milliseconds later, in the same tick of the loop)."""
        running = self.running
        try:
            self.want(False)
        finally:  # the old device is closed even when withdrawing failed: never keep it
            self.driver = driver
        self.want(running)

    def detach(self) -> None:
        if self.running:
            self.driver.detach()

    def fileno(self) -> int | None:
        return self.driver.fileno() if self.running else None

    def announce(self, vip: str, *, graceful: bool = False) -> None:
        if self.running:
            self.driver.announce(vip, graceful=graceful)

    def withdraw(self, vip: str) -> None:
        if self.running:
            self.driver.withdraw(vip)

    def withdraw_all(self) -> None:
        if self.running:
            self.driver.withdraw_all()

    def announced(self) -> frozenset[str]:
        return self.driver.announced() if self.running else frozenset()

    def graceful(self) -> Mapping[str, bool | None]:
        return self.driver.graceful() if self.running else {}
