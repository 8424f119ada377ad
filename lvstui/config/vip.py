"""One address as keepalived writes it in virtual_ipaddress or static_ipaddress (re-exported
by config/schema.py)."""

from __future__ import annotations

from dataclasses import dataclass

from lvstui.netutil import ip_family


@dataclass(frozen=True, slots=True)
class VipAddress:
    """One virtual_ipaddress entry: `192.168.10.9/24 dev eth0 label eth0:1 scope global`."""

    address: str  # without prefix
    prefixlen: int  # 32/128 when not given, like keepalived
    dev: str | None = None  # default: the instance's interface
    label: str | None = None
    scope: str | None = None
    broadcast: str | None = None

    @property
    def family(self) -> int:
        return ip_family(self.address)
