"""Write a Config back as TOML data: the inverse of `lvstui.config.load`.

Defaults are left out, so `import-keepalived` prints only what the operator wrote.
The contract, tested as a property: `load_config_data(to_toml_dict(c)) == c` (but `path`).
"""

from __future__ import annotations

from dataclasses import fields
from enum import Enum
from typing import Any

from lvstui.config.routes import route_text, rule_text
from lvstui.config.schema import (
    DEFAULT_DNS_RETRY,
    DEFAULT_SMTP_PORT,
    DEFAULT_STATUS_CODES,
    BfdCheck,
    Check,
    CheckCommon,
    CheckKind,
    Config,
    DnsCheck,
    FileCheck,
    GlobalDefs,
    HttpCheck,
    HttpUrl,
    MiscCheck,
    PingCheck,
    RealServer,
    SmtpCheck,
    SorryServer,
    StatusRange,
    TcpCheck,
    TrackWeight,
    UdpCheck,
    VipAddress,
    VirtualServer,
    VrrpInstance,
    VrrpScript,
    VrrpSyncGroup,
)
from lvstui.netutil import bracket_host

__all__ = ["status_codes_value", "to_toml_dict", "vip_text"]


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)  # `delay_loop = 6` reads better than 6.0 and loads the same
    return value


