"""keepalived's `use_vmac`: an instance's VIPs live on a macvlan interface (mode private) on
top of its interface, whose MAC is the VRRP virtual MAC of RFC 3768/5798 (00:00:5e:00:01:VRID,
00:00:5e:00:02:VRID for IPv6), so a takeover needs no ARP cache to change on the LAN: the
VIP keeps its MAC address, only the switch port moves (the gratuitous ARPs go out of the
VMAC and teach it).

The VMAC is made when its instance starts (as keepalived does), before its socket opens, and
kept until lvstui stops. The kernel settings keepalived makes on it, on its base interface
and on all.rp_filter are made the same way (vrrp/vmac_sysctl.py) and put back at stop.

Adverts: like keepalived, a multicast instance without `vmac_xmit_base` sends AND receives
them on the VMAC (source MAC = the virtual MAC). Receiving there is not a choice: a private
macvlan takes every multicast frame whose source MAC is its own (the peer's adverts from its
VMAC) away from the base interface. IPv4: the advert's source address stays the base
interface's. IPv6: the VMAC gets a link-local address of its own, as keepalived gives it: the
base interface's link-local address (the same one; keepalived's choice, so the peers see the
same source whichever way adverts leave), else the EUI-64 one of the base's MAC, added
without duplicate address detection; it carries no address made from the virtual MAC
(addr_gen_mode "none"). With `vmac_xmit_base`, or unicast peers (keepalived forces
xmit_base there), the socket stays on the base.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
from typing import Any, Protocol

from lvstui.config.schema import VrrpInstance
from lvstui.errors import VrrpError
from lvstui.netfilter.sysctl import ProcSysctls, Sysctls
from lvstui.vrrp.addresses import IFA_F_NODAD, LazyIpRoute
from lvstui.vrrp.params import all_vips
from lvstui.vrrp.transport import Datagram, InterfaceUnavailable, Transport
from lvstui.vrrp.vmac_sysctl import VmacSpec, VmacSysctls, link_local_for

__all__ = [
    "MemoryVmacs",
    "PyrouteVmacs",
    "VmacFirst",
    "VmacLinks",
    "VmacSpec",
    "family_of",
    "vmac_address",
    "vmac_spec",
    "xmit_interface",
]


def vmac_address(vrid: int, family: int) -> str:
    return f"00:00:5e:00:{2 if family == 6 else 1:02x}:{vrid:02x}"


def family_of(inst: VrrpInstance) -> int:
    return inst.virtual_ipaddress[0].family if inst.virtual_ipaddress else 4


def _on_vmac(inst: VrrpInstance) -> bool:
    return bool(inst.use_vmac) and not inst.vmac_xmit_base and not inst.unicast_peer


def xmit_interface(inst: VrrpInstance) -> str:
    """The interface the instance's advert socket is bound to (see the module docstring)."""
    return inst.use_vmac if _on_vmac(inst) else inst.interface


def vmac_spec(inst: VrrpInstance) -> VmacSpec:
    family = family_of(inst)
    return VmacSpec(
        name=inst.use_vmac,
        base=inst.interface,
        mac=vmac_address(inst.virtual_router_id, family),
        family=family,
        # keepalived: IPv6 on an IPv4 instance's VMAC only for excluded VIPs of IPv6
        ipv6=family == 6 or any(v.family == 6 for v in all_vips(inst)),
        link_local=family == 6 and _on_vmac(inst),
    )


class VmacLinks(Protocol):
    async def ensure(self, spec: VmacSpec) -> None:
        """The macvlan `spec.name` on `spec.base` with `spec.mac`, set up and up, with a
        link-local address when `spec.link_local`. Idempotent."""
        ...

    async def close(self) -> None:
        """Delete the VMACs made, put the base interfaces' sysctls back."""
        ...


class MemoryVmacs:
    def __init__(self) -> None:
        self.links: dict[str, tuple[str, str]] = {}  # name -> (base, mac)
        self.specs: dict[str, VmacSpec] = {}
        self.closed = False

    async def ensure(self, spec: VmacSpec) -> None:
        self.links[spec.name] = (spec.base, spec.mac)
        self.specs[spec.name] = spec

    async def close(self) -> None:
        self.links.clear()
        self.closed = True


class PyrouteVmacs(LazyIpRoute):
    def __init__(self, sysctls: Sysctls | None = None) -> None:
        super().__init__()
        self.settings = VmacSysctls(sysctls or ProcSysctls())
        self.made: list[str] = []

    async def ensure(self, spec: VmacSpec) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        name, base, mac = spec.name, spec.base, spec.mac

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
        self.settings.before_up(spec)
        await ipr.link("set", index=index, state="up")
        if spec.link_local:
            await self._link_local(ipr, spec, index, base_index)

    async def _link_local(self, ipr: Any, spec: VmacSpec, index: int, base_index: int) -> None:
        """The VMAC's link-local address: the base's, else the EUI-64 one of its MAC."""
        from pyroute2.netlink.exceptions import NetlinkError

        have: list[str] = []
        async for msg in await ipr.addr("dump", family=socket.AF_INET6, index=base_index):
            addr = msg.get("address")
            if addr and ipaddress.IPv6Address(addr).is_link_local:
                have.append(str(addr))
        if have:
            addr = have[0]
        else:
            links = [m async for m in await ipr.link("get", index=base_index)]
            addr = link_local_for(str(links[0].get("address")))
        try:
            await ipr.addr(
                "add", index=index, address=addr, prefixlen=64, family=socket.AF_INET6,
                flags=IFA_F_NODAD,
            )  # fmt: skip
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise VrrpError(
                    f"use_vmac: cannot give {spec.name} the link-local {addr}: {exc}"
                ) from exc

    async def close(self) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        if self.made:
            ipr = await self._get()
            for name in self.made:
                # gone already when its base interface was deleted
                with contextlib.suppress(OSError, NetlinkError):
                    await ipr.link("del", index=socket.if_nametoindex(name))
            self.made.clear()
        self.settings.restore()
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
        await self.vmacs.ensure(vmac_spec(self.inst))
        await self.inner.open()

    async def send(self, payload: bytes, dst: str) -> None:
        await self.inner.send(payload, dst)

    async def recv(self) -> Datagram:
        return await self.inner.recv()

    def close(self) -> None:
        self.inner.close()
