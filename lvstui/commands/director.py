"""`lvstui director`: what this host needs to direct the configured services.

    lvstui director [-f CONFIG] [--apply | --check]

The counterpart of `lvstui realserver`, read from the config's virtual servers:

- IPVS in the kernel (the `ip_vs` module) when IPVS programs the services: dataplane
  "ipvs", or "auto" with a DR or TUN service (the userspace fallback cannot do those);
- NAT through IPVS: the real servers' replies are routed back through the director, so
  forwarding must be on (`net.ipv4.ip_forward`, `net.ipv6.conf.all.forwarding` for IPv6
  services). The userspace dataplane proxies connections and needs neither;
- DR and TUN: nothing more on the director; each real server needs `lvstui realserver`.

Without --apply or --check it prints the commands and what the real servers need. --apply
makes the changes here (root); --check prints what is missing and exits 1 if anything is.
"""

from __future__ import annotations

import argparse

from lvstui.commands._config import add_config_argument, print_config_errors
from lvstui.config.schema import Config, DataplaneKind
from lvstui.hostsetup import Requirement, print_plan, report_apply, report_check
from lvstui.model import LbKind
from lvstui.netutil import is_ipv6

__all__ = ["add_arguments", "requirements", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--apply", action="store_true", help="make the changes (root)")
    action.add_argument("--check", action="store_true", help="verify; exit 1 if not ready")


def _kinds(config: Config) -> dict[LbKind, list[str]]:
    """Each forwarding method in use → the services (labels) using it."""
    out: dict[LbKind, list[str]] = {}
    for vs in config.virtual_servers:
        kinds = {rs.lb_kind or vs.lb_kind for rs in vs.real_servers} or {vs.lb_kind}
        for kind in sorted(kinds, key=lambda k: k.value):
            out.setdefault(kind, []).append(vs.label)
    return out


def _ipvs(config: Config, kinds: dict[LbKind, list[str]]) -> bool:
    """IPVS will program these services (as far as the config says)."""
    dataplane = config.lvstui.dataplane
    if dataplane is DataplaneKind.IPVS:
        return bool(kinds)
    return dataplane is DataplaneKind.AUTO and bool(set(kinds) - {LbKind.NAT})


def requirements(config: Config) -> list[Requirement]:
    kinds = _kinds(config)
    reqs: list[Requirement] = []
    if _ipvs(config, kinds):
        reqs.append(Requirement("module", "ip_vs", why="the kernel's IPVS programs the services"))
    nat_via_ipvs = config.lvstui.dataplane is not DataplaneKind.USERSPACE
    if nat_via_ipvs and LbKind.NAT in kinds:
        families = set()
        for vs in config.virtual_servers:
            v6 = vs.family == 6 if vs.ip is None else is_ipv6(vs.ip)
            families.add(6 if v6 else 4)
        why = "NAT: the real servers' replies are routed back through the director"
        if 4 in families:
            reqs.append(Requirement("sysctl", "net.ipv4.ip_forward", "1", why))
        if 6 in families:
            reqs.append(Requirement("sysctl", "net.ipv6.conf.all.forwarding", "1", why))
    return reqs


def _real_server_notes(config: Config) -> list[str]:
    kinds = _kinds(config)
    notes = []
    if LbKind.NAT in kinds and config.lvstui.dataplane is not DataplaneKind.USERSPACE:
        notes.append(
            "NAT: each real server's route back to the clients (its default route) must go "
            "through this director, usually a VRRP address on the servers' side"
        )
    for kind, mode in ((LbKind.DR, "dr"), (LbKind.TUN, "tun")):
        for vs in config.virtual_servers:
            if vs.label in kinds.get(kind, []) and vs.ip is not None:
                notes.append(
                    f"{kind.value} {vs.label}: on each real server, "
                    f"`lvstui realserver --mode {mode} --vip {vs.ip} --apply`"
                )
    if LbKind.DR in kinds:
        notes.append("DR: the real servers must share a link (layer 2) with this director")
    return notes


def _print_plan(config: Config, reqs: list[Requirement]) -> None:
    print(f"# director for {config.path or 'the config'}: run as root")
    if not reqs:
        print("# nothing to set on this host")
    print_plan(reqs, "/etc/sysctl.d/90-lvs-director.conf")
    for note in _real_server_notes(config):
        print(f"# {note}")
    print("# or let lvstui do it: lvstui director --apply; verify with --check")


def run(args: argparse.Namespace) -> int:
    from lvstui.config.load import load_config_disabled
    from lvstui.errors import ConfigError

    try:
        config = load_config_disabled(str(args.config))[0]  # scripts: check-config's part
    except ConfigError as exc:
        print_config_errors(exc)
        return 2
    reqs = requirements(config)
    if args.check:
        return report_check(reqs, "ready to direct these services")
    if args.apply:
        return report_apply(reqs, "lvstui director")
    _print_plan(config, reqs)
    return 0
