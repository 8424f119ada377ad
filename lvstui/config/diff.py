"""The difference between two configurations, one human-readable line per change (pure).

Used by `lvstui ctl reload --dry-run` (print only) and by a real reload (logged, returned as
the command's detail). Lines start with `+` (added), `-` (removed) or `~` (changed)::

    + TCP 192.168.10.9:443
    ~ TCP 192.168.10.9:80 lb_algo rr → wlc
    + TCP 192.168.10.9:80 real 192.168.10.44:80 weight 1
    ~ TCP 192.168.10.9:80 real 192.168.10.98:80 weight 1 → 2
    - TCP 192.168.10.9:80 real 192.168.10.97:80
    + VIP 192.168.10.10/32 on linuxfr
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from lvstui.config.schema import Config, RealServer, VipAddress, VirtualServer, VrrpInstance
from lvstui.config.state import service_key_of
from lvstui.netutil import bracket_host

__all__ = ["RESTART_SETTINGS", "diff_configs", "restart_settings_changed", "vip_text"]

# [lvstui] settings a reload cannot change in place (sockets, files, the dataplane itself)
RESTART_SETTINGS = (
    "dataplane",
    "control_socket",
    "control_group",
    "control_read_only_others",
    "state_dir",
    "metrics_listen",
    "check_concurrency",
    "group",  # [lvstui.group]: the links and the key are set up at start
)

_VS_SKIP = {"real_servers"}
_RS_SKIP = {"ip", "port", "checks"}
_VI_SKIP = {"name", "virtual_ipaddress", "virtual_ipaddress_excluded", "auth_pass"}


def _fmt(v: Any) -> str:
    if v is None:
        return "none"
    if hasattr(v, "value") and not isinstance(v, (int, float, str)):
        return str(v.value)
    if isinstance(v, frozenset):
        return ",".join(sorted(map(str, v))) or "none"
    if isinstance(v, tuple):
        return ",".join(map(_fmt, v)) or "none"
    if hasattr(v, "ip") and hasattr(v, "port"):  # sorry server
        host = bracket_host(v.ip)
        return f"{host}:{v.port}"
    return str(v)


def _changed(old: Any, new: Any, skip: set[str]) -> list[str]:
    out = []
    for f in fields(old):
        if f.name in skip:
            continue
        a, b = getattr(old, f.name), getattr(new, f.name)
        if a != b:
            out.append(f"{f.name} {_fmt(a)} → {_fmt(b)}")
    return out


def _rs_label(rs: RealServer) -> str:
    host = bracket_host(rs.ip)
    return f"{host}:{rs.port}"


def vip_text(v: VipAddress, interface: str | None = None) -> str:
    """A virtual_ipaddress entry as keepalived writes it, every option it has:
    `192.168.10.9/24 brd 192.168.10.255 dev eth0 scope global label eth0:1`.
    `interface`: the dev to show when the entry names none (the instance's)."""
    out = f"{v.address}/{v.prefixlen}"
    if v.broadcast:
        out += f" brd {v.broadcast}"
    dev = v.dev or interface
    if dev:
        out += f" dev {dev}"
    if v.scope:
        out += f" scope {v.scope}"
    if v.label:
        out += f" label {v.label}"
    return out


def _vip_label(v: VipAddress) -> str:
    return vip_text(v)


def _diff_service(old: VirtualServer, new: VirtualServer) -> list[str]:
    label = str(service_key_of(new))
    out = [f"~ {label} {c}" for c in _changed(old, new, _VS_SKIP)]
    olds = {(r.ip, r.port): r for r in old.real_servers}
    news = {(r.ip, r.port): r for r in new.real_servers}
    for k, r in news.items():
        if k not in olds:
            out.append(f"+ {label} real {_rs_label(r)} weight {r.weight}")
    for k, r in olds.items():
        if k not in news:
            out.append(f"- {label} real {_rs_label(r)}")
    for k, r in news.items():
        if k in olds:
            o = olds[k]
            out.extend(f"~ {label} real {_rs_label(r)} {c}" for c in _changed(o, r, _RS_SKIP))
            if o.checks != r.checks:
                out.append(
                    f"~ {label} real {_rs_label(r)} checks "
                    f"{_fmt(tuple(c.kind for c in o.checks))} → "
                    f"{_fmt(tuple(c.kind for c in r.checks))} (settings changed)"
                    if tuple(c.kind for c in o.checks) == tuple(c.kind for c in r.checks)
                    else f"~ {label} real {_rs_label(r)} checks "
                    f"{_fmt(tuple(c.kind for c in o.checks))} → "
                    f"{_fmt(tuple(c.kind for c in r.checks))}"
                )
    return out


def _diff_vrrp(old: VrrpInstance, new: VrrpInstance) -> list[str]:
    out = [f"~ vrrp_instance {new.name} {c}" for c in _changed(old, new, _VI_SKIP)]
    if old.auth_pass != new.auth_pass:
        out.append(f"~ vrrp_instance {new.name} auth_pass changed")
    return out


def diff_configs(old: Config, new: Config) -> list[str]:
    """Every difference that matters to the running director, stable order."""
    out: list[str] = []
    olds = {service_key_of(v): v for v in old.virtual_servers}
    news = {service_key_of(v): v for v in new.virtual_servers}
    for k, v in news.items():
        if k not in olds:
            out.append(f"+ {k} ({v.lb_algo}, {v.lb_kind.value}, {len(v.real_servers)} real)")
            out.extend(f"+ {k} real {_rs_label(r)} weight {r.weight}" for r in v.real_servers)
    for k in olds:
        if k not in news:
            out.append(f"- {k}")
    for k, v in news.items():
        if k in olds:
            out.extend(_diff_service(olds[k], v))

    oi = {i.name: i for i in old.vrrp_instances}
    ni = {i.name: i for i in new.vrrp_instances}
    for name, inst in ni.items():
        if name not in oi:
            out.append(f"+ vrrp_instance {name} vrid {inst.virtual_router_id}")
    for name in oi:
        if name not in ni:
            out.append(f"- vrrp_instance {name}")
    for name, inst in ni.items():
        if name in oi:
            out.extend(_diff_vrrp(oi[name], inst))
    ov = {(_vip_label(v), i.name) for i in old.vrrp_instances for v in i.virtual_ipaddress}
    nv = {(_vip_label(v), i.name) for i in new.vrrp_instances for v in i.virtual_ipaddress}
    out.extend(f"+ VIP {vip} on {name}" for vip, name in sorted(nv - ov))
    out.extend(f"- VIP {vip} on {name}" for vip, name in sorted(ov - nv))
    out.extend(f"~ global_defs {c}" for c in _changed(old.global_defs, new.global_defs, set()))
    out.extend(f"~ lvstui {c}" for c in _changed(old.lvstui, new.lvstui, set()))
    return out


def restart_settings_changed(old: Config, new: Config) -> list[str]:
    """The RESTART_SETTINGS that differ: a reload takes them at the next restart only (and
    global_defs.net_namespace: a running process does not move, as keepalived's)."""
    # ([lvstui.announce] follows a reload whole: a new table, protocol, device or handoff
    # moves the announcements there, lvstui/announce/lifecycle.py OnDemand.retarget)
    changed = [n for n in RESTART_SETTINGS if getattr(old.lvstui, n) != getattr(new.lvstui, n)]
    if old.global_defs.net_namespace != new.global_defs.net_namespace:
        changed.append("net_namespace")
    return changed
