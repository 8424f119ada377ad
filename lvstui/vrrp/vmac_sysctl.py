"""The kernel settings keepalived makes on and around a VMAC (vrrp_if_config.c), done the
same way and put back at stop.

- On the VMAC of an IPv4 instance: arp_ignore=1, accept_local=1, rp_filter=0 (adverts and
  traffic for the VIPs arrive there while it may have no address), promote_secondaries=1,
  and no IPv6 (disable_ipv6=1) unless it carries IPv6 VIPs. On the VMAC of an IPv6
  instance: arp_ignore=1, IPv6 on, and no address generated from the virtual MAC
  (addr_gen_mode=1, "none"; RFC 5798 7.4: adverts come from a link-local address that is
  not the VIP's, the one `link_local_for` gives).
- On the base interface of an IPv4 instance: arp_ignore=1 and arp_filter=1, so it does not
  answer ARP for the VIPs with its own MAC.
- rp_filter=0 on an interface only counts when net.ipv4.conf.all.rp_filter is 0 too (the
  kernel takes the larger of the two). With the first VMAC, when all.rp_filter is not 0,
  keepalived moves it onto every interface instead: default.rp_filter and each interface's
  are raised to all's value where they are lower, then all.rp_filter is set to 0. Nothing
  filters less than before, and the VMACs can have 0. At stop each value goes back if it is
  still what we wrote (someone else's later change is left alone).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

from lvstui.netfilter.sysctl import Sysctls

__all__ = ["VmacSpec", "VmacSysctls", "link_local_for"]


@dataclass(frozen=True, slots=True)
class VmacSpec:
    name: str
    base: str
    mac: str
    family: int  # the instance's
    ipv6: bool  # IPv6 on the VMAC: an IPv6 instance, or IPv6 VIPs on an IPv4 one
    link_local: bool  # give it a link-local address: IPv6 adverts leave from it


def link_local_for(base_mac: str) -> str:
    """keepalived's fallback link-local address for a VMAC: the modified EUI-64 one of the
    base interface's MAC (when the base has no link-local address to copy)."""
    b = [int(x, 16) for x in base_mac.split(":")]
    eui = bytes([b[0] ^ 0x02, b[1], b[2], 0xFF, 0xFE, b[3], b[4], b[5]])
    return str(ipaddress.IPv6Address(bytes.fromhex("fe80000000000000") + eui))


def _v4(ifname: str, name: str) -> str:
    # a dot inside an interface name is written "/" in a sysctl key (vrrp.51, eth0.100)
    return f"net.ipv4.conf.{ifname.replace('.', '/')}.{name}"


def _v6(ifname: str, name: str) -> str:
    return f"net.ipv6.conf.{ifname.replace('.', '/')}.{name}"


def _interfaces() -> list[str]:
    return [name for _, name in socket.if_nameindex()]


class VmacSysctls:
    def __init__(self, sysctls: Sysctls, interfaces: Callable[[], list[str]] = _interfaces) -> None:
        self.sysctls = sysctls
        self.interfaces = interfaces
        self.saved: dict[str, tuple[str, str]] = {}  # key -> (value before, value we wrote)
        self._rp_done = False

    def _set(self, key: str, value: str, *, restore: bool) -> None:
        """Write `value`; with `restore`, remember the old one to put back at stop."""
        old = self.sysctls.read(key)
        if old is None or old == value:
            return
        with contextlib.suppress(OSError):
            self.sysctls.write(key, value)
            if restore:
                self.saved.setdefault(key, (old, value))

    def before_up(self, spec: VmacSpec) -> None:
        """The VMAC exists, still down: its own settings (gone with it: nothing to put
        back), the base's, and all.rp_filter (once)."""
        self.clear_rp_filter()
        vmac = spec.name
        self._set(_v4(vmac, "arp_ignore"), "1", restore=False)
        if spec.family == 4:
            for key, value in (("accept_local", "1"), ("rp_filter", "0")):
                self._set(_v4(vmac, key), value, restore=False)
            self._set(_v4(vmac, "promote_secondaries"), "1", restore=False)
            for key in ("arp_ignore", "arp_filter"):
                self._set(_v4(spec.base, key), "1", restore=True)
        if spec.ipv6:
            # before IPv6 comes on and before the link goes up: no address from the MAC
            self._set(_v6(vmac, "addr_gen_mode"), "1", restore=False)
        self._set(_v6(vmac, "disable_ipv6"), "0" if spec.ipv6 else "1", restore=False)

    def clear_rp_filter(self) -> None:
        if self._rp_done:
            return
        self._rp_done = True
        value = self.sysctls.read(_v4("all", "rp_filter"))
        if value is None or value == "0":
            return
        self._raise(_v4("default", "rp_filter"), value)
        for ifname in self.interfaces():
            if ifname not in ("all", "default"):
                self._raise(_v4(ifname, "rp_filter"), value)
        self._set(_v4("all", "rp_filter"), "0", restore=True)

    def _raise(self, key: str, value: str) -> None:
        old = self.sysctls.read(key)
        if old is not None and old.isdigit() and int(old) < int(value):
            self._set(key, value, restore=True)

    def restore(self) -> None:
        """Put back what we changed, where it is still what we wrote."""
        for key, (old, ours) in self.saved.items():
            if self.sysctls.read(key) == ours:
                with contextlib.suppress(OSError):  # the interface is gone
                    self.sysctls.write(key, old)
        self.saved.clear()
        self._rp_done = False
