"""The VRRP tables: `[vrrp_script.NAME]`, `[vrrp_sync_group.NAME]`, `[vrrp_instance.NAME]` and
their virtual addresses."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import Any

from lvstui.config.schema import (
    DEFAULT_GARP_MASTER_DELAY,
    DEFAULT_GARP_MASTER_REPEAT,
    DEFAULT_PRIORITY,
    AuthType,
    GlobalDefs,
    TrackWeight,
    VipAddress,
    VrrpInstance,
    VrrpScript,
    VrrpState,
    VrrpSyncGroup,
    VrrpTrackProcess,
)
from lvstui.config.sections.routes import read_routes, read_rules
from lvstui.config.sections.strict import read_strict
from lvstui.config.sections.vmac import read_vmac
from lvstui.config.table import (
    MISSING,
    Table,
    check_argv,
    check_ip,
    command_user,
    kind_of,
    show,
)

_PASS_MAX = 8  # VRRPv2 carries 8 bytes of password; keepalived truncates longer ones


def read_vrrp_script(name: str, t: Table) -> VrrpScript:
    script = t.req_str("script")
    check_argv(t, "script", script)
    s = VrrpScript(
        name=name,
        script=script,
        interval=t.number("interval", 1.0, positive=True),
        timeout=t.number("timeout", None, positive=True),
        weight=t.integer("weight", 0, -253, 253),
        rise=t.integer("rise", 1, 1, 1000),
        fall=t.integer("fall", 1, 1, 1000),
        user=t.text("user", None),
        init_fail=t.flag("init_fail"),
    )
    t.finish()
    return s


PARAM_MATCHES = ("exact", "initial", "partial")


def read_track_process(name: str, t: Table) -> VrrpTrackProcess:
    process = t.req_str("process")
    params = t.str_list("params") if t.has("params") else None
    match = t.text("param_match", "")
    if match and match not in PARAM_MATCHES:
        t.err("param_match", f"expected one of {', '.join(PARAM_MATCHES)}, got {match!r}")
        match = ""
    if params is not None and not match:
        match = "exact"  # keepalived: parameters given, matched exactly
    delay = t.number("delay", 0.0, 0, 3600)
    quorum_max = t.integer("quorum_max", None, 0, 65535)
    quorum = t.integer("quorum", 0 if quorum_max == 0 else 1, 0 if quorum_max == 0 else 1, 65535)
    if quorum_max is not None and quorum > quorum_max:
        t.err("quorum", f"quorum {quorum} is above quorum_max {quorum_max}")
    tp = VrrpTrackProcess(
        name=name,
        process=process,
        params=params if params is not None else (() if match else None),
        param_match=match,
        # parameters are on the command line: matching them matches argv[0] too (keepalived)
        full_command=t.flag("full_command", False) or bool(match),
        weight=t.integer("weight", 0, -254, 254),
        reverse=t.flag("reverse", False),
        quorum=quorum,
        quorum_max=quorum_max,
        fork_delay=t.number("fork_delay", delay, 0, 3600),
        terminate_delay=t.number("terminate_delay", delay, 0, 3600),
    )
    t.finish()
    return tp


def _notify(t: Table) -> dict[str, Any]:
    """The notify commands and, for each, the user it runs as (`notify_master_user`)."""
    out: dict[str, Any] = {}
    for k in ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify"):
        out[k] = t.text(k, None, nonempty=True)
        out[f"{k}_user"] = command_user(t, k)
    return out


def read_sync_group(name: str, t: Table) -> VrrpSyncGroup:
    if not t.has("group"):
        t.err(None, "missing required key `group`", 'list the instances: group = ["name"]')
    g = VrrpSyncGroup(
        name=name,
        group=t.str_list("group"),
        smtp_alert=t.flag("smtp_alert", None),
        sync_group_tracking_weight=t.flag("sync_group_tracking_weight"),
        **_notify(t),
    )
    t.finish()
    return g


def read_instance(name: str, t: Table, gd: GlobalDefs) -> VrrpInstance:
    interface = t.req_str("interface")
    if not t.has("virtual_router_id"):
        t.err(None, "missing required key `virtual_router_id`", "add virtual_router_id = 1..255")
    vrid = t.integer("virtual_router_id", 1, 1, 255)
    version = t.integer("version", gd.vrrp_version, 2, 3)
    advert = t.number("advert_int", 1.0, positive=True)
    if t.has("advert_int") and advert > 0:
        if version == 3 and (advert > 40.95 or abs(advert * 100 - round(advert * 100)) > 1e-6):
            t.err(
                "advert_int",
                f"VRRPv3 adverts go in steps of 0.01 s up to 40.95 s, got {advert}",
                "e.g. advert_int = 0.1",
            )
            advert = 1.0
        elif version == 2 and (advert != int(advert) or not 1 <= advert <= 255):
            t.err(
                "advert_int",
                f"VRRPv2 adverts are whole seconds from 1 to 255, got {advert}",
                "use version = 3 for sub-second adverts",
            )
            advert = 1.0
    auth_type, auth_pass = None, ""
    at = t.sub("authentication")
    if at is not None:
        auth_type = at.choice("auth_type", AuthType, AuthType.PASS)
        if not at.has("auth_type"):
            at.err(None, "missing required key `auth_type`", 'auth_type = "PASS"')
        auth_pass = at.text("auth_pass", "")
        if not auth_pass and at.has("auth_type"):
            at.err(None, "missing required key `auth_pass`", 'auth_pass = "secret" (8 chars max)')
        elif len(auth_pass) > _PASS_MAX:
            at.err(
                "auth_pass",
                f"at most {_PASS_MAX} characters (VRRP carries 8 bytes), got {len(auth_pass)}",
            )
        at.finish()
        if version == 3:
            t.err("authentication", "VRRPv3 has no authentication", "remove it, or use version = 2")
    state = VrrpState.BACKUP
    name_, value = t.raw("state")
    if isinstance(value, str) and value.upper() == "SLAVE":
        t.err(name_, "SLAVE is not a VRRP state", 'use state = "BACKUP"')
    else:
        state = t.choice("state", VrrpState, VrrpState.BACKUP)
    inst = VrrpInstance(
        name=name,
        interface=interface,
        virtual_router_id=vrid,
        state=state,
        priority=t.integer("priority", DEFAULT_PRIORITY, 1, 255),
        advert_int=advert,
        version=version,
        auth_type=auth_type,
        auth_pass=auth_pass,
        virtual_ipaddress=_advertised_vips(t, version),
        virtual_ipaddress_excluded=read_vips(t, "virtual_ipaddress_excluded"),
        nopreempt=t.flag("nopreempt", False),
        preempt_delay=t.number("preempt_delay", 0.0, 0, 1000),
        unicast_src_ip=t.ip("unicast_src_ip"),
        unicast_peer=_ip_list(t, "unicast_peer"),
        **_tracked(t, "track_interface"),
        **_tracked(t, "track_script"),
        **_tracked(t, "track_process"),
        **_tracked(t, "track_file"),
        smtp_alert=t.flag("smtp_alert", None),
        garp_master_delay=t.number("garp_master_delay", DEFAULT_GARP_MASTER_DELAY, 0, 3600),
        garp_master_repeat=t.integer("garp_master_repeat", DEFAULT_GARP_MASTER_REPEAT, 0, 1000),
        garp_master_refresh=t.number("garp_master_refresh", 0.0, 0, 86400),
        garp_master_refresh_repeat=t.integer("garp_master_refresh_repeat", 1, 1, 1000),
        **_notify(t),
        virtual_routes=read_routes(t, "virtual_routes"),
        virtual_rules=read_rules(t, "virtual_rules"),
        skip_check_adv_addr=t.flag("skip_check_adv_addr", gd.vrrp_skip_check_adv_addr),
    )
    inst = read_vmac(t, read_strict(t, inst, gd))
    t.finish()
    return inst


def _tracked(t: Table, key: str) -> dict[str, Any]:
    """`track_interface` / `track_script`: names, each optionally followed by keepalived's
    `weight W [reverse]` ("eth1 weight -10"); → the names and the weighted entries."""
    names: list[str] = []
    weights: list[TrackWeight] = []
    for i, item in enumerate(t.str_list(key)):
        words = item.split()
        if not words:
            t.ctx.err((*t.at(key), i), "empty entry")
            continue
        name, rest = words[0], words[1:]
        names.append(name)
        if not rest:
            continue
        reverse = rest[-1] == "reverse"
        if rest[-1] in ("reverse", "noreverse", "no_reverse"):
            rest = rest[:-1]
        weight = None
        if len(rest) == 2 and rest[0] == "weight":
            try:
                weight = int(rest[1])
            except ValueError:
                weight = None
        limit = 253  # keepalived's range for both
        if weight is None or not -limit <= weight <= limit:
            t.ctx.err(
                (*t.at(key), i),
                f"expected `NAME [weight W] [reverse]` with W in -{limit}..{limit}, got {item!r}",
                f'e.g. "{name} weight -10"',
            )
            continue
        weights.append(TrackWeight(name, weight, reverse))
    return {key: tuple(names), f"{key}_weight": tuple(weights)}


def _ip_list(t: Table, key: str) -> tuple[str, ...]:
    out = []
    for i, item in enumerate(t.str_list(key)):
        ip = check_ip(t.ctx, (*t.at(key), i), item, None)
        if ip is not None:
            out.append(ip)
    return tuple(out)


def _advertised_vips(t: Table, version: int) -> tuple[VipAddress, ...]:
    """virtual_ipaddress goes in the adverts: one address family, and IPv6 needs VRRPv3."""
    vips = read_vips(t, "virtual_ipaddress")
    if not vips:
        return vips
    family = vips[0].family
    for i, vip in enumerate(vips):
        if vip.family != family:
            t.ctx.err(
                (*t.at("virtual_ipaddress"), i),
                f"{vip.address} is IPv{vip.family} but this instance advertises "
                f"IPv{family} addresses: VRRP runs one instance per address family",
                "move it to virtual_ipaddress_excluded, or to an instance of its own",
            )
            break
    if family == 6 and version == 2:
        t.err(
            "virtual_ipaddress",
            "VRRPv2 carries IPv4 addresses only",
            "set version = 3 for IPv6 addresses",
        )
    return vips


def read_vips(t: Table, key: str) -> tuple[VipAddress, ...]:
    name, value = t.raw(key)
    if value is MISSING:
        return ()
    if not isinstance(value, list):
        value = [value]
    out = []
    for i, item in enumerate(value):
        path = (*t.path, name, i)
        try:
            if isinstance(item, str):
                out.append(parse_vip(item))
            elif isinstance(item, dict):
                vt = Table(t.ctx, item, path)
                addr = vt.req_str("address")
                vip = parse_vip(addr) if addr else None
                extra = {k: vt.text(k, None, nonempty=True) for k in ("dev", "label", "scope")}
                brd = vt.ip("broadcast")
                vt.finish()
                if vip is not None:
                    out.append(replace(vip, broadcast=brd, **{k: v for k, v in extra.items() if v}))
            else:
                t.ctx.err(path, f"expected an address string or table, got {kind_of(item)}")
        except ValueError as exc:
            t.ctx.err(
                path,
                f"bad virtual address {show(item)}: {exc}",
                'e.g. "192.0.2.9", "192.0.2.9/24 dev eth0 label eth0:1"',
            )
    return tuple(out)


_VIP_OPTS = {"dev": "dev", "label": "label", "scope": "scope", "brd": "broadcast"}
_VIP_OPTS["broadcast"] = "broadcast"


def parse_vip(text: str) -> VipAddress:
    """`10.0.0.1/24 dev eth1 label eth1:1 scope global brd 10.0.0.255` → VipAddress."""
    words = text.split()
    if not words:
        raise ValueError("empty address")
    addr, prefixlen = _parse_prefix(words[0])
    opts: dict[str, str] = {}
    rest = words[1:]
    while rest:
        key = rest.pop(0)
        if key not in _VIP_OPTS:
            raise ValueError(f"unknown option {key!r} (expected dev, label, scope or brd)")
        if not rest:
            raise ValueError(f"{key} needs a value")
        opts[_VIP_OPTS[key]] = rest.pop(0)
    if "broadcast" in opts:
        opts["broadcast"] = str(ipaddress.ip_address(opts["broadcast"]))
    return VipAddress(address=addr, prefixlen=prefixlen, **opts)


def _parse_prefix(text: str) -> tuple[str, int]:
    addr_s, slash, plen_s = text.partition("/")
    ip = ipaddress.ip_address(addr_s)
    maxlen = ip.max_prefixlen
    if not slash:
        return str(ip), maxlen
    if not plen_s.isdigit() or not (0 <= int(plen_s) <= maxlen):
        raise ValueError(f"prefix length must be 0-{maxlen}, got {plen_s!r}")
    return str(ip), int(plen_s)
