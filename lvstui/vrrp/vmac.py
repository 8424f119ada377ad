"""keepalived's `use_vmac`: an instance's VIPs live on a macvlan interface (mode private) on
top of its interface, whose MAC is the VRRP virtual MAC of RFC 3768/5798 (00:00:5e:00:01:VRID,
00:00:5e:00:02:VRID for IPv6), so a takeover needs no ARP cache to change on the LAN: the
VIP keeps its MAC address, only the switch port moves (the gratuitous ARPs go out of the
VMAC and teach it).

The VMAC is made the first time its instance becomes MASTER and kept until lvstui stops
(keepalived makes it at start). On the base interface, arp_ignore=1 and arp_filter=1 (as
keepalived sets them) keep it from answering ARP for the VIPs with its own MAC; both are put
back at stop. Adverts leave from the base interface (keepalived's `vmac_xmit_base`).
"""

from __future__ import annotations

import contextlib
import errno
import socket
from typing import Protocol

from lvstui.errors import VrrpError
from lvstui.netfilter.sysctl import ProcSysctls, Sysctls
from lvstui.vrrp.addresses import LazyIpRoute

__all__ = ["MemoryVmacs", "PyrouteVmacs", "VmacLinks", "vmac_address"]


def vmac_address(vrid: int, family: int) -> str:
    return f"00:00:5e:00:{2 if family == 6 else 1:02x}:{vrid:02x}"


class VmacLinks(Protocol):
    async def ensure(self, name: str, base: str, mac: str) -> None:
        """The macvlan `name` on `base` with `mac`, up. Idempotent."""
        ...

    async def close(self) -> None:
        """Delete the VMACs made, put the base interfaces' sysctls back."""
        ...


class MemoryVmacs:
    def __init__(self) -> None:
        self.links: dict[str, tuple[str, str]] = {}  # name -> (base, mac)
        self.closed = False

    async def ensure(self, name: str, base: str, mac: str) -> None:
        self.links[name] = (base, mac)

    async def close(self) -> None:
        self.links.clear()
        self.closed = True


_BASE_SYSCTLS = (("arp_ignore", "1"), ("arp_filter", "1"))


class PyrouteVmacs(LazyIpRoute):
    def __init__(self, sysctls: Sysctls | None = None) -> None:
        super().__init__()
        self.sysctls = sysctls or ProcSysctls()
        self.made: list[str] = []
        self.saved: dict[str, str] = {}  # sysctl key -> value before

    async def ensure(self, name: str, base: str, mac: str) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            base_index = socket.if_nametoindex(base)
        except OSError as exc:
            raise VrrpError(f"use_vmac: interface {base!r} not found") from exc
        ipr = await self._get()
        try:
            await ipr.link(
                "add", ifname=name, kind="macvlan", link=base_index, macvlan_mode="private",
                address=mac,
            )  # fmt: skip
            self.made.append(name)
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise VrrpError(f"use_vmac: cannot make {name} on {base}: {exc}") from exc
        index = socket.if_nametoindex(name)
        await ipr.link("set", index=index, state="up")
        for key, value in _BASE_SYSCTLS:
            full = f"net.ipv4.conf.{base}.{key}"
            old = self.sysctls.read(full)
            if old is not None and old != value:
                self.saved.setdefault(full, old)
                self.sysctls.write(full, value)

    async def close(self) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        if self.made:
            ipr = await self._get()
            for name in self.made:
                # gone already when its base interface was deleted
                with contextlib.suppress(OSError, NetlinkError):
                    await ipr.link("del", index=socket.if_nametoindex(name))
            self.made.clear()
        for key, value in self.saved.items():
            with contextlib.suppress(OSError):  # the base interface is gone
                self.sysctls.write(key, value)
        self.saved.clear()
        await super().close()
