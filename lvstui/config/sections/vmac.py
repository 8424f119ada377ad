"""`use_vmac` and `vmac_xmit_base` of a vrrp_instance (lvstui/vrrp/vmac.py)."""

from __future__ import annotations

from dataclasses import replace

from lvstui.config.schema import VrrpInstance
from lvstui.config.table import MISSING, Table, kind_of

__all__ = ["read_vmac"]

IFNAMSIZ = 15  # Linux interface names: 15 bytes at most


def read_vmac(t: Table, inst: VrrpInstance) -> VrrpInstance:
    """`use_vmac = true` (named vrrp.VRID, keepalived's default) or `use_vmac = "NAME"`."""
    name, value = t.raw("use_vmac")
    vmac = ""
    if value is True:
        vmac = f"vrrp.{inst.virtual_router_id}"
    elif isinstance(value, str) and 0 < len(value.encode()) <= IFNAMSIZ and "/" not in value:
        vmac = value
    elif value is not MISSING and value is not False:
        t.err(name, f"expected true or an interface name (15 bytes at most), got {kind_of(value)}")
    if vmac and vmac == inst.interface:
        t.err(name, f"the VMAC cannot be the instance's interface {vmac!r}")
    return replace(inst, use_vmac=vmac, vmac_xmit_base=t.flag("vmac_xmit_base", False))
