"""What a reload does to each vrrp_instance (pure): keep, update in place, restart, add, remove.

Like keepalived, a reload must not cause a failover it does not need:

- an instance whose settings are all unchanged keeps running untouched;
- a change that leaves the instance's identity on the wire alone (priority, advert_int,
  preempt, VIPs, tracking, notify scripts, auth, garp settings) is applied to the running
  node (`VrrpNode.reconfigure`): no state change, the FSM re-advertises or re-arms timers;
- a change of interface, VRID, version, address family, unicast source, or between
  multicast and unicast needs a new socket and is another router to the peers (a changed
  list of unicast peers is applied in place): the old node stops gracefully (priority-0
  advert, VIPs removed) and a new one starts;
- removed instances stop gracefully; new ones start.

`describe` gives the lines the engine prints for `lvstui ctl reload [--dry-run]`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, fields

from lvstui.config.routes import route_text, rule_text
from lvstui.config.schema import (
    Config,
    TrackFile,
    VipAddress,
    VrrpInstance,
    VrrpScript,
    VrrpTrackProcess,
)

__all__ = ["Change", "InstancePlan", "describe", "family", "plan_reload", "sync_membership"]

# fields whose change needs a new socket / is another virtual router for the peers
RESTART_FIELDS = (
    "interface",
    "virtual_router_id",
    "version",
    "unicast_src_ip",
    "use_vmac",
    "vmac_xmit_base",  # the socket moves between the VMAC and the base interface
)

_Def = VrrpTrackProcess | TrackFile


class Change(enum.Enum):
    KEEP = "keep"
    UPDATE = "update"
    RESTART = "restart"
    ADD = "add"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class InstancePlan:
    name: str
    change: Change
    why: tuple[str, ...] = ()  # what changed, one short phrase each


def family(inst: VrrpInstance) -> int:
    """The instance's address family: the first VIP's (4 when it has none), as the transport."""
    return inst.virtual_ipaddress[0].family if inst.virtual_ipaddress else 4


def _vip(v: VipAddress) -> str:
    return f"{v.address}/{v.prefixlen}" + (f" dev {v.dev}" if v.dev else "")


def _vip_changes(old: VrrpInstance, new: VrrpInstance) -> list[str]:
    a = old.virtual_ipaddress + old.virtual_ipaddress_excluded
    b = new.virtual_ipaddress + new.virtual_ipaddress_excluded
    out = [f"VIP +{_vip(v)}" for v in b if v not in a]
    out += [f"VIP -{_vip(v)}" for v in a if v not in b]
    if not out and a != b:
        out.append("VIP order")
    return out


def _route_changes(old: VrrpInstance, new: VrrpInstance) -> list[str]:
    out = [f"route +{route_text(r)}" for r in new.virtual_routes if r not in old.virtual_routes]
    out += [f"route -{route_text(r)}" for r in old.virtual_routes if r not in new.virtual_routes]
    out += [f"rule +{rule_text(r)}" for r in new.virtual_rules if r not in old.virtual_rules]
    out += [f"rule -{rule_text(r)}" for r in old.virtual_rules if r not in new.virtual_rules]
    return out


def _fmt(v: object) -> str:
    if isinstance(v, tuple):
        return ",".join(map(str, v)) or "none"
    if isinstance(v, enum.Enum):
        return str(v.value)
    return "none" if v is None else str(v)


def _tracked(inst: VrrpInstance, scripts: dict[str, VrrpScript]) -> dict[str, VrrpScript | None]:
    return {n: scripts.get(n) for n in inst.track_script}


def plan_instance(
    old: VrrpInstance,
    new: VrrpInstance,
    old_scripts: dict[str, VrrpScript],
    new_scripts: dict[str, VrrpScript],
    changed_procs: frozenset[str] = frozenset(),
    changed_files: frozenset[str] = frozenset(),
) -> InstancePlan:
    skip = {"name", "virtual_ipaddress", "virtual_ipaddress_excluded", "auth_pass"}
    skip |= {"virtual_routes", "virtual_rules"}
    why: list[str] = []
    restart: list[str] = [f for f in RESTART_FIELDS if getattr(old, f) != getattr(new, f)]
    if family(old) != family(new):
        restart.append("address family")
    if bool(old.unicast_peer) != bool(new.unicast_peer):
        restart.append("multicast/unicast")
    for f in fields(old):
        if f.name in skip or f.name in RESTART_FIELDS:
            continue
        a, b = getattr(old, f.name), getattr(new, f.name)
        if a != b:
            why.append(f"{f.name} {_fmt(a)} → {_fmt(b)}")
    if old.auth_pass != new.auth_pass:
        why.append("auth_pass changed")
    why += _vip_changes(old, new)
    why += _route_changes(old, new)
    ot, nt = _tracked(old, old_scripts), _tracked(new, new_scripts)
    why += [f"vrrp_script {n} changed" for n in nt if n in ot and ot[n] != nt[n]]
    why += [f"vrrp_track_process {n} changed" for n in new.track_process if n in changed_procs]
    why += [f"track_file {n} changed" for n in new.track_file if n in changed_files]
    if restart:
        return InstancePlan(new.name, Change.RESTART, tuple(f"{f} changed" for f in restart))
    return InstancePlan(new.name, Change.UPDATE if why else Change.KEEP, tuple(why))


def plan_reload(old: Config, new: Config) -> tuple[InstancePlan, ...]:
    """One plan per instance of either config: removed ones first, then the new config's."""
    os_ = {s.name: s for s in old.vrrp_scripts}
    ns = {s.name: s for s in new.vrrp_scripts}
    oi = {i.name: i for i in old.vrrp_instances}
    ni = {i.name: i for i in new.vrrp_instances}
    out = [InstancePlan(n, Change.REMOVE) for n in oi if n not in ni]
    for name, inst in ni.items():
        if name not in oi:
            out.append(InstancePlan(name, Change.ADD))
        else:
            procs = _changed(old.vrrp_track_processes, new.vrrp_track_processes)
            files = _changed(old.track_files, new.track_files)
            out.append(plan_instance(oi[name], inst, os_, ns, procs, files))
    return tuple(out)


