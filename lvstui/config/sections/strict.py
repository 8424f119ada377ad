"""`strict_mode` (keepalived's vrrp_strict) and `accept` of a vrrp_instance.

keepalived's strict mode holds an instance to the RFCs (3768, 5798): no authentication, no
unicast peers, no preempt_delay, `state MASTER` only for the address owner (priority 255),
and a MASTER that is not the owner does not accept packets for its VIPs (`accept` defaults
to false, and VRRPv2 cannot have it). keepalived corrects most of these with a warning; in
lvstui's own file each is an error naming the key (the import makes keepalived's corrections
and notes them: lvstui/config/keepalived/strict.py)."""

from __future__ import annotations

from dataclasses import replace

from lvstui.config.schema import GlobalDefs, VrrpInstance, VrrpState
from lvstui.config.table import Table

__all__ = ["read_strict"]

OWNER = 255


def read_strict(t: Table, inst: VrrpInstance, gd: GlobalDefs) -> VrrpInstance:
    strict = t.flag("strict_mode", gd.vrrp_strict)
    owner = inst.priority == OWNER
    accept = t.flag("accept", None)
    if accept is None:
        accept = owner or not strict
    if strict:
        hint = "or set strict_mode = false"
        if inst.auth_type is not None:
            t.err("authentication", "strict mode allows no authentication", f"remove it, {hint}")
        if inst.unicast_peer:
            t.err("unicast_peer", "strict mode allows no unicast peers", f"use multicast, {hint}")
        if inst.preempt_delay:
            t.err("preempt_delay", "strict mode allows no preempt_delay", f"remove it, {hint}")
        if (inst.state is VrrpState.MASTER) != owner and t.has("state"):
            t.err(
                "state",
                "in strict mode only the address owner (priority 255) starts as MASTER",
                f'state = "{"MASTER" if owner else "BACKUP"}", {hint}',
            )
        if accept and not owner and inst.version == 2:
            t.err("accept", "VRRPv2 (RFC 3768) has no accept mode", f"use version = 3, {hint}")
    return replace(inst, strict_mode=strict, accept=accept)
