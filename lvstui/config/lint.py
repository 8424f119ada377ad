"""The tutorial's pitfalls, caught before they cost an afternoon.

`lint(config)` looks at a config that already loaded (so it is well-typed and in range) and
returns findings: warnings for what is almost certainly a mistake, information for what the
operator should know. Lint never fails a config; `check-config` prints the findings and
still exits 0. `lint(config, host)` also weighs what check-config read from the host it runs
on (`HostFacts`): lint itself reads nothing, so it stays a pure function.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass
from ipaddress import ip_address

from lvstui.config.announce import AnnounceHandoff, AnnounceMode
from lvstui.config.hostlint import HostFacts, host_findings
from lvstui.config.locate import KeyPath, format_key
from lvstui.config.schema import (
    DEFAULT_UDP_IDLE_TIMEOUT,
    MAX_VIPS_PER_ADVERT,
    AuthType,
    Check,
    CheckKind,
    Config,
    DataplaneKind,
    HttpCheck,
    LbKind,
    MiscCheck,
    VirtualServer,
    retry_delay,
)
from lvstui.config.syncweights import ignored_weights
from lvstui.netutil import is_ipv6

__all__ = [
    "COMPENSATING_SCHEDULERS",
    "Finding",
    "HostFacts",
    "Level",
    "bgp_vips",
    "check_worst_case",
    "ipvs_may_run",
    "lint",
]

# Schedulers that send more traffic to a server that has fewer connections: a server that
# fails fast (a 500 in 1 ms) drains its connections and attracts everyone.
COMPENSATING_SCHEDULERS = frozenset({"lc", "wlc", "sed", "nq"})
# schedulers that only tell weight 0 from the rest: a slow_start ramp changes nothing
WEIGHTLESS_SCHEDULERS = frozenset({"rr", "lc", "dh"})
# checks that connect to a port (the real server's unless connect_port says otherwise)
PORT_CHECKS = frozenset(
    {
        CheckKind.TCP_CHECK,
        CheckKind.HTTP_GET,
        CheckKind.SSL_GET,
        CheckKind.SMTP_CHECK,
        CheckKind.DNS_CHECK,
        CheckKind.UDP_CHECK,
    }
)


class Level(enum.Enum):
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    path: KeyPath
    message: str
    hint: str = ""
    # what kind of finding this is ("check-load", "digest", ...): check-config shows a few
    # of each kind and counts the rest, so a config with 300 servers stays readable
    topic: str = ""

    @property
    def key(self) -> str:
        return format_key(self.path)


def lint(config: Config, host: HostFacts | None = None) -> list[Finding]:
    out: list[Finding] = []
    _vips_missing(config, out)
    _duplicate_vrid(config, out)
    _vrrp_instances(config, out)
    _lvs_timeouts(config, out)
    _lvs_sync_daemon(config, out)
    _lvs_flush(config, out)
    if host is not None:
        for path, message, hint, topic in host_findings(config, host):
            _warn(out, path, message, hint, topic=topic)
    for i, vs in enumerate(config.virtual_servers):
        _virtual_server(config, i, vs, out)
        _ipvs_ignores(config, i, vs, out)
        _userspace_source_nat(config, i, vs, out)
        if host is not None:
            _nat_forwarding(config, i, vs, host, out)
        if (vs.announce or config.lvstui.announce.mode) is AnnounceMode.BGP:
            _bgp(config, i, vs, host, out)
    return out


def bgp_vips(config: Config) -> list[str]:
    """The VIPs announced over BGP, in file order, once each."""
    mode = config.lvstui.announce.mode
    out: dict[str, None] = {}
    for vs in config.virtual_servers:
        if vs.ip is not None and (vs.announce or mode) is AnnounceMode.BGP:
            out[vs.ip] = None
    return list(out)


# The kernel's Maglev table has 4,093 entries (CONFIG_IP_VS_MH_TAB_INDEX=12). Maglev spreads
# evenly while the table is about 100 times the number of destinations (Maglev paper, 5.3);
# beyond ~40 real servers some get noticeably more new connections than others.
MH_EVEN_SPREAD = 40
# schedulers whose choice is a function of the packet alone, the same on every director
CONSISTENT_SCHEDULERS = frozenset({"mh", "sh"})


def _bgp(
    config: Config, i: int, vs: VirtualServer, host: HostFacts | None, out: list[Finding]
) -> None:
    """bgp mode runs several active directors behind ECMP: a route change moves established
    flows to another director, which must pick the same real server (docs/bgp.md)."""
    vips = {v.address for inst in config.vrrp_instances for v in inst.virtual_ipaddress}
    if vs.ip in vips:
        _warn(
            out,
            ("virtual_server", i, "ip"),
            f"{vs.ip} is announced over BGP and is also a VRRP address: VRRP would take it "
            "away from the directors that are not master",
            "remove it from the vrrp_instance, or announce it by vrrp",
            topic="bgp",
        )
    if vs.lb_algo not in CONSISTENT_SCHEDULERS:
        _warn(
            out,
            (*_vs_path(i), "lb_algo"),
            f"announced over BGP with lb_algo = {vs.lb_algo!r}: when ECMP moves a flow to "
            "another director, that director picks a different real server and the "
            "connection breaks",
            'use lb_algo = "mh" (or "sh"), the same real servers on every director',
            topic="bgp",
        )
    elif vs.lb_algo == "mh" and len(vs.real_servers) > MH_EVEN_SPREAD:
        _info(
            out,
            (*_vs_path(i), "real_server"),
            f"{len(vs.real_servers)} real servers: the kernel's 4,093-entry mh table spreads "
            f"evenly up to about {MH_EVEN_SPREAD}; beyond, some get more connections",
            "split the service over several VIPs, or accept the imbalance",
            topic="bgp",
        )
    if ipvs_may_run(config) and host is not None and host.sloppy_tcp is False:
        _warn(
            out,
            _vs_path(i),
            "announced over BGP with net.ipv4.vs.sloppy_tcp = 0: a flow that ECMP moves to "
            "this director arrives mid-connection and IPVS drops it",
            "sysctl -w net.ipv4.vs.sloppy_tcp=1 (and in /etc/sysctl.d)",
            topic="bgp",
        )
    local = host.local_vips if host is not None else None
    if (
        local is not None
        and vs.ip is not None
        and config.lvstui.announce.handoff is AnnounceHandoff.ROUTE
        and str(ip_address(vs.ip)) not in local
    ):
        # the route handoff announces a route, not an address: the router then sends the
        # VIP's traffic here, and a kernel that does not take the VIP as local forwards or
        # drops it (the address handoff makes it local on lvstui's device while announced)
        _warn(
            out,
            (*_vs_path(i), "ip"),
            f"{vs.ip} is announced over BGP but this host does not hold it: the router "
            "would send its traffic here and the kernel would not take it",
            f"hold it on every director: ip addr add {vs.ip}/{128 if is_ipv6(vs.ip) else 32} "
            "dev lo (or a dummy interface)",
            topic="bgp",
        )
    held = host.addresses if host is not None else None
    if (
        held is not None
        and vs.ip is not None
        and config.lvstui.announce.handoff is AnnounceHandoff.ADDRESS
        and str(ip_address(vs.ip)) in held
    ):
        # zebra prefers lo's connected /32 to the tun device's, and redistributes only the
        # route it selects: FRR would announce nothing (docs/bgp.md, "FRR on the director")
        _warn(
            out,
            (*_vs_path(i), "ip"),
            f'{vs.ip} is an address on an interface of this host: with handoff = "address" '
            "FRR selects that interface's connected route instead of lvstui's device and "
            "never announces the VIP",
            f"hold it with a local route instead: ip route add local {vs.ip} dev lo",
            topic="bgp",
        )


def _lvs_timeouts(config: Config, out: list[Finding]) -> None:
    if config.global_defs.lvs_timeouts is not None and not ipvs_may_run(config):
        _warn(
            out,
            ("global_defs", "lvs_timeouts"),
            "lvs_timeouts set the kernel's IPVS timeouts: the userspace dataplane ignores them",
            'use each virtual server\'s udp_idle_timeout, or dataplane = "ipvs"',
            topic="ipvs-only",
        )


def _lvs_flush(config: Config, out: list[Finding]) -> None:
    """lvs_flush / lvs_flush_on_stop empty the kernel's IPVS table, services of others
    included: the userspace forwarder's table holds lvstui's own services only."""
    gd = config.global_defs
    if ipvs_may_run(config):
        return
    for key, on in (("lvs_flush", gd.lvs_flush), ("lvs_flush_on_stop", gd.lvs_flush_on_stop)):
        if on:
            _warn(
                out,
                ("global_defs", key),
                f"{key} empties the kernel's IPVS table: the userspace dataplane ignores it "
                "(its table holds lvstui's own services, gone when it stops)",
                'leave it out, or dataplane = "ipvs"',
                topic="ipvs-only",
            )


def _lvs_sync_daemon(config: Config, out: list[Finding]) -> None:
    if config.global_defs.lvs_sync_daemon is not None and not ipvs_may_run(config):
        _warn(
            out,
            ("global_defs", "lvs_sync_daemon"),
            "lvs_sync_daemon runs the kernel's IPVS connection sync: the userspace dataplane "
            "has none (a failover drops the connections it relays)",
            'leave it out, or dataplane = "ipvs"',
            topic="ipvs-only",
        )


def ipvs_may_run(config: Config) -> bool:
    """IPVS programs the services: chosen, or `auto` on a kernel that has it."""
    return config.lvstui.dataplane is not DataplaneKind.USERSPACE


def _ipvs_ignores(config: Config, i: int, vs: VirtualServer, out: list[Finding]) -> None:
    """Options only the userspace dataplane implements: accepted, so say when they do nothing."""
    if not ipvs_may_run(config):
        return
    when = (
        "the IPVS dataplane"
        if config.lvstui.dataplane is DataplaneKind.IPVS
        else 'dataplane "auto" on a kernel with IPVS'
    )
    ignored = []
    if vs.proxy_protocol:
        ignored.append(("proxy_protocol", "IPVS forwards packets and writes no PROXY header"))
    if vs.app_hash:
        ignored.append(("app_hash", "IPVS schedules before any request is read"))
    if vs.udp_idle_timeout != DEFAULT_UDP_IDLE_TIMEOUT:
        ignored.append(("udp_idle_timeout", "IPVS keeps its own UDP timeout (ipvsadm --set)"))
    for key, why in ignored:
        _warn(
            out,
            (*_vs_path(i), key),
            f"{key} is ignored with {when}: {why}",
            'remove it, or set dataplane = "userspace" under [lvstui]',
            topic="ipvs-ignores",
        )


def _userspace_source_nat(config: Config, i: int, vs: VirtualServer, out: list[Finding]) -> None:
    """source_nat is an IPVS option: the userspace forwarder proxies, servers see it anyway."""
    if vs.source_nat and config.lvstui.dataplane is DataplaneKind.USERSPACE:
        _warn(
            out,
            (*_vs_path(i), "source_nat"),
            "source_nat is ignored with the userspace dataplane: it proxies, so the real "
            "servers see the director's address already",
            "remove source_nat",
            topic="ipvs-ignores",
        )


def _nat_forwarding(
    config: Config, i: int, vs: VirtualServer, host: HostFacts, out: list[Finding]
) -> None:
    """IPVS NAT routes the real servers' replies through the director: forwarding must be on.
    (The userspace dataplane proxies, so it needs no forwarding.)"""
    if not ipvs_may_run(config):
        return
    kinds = {rs.lb_kind or vs.lb_kind for rs in vs.real_servers} or {vs.lb_kind}
    if LbKind.NAT not in kinds:
        return
    v6 = vs.family == 6 if vs.ip is None else is_ipv6(vs.ip)
    key, on = (
        ("net.ipv6.conf.all.forwarding", host.ipv6_forwarding)
        if v6
        else ("net.ipv4.ip_forward", host.ip_forward)
    )
    if on is False:
        _warn(
            out,
            (*_vs_path(i), "lb_kind"),
            f"NAT through IPVS needs {key} = 1 on this director, and it is 0: the real "
            "servers' replies would be dropped here",
            "`lvstui director --apply` sets it (and `lvstui director` says what else a "
            "director needs)",
            topic="nat-forwarding",
        )


def _vs_path(i: int) -> KeyPath:
    return ("virtual_server", i)


def _warn(out: list[Finding], path: KeyPath, message: str, hint: str = "", *, topic: str) -> None:
    out.append(Finding(Level.WARNING, path, message, hint, topic))


def _info(out: list[Finding], path: KeyPath, message: str, hint: str = "", *, topic: str) -> None:
    out.append(Finding(Level.INFO, path, message, hint, topic))


def _vips_missing(config: Config, out: list[Finding]) -> None:
    vips = {v.address for inst in config.vrrp_instances for v in inst.virtual_ipaddress}
    for i, vs in enumerate(config.virtual_servers):
        if vs.ip is None or vs.ip in vips:
            continue
        if (vs.announce or config.lvstui.announce.mode) is AnnounceMode.BGP:
            continue  # every director holds it; _bgp says the rest
        if config.vrrp_instances:
            _warn(
                out,
                ("virtual_server", i, "ip"),
                f"{vs.ip} is in no vrrp_instance's virtual_ipaddress: no director will carry it",
                "add it to the virtual_ipaddress of the instance that serves it "
                '(the tutorial: "you will lose 5 minutes looking for why it does not work")',
                topic="vip-missing",
            )
        else:
            _info(
                out,
                ("virtual_server", i, "ip"),
                f"no vrrp_instance: {vs.ip} must already be configured on this director",
                topic="no-vrrp",
            )


def _duplicate_vrid(config: Config, out: list[Finding]) -> None:
    seen: dict[tuple[str, int, int], str] = {}
    for inst in config.vrrp_instances:
        family = inst.virtual_ipaddress[0].family if inst.virtual_ipaddress else 4
        ident = (inst.interface, inst.virtual_router_id, family)
        if ident in seen:
            _warn(
                out,
                ("vrrp_instance", inst.name, "virtual_router_id"),
                f"virtual_router_id {inst.virtual_router_id} is also used by instance "
                f"{seen[ident]!r} on {inst.interface} (IPv{family}): their adverts collide",
                "give each instance on one interface its own virtual_router_id",
                topic="vrid-duplicate",
            )
        else:
            seen[ident] = inst.name


def _vrrp_instances(config: Config, out: list[Finding]) -> None:
    for name, kind, tracked, group in ignored_weights(config):
        _warn(
            out,
            ("vrrp_instance", name, kind),
            f"the weight on {tracked} is ignored, as keepalived does: {name} is in "
            f"vrrp_sync_group {group}"
            + {
                "track_interface": " (down is FAULT)",
                "track_script": " (the script is not run)",
            }.get(kind, " (the file is not tracked)"),
            f"set sync_group_tracking_weight = true in vrrp_sync_group {group} to keep it",
            topic="sync-weight",
        )
    for inst in config.vrrp_instances:
        path: KeyPath = ("vrrp_instance", inst.name)
        if inst.auth_type is AuthType.PASS:
            _warn(
                out,
                (*path, "authentication", "auth_type"),
                "PASS authentication is sent in clear in every advert: anyone on the LAN reads it",
                "it only keeps VRRP groups apart; isolate VRRP on its own VLAN for security",
                topic="auth-in-clear",
            )
        if len(inst.virtual_ipaddress) > MAX_VIPS_PER_ADVERT:
            _warn(
                out,
                (*path, "virtual_ipaddress"),
                f"{len(inst.virtual_ipaddress)} addresses: more than {MAX_VIPS_PER_ADVERT} "
                "do not fit the advert (keepalived moves the rest out of it)",
                "split them over several instances, or use virtual_ipaddress_excluded",
                topic="vip-count",
            )


def check_worst_case(check: Check, delay_loop: float) -> tuple[float, float]:
    """(worst-case duration of one run with its retries, its period)."""
    c = check.common
    period = c.delay_loop if c.delay_loop is not None else delay_loop
    if isinstance(check, MiscCheck):
        timeout = check.misc_timeout if check.misc_timeout is not None else period
    else:
        timeout = c.connect_timeout
    return timeout * (c.retry + 1) + c.retry * retry_delay(check, period), period


def _virtual_server(config: Config, i: int, vs: VirtualServer, out: list[Finding]) -> None:
    path: KeyPath = ("virtual_server", i)
    kinds: set[CheckKind] = set()
    for j, rs in enumerate(vs.real_servers):
        index: dict[CheckKind, int] = defaultdict(int)
        per_second = 0.0
        for check in rs.checks:
            kinds.add(check.kind)
            cpath: KeyPath = (*path, "real_server", j, check.kind.value, index[check.kind])
            index[check.kind] += 1
            if check.kind in PORT_CHECKS and rs.port == 0 and check.common.connect_port is None:
                _warn(
                    out,
                    cpath,
                    f"{rs.ip} has no port (a fwmark or all-ports service) and this check no "
                    "connect_port: "
                    "it would connect to port 0 and always fail",
                    "set connect_port in the check",
                    topic="check-no-port",
                )
            worst, period = check_worst_case(check, vs.delay_loop)
            per_second += 1 / period
            if worst >= period:
                r = check.common.retry
                _warn(
                    out,
                    cpath,
                    f"a failing run can take {worst:g} s (timeout × {r + 1} tries + {r} × "
                    f"delay_before_retry), not less than its period {period:g} s: runs would "
                    "pile up on the server",
                    "lower the timeout or retry, or raise delay_loop",
                    topic="check-pileup",
                )
            if isinstance(check, HttpCheck):
                for k, url in enumerate(check.urls):
                    if url.digest is not None:
                        _info(
                            out,
                            (*cpath, "url", k, "digest"),
                            "a digest fails on any page that changes (a clock, a counter)",
                            f"fetch it twice with `lvstui genhash -s "
                            f"{check.common.connect_ip or rs.ip} -p "
                            f"{check.common.connect_port or rs.port} -u {url.path}"
                            f"{' -S' if check.tls else ''}` and compare",
                            topic="digest",
                        )
        if per_second:
            n = config.lvstui.directors
            _info(
                out,
                (*path, "real_server", j),
                f"{rs.ip}:{rs.port} will receive {per_second * n:.3g} checks per second "
                f"({per_second:.3g} from each of {n} directors)",
                topic="check-load",
            )
    shallow = not kinds or kinds <= {CheckKind.TCP_CHECK, CheckKind.PING_CHECK}
    if vs.lb_algo in COMPENSATING_SCHEDULERS and vs.real_servers and shallow:
        what = "no check" if not kinds else "only TCP/ping checks"
        _warn(
            out,
            (*path, "lb_algo"),
            f"{vs.lb_algo!r} favours servers with few connections, and {what} here: "
            "a broken application that still accepts connections answers fast and "
            "attracts the traffic",
            "add an HTTP_GET/SSL_GET or MISC_CHECK that tests the application, or use rr/wrr",
            topic="compensating-scheduler",
        )
    ramps = vs.slow_start > 0 or any(rs.slow_start for rs in vs.real_servers)
    if ramps and vs.lb_algo in WEIGHTLESS_SCHEDULERS:
        _warn(
            out,
            (*path, "slow_start"),
            f"slow_start ramps weights, and {vs.lb_algo!r} ignores weights (but 0): a server "
            "back in service gets its full share at once",
            "use a weighted scheduler (wrr, wlc, sed, mh…) or leave slow_start out",
            topic="slow-start-weightless",
        )
    total = sum(rs.weight for rs in vs.real_servers)
    if vs.real_servers and vs.quorum > total:
        _warn(
            out,
            (*path, "quorum"),
            f"quorum {vs.quorum} is above the total weight of all real servers ({total}): "
            "it can never be reached, so quorum_down runs at start and the service "
            "stays degraded",
            "raise the weights or lower quorum",
            topic="quorum-unreachable",
        )
    kinds_used = {rs.lb_kind or vs.lb_kind for rs in vs.real_servers} or {vs.lb_kind}
    direct = sorted(k.value for k in kinds_used if k is not LbKind.NAT)
    if config.lvstui.dataplane is DataplaneKind.USERSPACE and direct:
        _warn(
            out,
            (*path, "lb_kind"),
            f"the userspace dataplane proxies connections: it cannot do {'/'.join(direct)}, "
            "so this service will not be programmed",
            'use lb_kind = "NAT", or dataplane = "ipvs" / "auto" on a kernel with IPVS',
            topic="userspace-direct",
        )
    if config.lvstui.dataplane is DataplaneKind.USERSPACE and vs.ip is not None and not vs.port:
        _warn(
            out,
            (*path, "port"),
            "the userspace dataplane listens on one port: it cannot serve an all-ports "
            "(port 0) service, so this service will not be programmed",
            'give the service its port, or use dataplane = "ipvs" / "auto" on a kernel with IPVS',
            topic="userspace-all-ports",
        )
    if LbKind.DR in kinds_used and vs.ip is not None:
        _info(
            out,
            (*path, "lb_kind"),
            f"DR: every real server must hold {vs.ip} on its loopback and not answer ARP "
            "for it (arp_ignore=1, arp_announce=2)",
            f"on each real server: `lvstui realserver --vip {vs.ip}` prints, applies or "
            "checks that setup",
            topic="dr-real-server-setup",
        )
    if LbKind.TUN in kinds_used and vs.ip is not None:
        _info(
            out,
            (*path, "lb_kind"),
            f"TUN: every real server must decapsulate IP-in-IP and hold {vs.ip} on tunl0 "
            "(rp_filter off there)",
            f"on each real server: `lvstui realserver --vip {vs.ip}` (see its --help for TUN)",
            topic="tun-real-server-setup",
        )
