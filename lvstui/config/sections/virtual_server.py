"""The `[[virtual_server]]` tables and their real servers."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from lvstui.config.announce import AnnounceMode
from lvstui.config.fit import family_problem, port_problem
from lvstui.config.schema import (
    DEFAULT_DELAY_LOOP,
    DEFAULT_PERSISTENCE_TIMEOUT,
    DEFAULT_WEIGHT,
    KERNEL_SCHEDULERS,
    SCHEDULER_FLAGS,
    USERSPACE_SCHEDULERS,
    Check,
    DataplaneKind,
    LbKind,
    Protocol,
    RealServer,
    SorryServer,
    VirtualServer,
)
from lvstui.config.sections.checks import CHECKS, sort_checks
from lvstui.config.suggest import did_you_mean
from lvstui.config.table import MISSING, Table, check_argv, command_user, kind_of
from lvstui.netutil import ip_family, is_ipv6

_DEFAULT_ALGO = "wlc"  # VirtualServer.lb_algo (slotted classes hide field defaults)


def read_virtual_server(t: Table) -> VirtualServer:
    fwmark = t.integer("fwmark", None, 1, 0xFFFFFFFF)
    has_ip = t.has("ip")
    ip = t.ip("ip")
    port = 0
    family = 4
    if fwmark is not None or t.has("fwmark"):
        if has_ip:
            t.err("fwmark", "a virtual server has either `ip` + `port` or `fwmark`, not both")
        if t.has("port"):
            t.err("port", "a fwmark service has no port (the firewall mark selects packets)")
        t.integer("port", 0)
        family = t.integer("family", 4, 4, 6)
        if family not in (4, 6):
            t.err("family", f"expected 4 or 6, got {family}")
            family = 4
    else:
        if not has_ip:
            t.err(
                None, "missing `ip` (with `port`) or `fwmark`", 'add ip = "192.0.2.9" and port = 80'
            )
        if not t.has("port"):
            t.err(None, "missing required key `port`", "add port = 80")
        port = t.integer("port", 0, 0, 65535)
        if ip is not None:
            family = ip_family(ip)
        if t.has("family"):
            fam = t.integer("family", family)
            if fam != family:
                t.err("family", f"family {fam} does not match the address {ip}")
    protocol = t.choice("protocol", Protocol, Protocol.TCP)
    lb_algo = _scheduler(t)
    lb_flags = _flags(t, lb_algo, protocol)
    lb_kind = t.choice("lb_kind", LbKind, LbKind.NAT)
    persistence = None
    _pname, pval = t.raw("persistence_timeout")
    if pval is True:
        persistence = DEFAULT_PERSISTENCE_TIMEOUT
    elif pval is not False and pval is not MISSING:
        persistence = t.integer("persistence_timeout", None, 1, 2**31 - 1)
    if fwmark is None and t.has("port") and port == 0 and persistence is None:
        # port 0 is IPVS's "every port", which only means something with persistence
        # (ipvsadm refuses it too: "Zero port specified for non-persistent service")
        t.err(
            "port",
            "port 0 (every port) needs persistence_timeout",
            "give the service's port, or set persistence_timeout for an all-ports service",
        )
    gran = t.text("persistence_granularity", None)
    if gran is not None and not _is_netmask(gran):
        t.err(
            "persistence_granularity",
            f"expected a netmask, got {gran!r}",
            'e.g. "255.255.255.0" or "/24"',
        )
        gran = None
    sorry = None
    st = t.sub("sorry_server")
    if st is not None:
        sorry = SorryServer(
            ip=st.ip("ip", "", required=True),
            port=st.integer("port", port, 0, 65535),
            lb_kind=st.choice("lb_kind", LbKind, None),
            inhibit_on_failure=st.flag("inhibit_on_failure", False),
        )
        kind = sorry.lb_kind or lb_kind
        problem = port_problem(port, fwmark is not None, kind, sorry.port, "sorry server")
        if problem:
            st.err(
                "port",
                problem,
                f"use port = {port}"
                + (', or lb_kind = "NAT" (here or for the service)' if sorry.port else ""),
            )
        if sorry.ip:
            problem = family_problem(
                family if ip is None else ip_family(ip), sorry.ip, kind, "sorry server"
            )
            if problem:
                st.err("ip", problem, "use an address of the service's family")
        st.finish()
    vs = VirtualServer(
        ip=ip,
        port=port,
        protocol=protocol,
        fwmark=fwmark,
        family=family,
        delay_loop=t.number("delay_loop", DEFAULT_DELAY_LOOP, positive=True),
        lb_algo=lb_algo,
        lb_flags=lb_flags,
        lb_kind=lb_kind,
        persistence_timeout=persistence,
        persistence_granularity=gran,
        virtualhost=t.text("virtualhost", None, nonempty=True),
        quorum=t.integer("quorum", 1, 0),
        hysteresis=t.integer("hysteresis", 0, 0),
        quorum_up=t.text("quorum_up", None, nonempty=True),
        quorum_down=t.text("quorum_down", None, nonempty=True),
        sorry_server=sorry,
        inhibit_on_failure=t.flag("inhibit_on_failure", False),
        alpha=t.flag("alpha", False),
        omega=t.flag("omega", False),
        ha_suspend=t.flag("ha_suspend", False),
        smtp_alert=t.flag("smtp_alert", None),
        name=t.text("name", None, nonempty=True),
        proxy_protocol=t.integer("proxy_protocol", 0, 0, 2),
        app_hash=t.flag("app_hash", False),
        udp_idle_timeout=t.number("udp_idle_timeout", 300.0, positive=True),
        slow_start=t.number("slow_start", 0.0, 0),
        announce=t.choice("announce", AnnounceMode, None, upper=False),
        source_nat=t.flag("source_nat", False),
        source_nat_address=t.ip("source_nat_address", None),
    )
    _check_source_nat(t, vs)
    for key in ("quorum_up", "quorum_down"):
        check_argv(t, key, t.text(key, ""))
    reals = []
    seen: dict[tuple[str, int], int] = {}
    for i, rt in enumerate(t.subs("real_server")):
        rs = _real_server(rt, vs)
        ident = (rs.ip, rs.port)
        if rs.ip and ident in seen:
            rt.err(
                "ip",
                f"duplicate real server {rs.ip}:{rs.port} (also real_server[{seen[ident]}])",
                "each real server appears once per virtual server",
            )
        seen.setdefault(ident, i)
        reals.append(rs)
    t.finish()
    return replace(vs, real_servers=tuple(reals))


def _check_source_nat(t: Table, vs: VirtualServer) -> None:
    """source_nat rewrites what IPVS NAT forwards: say so where it could do nothing."""
    if vs.source_nat_address and not vs.source_nat:
        t.err(
            "source_nat_address",
            "source_nat_address without source_nat = true does nothing",
            "add source_nat = true, or remove source_nat_address",
        )
    if (
        vs.source_nat_address
        and vs.ip is not None
        and is_ipv6(vs.ip) != is_ipv6(vs.source_nat_address)
    ):
        t.err(
            "source_nat_address",
            f"source_nat_address {vs.source_nat_address} is not of the service's address family",
            "use an address of the director in the real servers' family",
        )
    kinds = {vs.lb_kind, *(rs.lb_kind for rs in vs.real_servers if rs.lb_kind)}
    if vs.source_nat and LbKind.NAT not in kinds:
        t.err(
            "source_nat",
            f"source_nat rewrites what IPVS NAT forwards; lb_kind is {vs.lb_kind.value}",
            'use lb_kind = "NAT", or remove source_nat',
        )


def _scheduler(t: Table) -> str:
    name, value = t.raw("lb_algo")
    if value is MISSING:
        return _DEFAULT_ALGO
    if not isinstance(value, str):
        t.err(name, f"expected a scheduler name, got {kind_of(value)}")
        return _DEFAULT_ALGO
    algo = value.strip().lower()
    dp = t.ctx.dataplane
    allowed = {
        DataplaneKind.IPVS: KERNEL_SCHEDULERS,
        DataplaneKind.USERSPACE: USERSPACE_SCHEDULERS,
        DataplaneKind.AUTO: KERNEL_SCHEDULERS | USERSPACE_SCHEDULERS,
    }[dp]
    if algo not in allowed:
        where = "" if dp is DataplaneKind.AUTO else f' with dataplane = "{dp.value}"'
        guess = did_you_mean(algo, sorted(allowed))
        t.err(
            name,
            f"unknown scheduler {value!r}{where}",
            f"{guess} schedulers: {' '.join(sorted(allowed))}".strip(),
        )
        return _DEFAULT_ALGO
    return algo


def _flags(t: Table, algo: str, protocol: Protocol) -> frozenset[str]:
    flags = t.str_list("lb_flags")
    out = set()
    for i, flag in enumerate(flags):
        path = (*t.at("lb_flags"), i)
        if flag == "ops":
            if protocol is not Protocol.UDP:
                t.ctx.err(path, "one-packet scheduling (ops) applies to UDP services only")
                continue
        elif flag not in SCHEDULER_FLAGS:
            t.ctx.err(
                path,
                f"unknown scheduler flag {flag!r}",
                did_you_mean(flag, [*SCHEDULER_FLAGS, "ops"])
                or f"flags: {', '.join([*SCHEDULER_FLAGS, 'ops'])}",
            )
            continue
        elif algo not in SCHEDULER_FLAGS[flag]:
            t.ctx.err(
                path,
                f"flag {flag!r} is for the {'/'.join(sorted(SCHEDULER_FLAGS[flag]))} scheduler, "
                f"not {algo!r}",
            )
            continue
        out.add(flag)
    return frozenset(out)


def _is_netmask(text: str) -> bool:
    s = text.strip().lstrip("/")
    if s.isdigit():
        return 0 <= int(s) <= 128
    try:
        ipaddress.ip_network(f"0.0.0.0/{s}")
    except ValueError:
        return False
    return True


def _real_server(t: Table, vs: VirtualServer) -> RealServer:
    ip = t.ip("ip", "", required=True)
    fw = vs.fwmark is not None
    # port 0: a fwmark or all-ports service's real server keeps the packet's port
    port = t.integer("port", vs.port, 0 if fw or vs.port == 0 else 1, 65535)
    if not t.has("port") and not fw and vs.port == 0:
        t.err(None, "missing required key `port`")
    lb_kind = t.choice("lb_kind", LbKind, None)
    kind = lb_kind or vs.lb_kind
    if port:  # port 0 where it is not allowed is already an error of the range above
        problem = port_problem(vs.port, fw, kind, port)
        if problem:
            t.err("port", problem, f'use port = {vs.port}, or lb_kind = "NAT" to translate ports')
    if ip:
        problem = family_problem(vs.family if vs.ip is None else ip_family(vs.ip), ip, kind)
        if problem:
            t.err("ip", problem, "use an address of the service's family")
    checks: list[Check] = []
    for key, make in CHECKS.items():
        for ct in t.subs(key):
            check = make(ct)
            if check is not None:
                checks.append(check)
    rs = RealServer(
        ip=ip,
        port=port,
        weight=t.integer("weight", DEFAULT_WEIGHT, 0, 65535),
        lb_kind=lb_kind,
        inhibit_on_failure=t.flag("inhibit_on_failure", None),
        notify_up=t.text("notify_up", None, nonempty=True),
        notify_down=t.text("notify_down", None, nonempty=True),
        notify_up_user=command_user(t, "notify_up"),
        notify_down_user=command_user(t, "notify_down"),
        smtp_alert=t.flag("smtp_alert", None),
        uthreshold=t.integer("uthreshold", 0, 0),
        lthreshold=t.integer("lthreshold", 0, 0),
        slow_start=t.number("slow_start", None, 0),
        name=t.text("name", None, nonempty=True),
        checks=sort_checks(checks),
    )
    t.finish()
    return rs