def _fields(obj: Any, skip: tuple[str, ...] = (), keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """Non-default scalar fields of a dataclass, in declaration order (None never written)."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        if f.name in skip:
            continue
        value = getattr(obj, f.name)
        if value is None:
            continue
        default = f.default_factory() if callable(f.default_factory) else f.default
        if f.name not in keep and value == default:
            continue
        out[f.name] = _plain(value)
    return out


def vip_text(vip: VipAddress) -> str:
    """The one-line form: `192.0.2.9/24 dev eth0 label eth0:1 scope global brd 192.0.2.255`."""
    full = 128 if vip.family == 6 else 32
    text = vip.address if vip.prefixlen == full else f"{vip.address}/{vip.prefixlen}"
    for key, value in (
        ("dev", vip.dev),
        ("label", vip.label),
        ("scope", vip.scope),
        ("brd", vip.broadcast),
    ):
        if value is not None:
            text += f" {key} {value}"
    return text


def status_codes_value(codes: tuple[StatusRange, ...]) -> int | str | list[int | str]:
    items: list[int | str] = [r.lo if r.lo == r.hi else str(r) for r in codes]
    return items[0] if len(items) == 1 else items


def to_toml_dict(config: Config) -> dict[str, Any]:
    out: dict[str, Any] = {}
    gd = _global_defs(config.global_defs)
    if gd:
        out["global_defs"] = gd
    settings = _fields(config.lvstui, skip=("keys", "announce"))
    announce = _fields(config.lvstui.announce)
    if announce:
        settings["announce"] = announce
    if config.lvstui.keys:
        settings["keys"] = dict(config.lvstui.keys)
    if settings:
        out["lvstui"] = settings
    if config.vrrp_scripts:
        out["vrrp_script"] = {s.name: _script(s) for s in config.vrrp_scripts}
    if config.vrrp_track_processes:
        out["vrrp_track_process"] = {
            p.name: _fields(p, skip=("name",), keep=("process",))
            for p in config.vrrp_track_processes
        }
    if config.vrrp_sync_groups:
        out["vrrp_sync_group"] = {g.name: _group(g) for g in config.vrrp_sync_groups}
    if config.vrrp_instances:
        out["vrrp_instance"] = {
            i.name: _instance(i, config.global_defs) for i in config.vrrp_instances
        }
    if config.track_files:
        out["track_file"] = {
            tf.name: _fields(tf, skip=("name",), keep=("file",)) for tf in config.track_files
        }
    if config.virtual_servers:
        out["virtual_server"] = [_virtual_server(vs) for vs in config.virtual_servers]
    if config.global_defs.script_user:
        _drop_default_user(out, config.global_defs.script_user)
    return out


def _drop_default_user(out: dict[str, Any], user: str) -> None:
    """The loader gave script_user to every script without a user: leave those out again,
    so the file keeps one place that says who scripts run as."""
    scripts: list[dict[str, Any]] = list(out.get("vrrp_script", {}).values())
    for vs in out.get("virtual_server", []):
        for rs in vs.get("real_server", []):
            scripts.extend(rs.get(CheckKind.MISC_CHECK.value, []))
    for entry in scripts:
        if entry.get("user") == user:
            del entry["user"]


_STATICS = ("static_ipaddress", "static_routes", "static_rules")


def _global_defs(gd: GlobalDefs) -> dict[str, Any]:
    out = _fields(
        gd,
        skip=("smtp_server", "smtp_port", "lvs_sync_daemon", "lvs_timeouts", *_STATICS),
    )
    if gd.static_ipaddress:
        out["static_ipaddress"] = [vip_text(v) for v in gd.static_ipaddress]
    if gd.static_routes:
        out["static_routes"] = [route_text(r) for r in gd.static_routes]
    if gd.static_rules:
        out["static_rules"] = [rule_text(r) for r in gd.static_rules]
    if gd.smtp_server:
        host = bracket_host(gd.smtp_server)
        out["smtp_server"] = (
            gd.smtp_server if gd.smtp_port == DEFAULT_SMTP_PORT else f"{host}:{gd.smtp_port}"
        )
    if gd.lvs_sync_daemon is not None:
        out["lvs_sync_daemon"] = _fields(gd.lvs_sync_daemon, keep=("interface", "instance"))
    if gd.lvs_timeouts is not None:
        out["lvs_timeouts"] = _fields(gd.lvs_timeouts)
    return out


def _script(s: VrrpScript) -> dict[str, Any]:
    return _fields(s, skip=("name",), keep=("script",))


def _group(g: VrrpSyncGroup) -> dict[str, Any]:
    return _fields(g, skip=("name",), keep=("group",))


def _instance(inst: VrrpInstance, gd: GlobalDefs) -> dict[str, Any]:
    out = _fields(
        inst,
        skip=(
            "name",
            "version",
            "auth_type",
            "auth_pass",
            "virtual_ipaddress",
            "virtual_ipaddress_excluded",
            "track_interface",
            "track_script",
            "track_interface_weight",
            "track_script_weight",
            "track_process",
            "track_process_weight",
            "track_file",
            "track_file_weight",
            "virtual_routes",
            "virtual_rules",
            "strict_mode",
            "skip_check_adv_addr",
        ),
        # accept's default depends on strict mode and priority: always said under strict
        keep=("interface", "virtual_router_id", *(("accept",) if inst.strict_mode else ())),
    )
    for key, default in (
        ("strict_mode", gd.vrrp_strict),
        ("skip_check_adv_addr", gd.vrrp_skip_check_adv_addr),
    ):
        if getattr(inst, key) != default:  # the instance's default is global_defs'
            out[key] = getattr(inst, key)
    if inst.virtual_routes:
        out["virtual_routes"] = [route_text(r) for r in inst.virtual_routes]
    if inst.virtual_rules:
        out["virtual_rules"] = [rule_text(r) for r in inst.virtual_rules]
    for key in ("track_interface", "track_script", "track_process", "track_file"):
        names: tuple[str, ...] = getattr(inst, key)
        weighted = {w.name: w for w in getattr(inst, f"{key}_weight")}
        if names:
            out[key] = [_tracked_text(n, weighted.get(n)) for n in names]
    if inst.version != gd.vrrp_version:  # the instance's default is global_defs.vrrp_version
        out["version"] = inst.version
    if inst.auth_type is not None:
        out["authentication"] = {"auth_type": inst.auth_type.value, "auth_pass": inst.auth_pass}
    for key in ("virtual_ipaddress", "virtual_ipaddress_excluded"):
        vips: tuple[VipAddress, ...] = getattr(inst, key)
        if vips:
            out[key] = [vip_text(v) for v in vips]
    return out


def _tracked_text(name: str, w: TrackWeight | None) -> str:
    if w is None:
        return name
    return f"{name} weight {w.weight}" + (" reverse" if w.reverse else "")


def _virtual_server(vs: VirtualServer) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if vs.fwmark is not None:
        out["fwmark"] = vs.fwmark
        if vs.family != 4:
            out["family"] = vs.family
    else:
        out["ip"] = vs.ip
        out["port"] = vs.port
    rest = _fields(
        vs,
        skip=(
            "ip",
            "port",
            "fwmark",
            "family",
            "persistence_timeout",
            "sorry_server",
            "real_servers",
        ),
    )
    out.update(rest)
    if vs.persistence_timeout is not None:
        out["persistence_timeout"] = vs.persistence_timeout
    if vs.sorry_server is not None:
        out["sorry_server"] = _sorry(vs.sorry_server, vs.port)
    if vs.real_servers:
        out["real_server"] = [_real_server(rs) for rs in vs.real_servers]
    return out


def _sorry(s: SorryServer, port: int) -> dict[str, Any]:
    out = _fields(s, keep=("ip",))
    if s.port != port:
        out["port"] = s.port
    else:
        out.pop("port", None)
    return out


def _real_server(rs: RealServer) -> dict[str, Any]:
    out = _fields(rs, skip=("checks",), keep=("ip", "port"))
    for check in rs.checks:
        out.setdefault(check.kind.value, []).append(_check(check))
    return out


def _check(check: Check) -> dict[str, Any]:
    out = _fields(check.common) if isinstance(check.common, CheckCommon) else {}
    if isinstance(check, TcpCheck | PingCheck):
        return out
    if isinstance(check, MiscCheck):
        return {**_fields(check, skip=("common", "kind"), keep=("misc_path",)), **out}
    if isinstance(check, DnsCheck):
        # DNS_CHECK's retry default is keepalived's 3, not the common 1
        out.pop("retry", None)
        if check.common.retry != DEFAULT_DNS_RETRY:
            out["retry"] = check.common.retry
        return {**_fields(check, skip=("common", "kind")), **out}
    if isinstance(check, SmtpCheck | BfdCheck):
        return {**_fields(check, skip=("common", "kind"), keep=("name",)), **out}
    if isinstance(check, FileCheck):
        return {
            "track_file": check.track_file,
            "weight": check.weight,
            "reverse": check.reverse,
            **out,
        }
    if isinstance(check, UdpCheck):
        own = _fields(check, skip=("common", "kind", "payload", "reply", "require_reply"))
        if check.payload is not None:
            own["payload"] = check.payload.hex()
        if check.require_reply:
            own["require_reply"] = check.reply if check.reply is not None else True
        return {**own, **out}
    assert isinstance(check, HttpCheck)
    own = _fields(check, skip=("common", "urls", "tls"))
    own.update(out)
    own["url"] = [_url(u) for u in check.urls]
    return own


def _url(u: HttpUrl) -> dict[str, Any]:
    out: dict[str, Any] = {"path": u.path}
    if u.digest is not None:
        out["digest"] = u.digest
    if u.status_code != DEFAULT_STATUS_CODES:
        out["status_code"] = status_codes_value(u.status_code)
    if u.virtualhost is not None:
        out["virtualhost"] = u.virtualhost
    return out