def _changed(old: Sequence[_Def], new: Sequence[_Def]) -> frozenset[str]:
    """The names of the definitions (vrrp_track_process, track_file) new or changed."""
    before = {d.name: d for d in old}
    return frozenset(d.name for d in new if before.get(d.name) not in (d,))


def sync_membership(cfg: Config) -> dict[str, tuple[str, ...]]:
    return {g.name: g.group for g in cfg.vrrp_sync_groups}


def describe(old: Config, new: Config) -> list[str]:
    """What a reload will do to VRRP, one line per instance or sync group touched."""
    out: list[str] = []
    for p in plan_reload(old, new):
        label = f"vrrp_instance {p.name}"
        if p.change is Change.ADD:
            out.append(f"+ {label}: started (BACKUP first, as at startup)")
        elif p.change is Change.REMOVE:
            out.append(f"- {label}: stopped gracefully (priority 0 advert, VIPs removed)")
        elif p.change is Change.RESTART:
            out.append(
                f"~ {label}: restarted ({', '.join(p.why)}): graceful stop, then a new start"
            )
        elif p.change is Change.UPDATE:
            out.append(f"~ {label}: updated in place, state kept ({'; '.join(p.why)})")
    om, nm = sync_membership(old), sync_membership(new)
    for name, members in nm.items():
        if name not in om:
            out.append(f"+ vrrp_sync_group {name}: {_fmt(members)}")
        elif om[name] != members:
            out.append(f"~ vrrp_sync_group {name}: {_fmt(om[name])} → {_fmt(members)}")
    out += [f"- vrrp_sync_group {name}" for name in om if name not in nm]
    return out
