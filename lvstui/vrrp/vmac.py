"""keepalived's `use_vmac`: an instance's VIPs live on a macvlan interface (mode private) on
top of its interface, whose MAC is the VRRP virtual MAC of RFC 3768/5798 (00:00:5e:00:01:VRID,
00:00:5e:00:02:VRID for IPv6), so a takeover needs no ARP cache to change on the LAN: the
VIP keeps its MAC address, only the switch port moves (the gratuitous ARPs go out of the
VMAC and teach it).

The VMAC is made when its instance starts (as keepalived does), before its socket opens, and
kept until lvstui stops. On the base interface, arp_ignore=1 and arp_filter=1 (as keepalived
sets them) keep it from answering ARP for the VIPs with its own MAC; both are put back at
stop. On the VMAC, keepalived's arp_ignore=1, accept_local=1 and rp_filter=0: adverts are
received there while it has no address.

Adverts: like keepalived, an IPv4 multicast instance without `vmac_xmit_base` sends AND
receives them on the VMAC (source MAC = the virtual MAC). Receiving there is not a choice: a
private macvlan takes every multicast frame whose source MAC is its own (the peer's adverts
from its VMAC) away from the base interface. The advert's source address stays the base
interface's. With `vmac_xmit_base`, unicast peers (keepalived forces xmit_base there) or
IPv6 (the VMAC would need its own link-local address), the socket stays on the base.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from typing import Protocol

from lvstui.config.schema import VrrpInstance
from lvstui.errors import VrrpError
from lvstui.netfilter.sysctl import ProcSysctls, Sysctls
from lvstui.vrrp.addresses import LazyIpRoute
from lvstui.vrrp.transport import Datagram, InterfaceUnavailable, Transport

__all__ = [
    "MemoryVmacs",
    "PyrouteVmacs",
    "VmacFirst",
    "VmacLinks",
    "family_of",
    "vmac_address",
    "xmit_interface",
]


def vmac_address(vrid: int, family: int) -> str:
    return f"00:00:5e:00:{2 if family == 6 else 1:02x}:{vrid:02x}"


def family_of(inst: VrrpInstance) -> int:
    return inst.virtual_ipaddress[0].family if inst.virtual_ipaddress else 4


def xmit_interface(inst: VrrpInstance) -> str:
    """The interface the instance's advert socket is bound to (see the module docstring)."""
    on_vmac = inst.use_vmac and not inst.vmac_xmit_base and not inst.unicast_peer
    return inst.use_vmac if on_vmac and family_of(inst) == 4 else inst.interface


def _key(ifname: str, name: str) -> str:
    # a dot inside an interface name is written "/" in a sysctl key (vrrp.51, eth0.100)
    return f"net.ipv4.conf.{ifname.replace('.', '/')}.{name}"


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
_VMAC_SYSCTLS = (("arp_ignore", "1"), ("accept_local", "1"), ("rp_filter", "0"))


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
            # the instance waits in FAULT for its interface, as without use_vmac
            raise InterfaceUnavailable(f"use_vmac: interface {base!r} not found") from exc
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
        for key, value in _VMAC_SYSCTLS:  # its own: gone with it, nothing to put back
            with contextlib.suppress(OSError):
                self.sysctls.write(_key(name, key), value)
        await ipr.link("set", index=index, state="up")
        for key, value in _BASE_SYSCTLS:
            full = _key(base, key)
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


class VmacFirst:
    """An instance's transport that makes its VMAC before every open (at start, and again
    after the base interface came back: deleting a base deletes its macvlans)."""

    def __init__(self, inner: Transport, vmacs: VmacLinks, inst: VrrpInstance) -> None:
        self.inner = inner
        self.vmacs = vmacs
        self.inst = inst

    @property
    def family(self) -> int:
        return self.inner.family

    @property
    def source(self) -> str:
        return self.inner.source

    def destinations(self) -> tuple[str, ...]:
        return self.inner.destinations()

    def set_peers(self, peers: tuple[str, ...]) -> None:
        self.inner.set_peers(peers)

    async def open(self) -> None:
        inst = self.inst
        mac = vmac_address(inst.virtual_router_id, family_of(inst))
        await self.vmacs.ensure(inst.use_vmac, inst.interface, mac)
        await self.inner.open()

    async def send(self, payload: bytes, dst: str) -> None:
        await self.inner.send(payload, dst)

    async def recv(self) -> Datagram:
        return await self.inner.recv()

    def close(self) -> None:
        self.inner.close()
