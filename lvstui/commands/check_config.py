"""`lvstui check-config [-f FILE]`: validate a config file and lint it.

Exit status: 0 when the file is valid (warnings and information are printed), 2 when it
has errors; every error is printed as `file:line: key: message` with a hint.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from lvstui.commands._config import add_config_argument, print_config_errors

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lvstui.config.lint import HostFacts
    from lvstui.config.locate import Locator
    from lvstui.config.schema import Config

__all__ = ["SHOWN_PER_KIND", "add_arguments", "run"]

# A big config (an imported one with hundreds of real servers) repeats the same finding for
# every server: show this many of each kind in full, then one line that counts the rest.
SHOWN_PER_KIND = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print errors and warnings, not information"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help=f"print every finding (by default, after {SHOWN_PER_KIND} of one kind the rest "
        "are counted)",
    )


def _host_facts(config: Config) -> HostFacts:
    """This host's forwarding settings, nftables and users, for the lint findings that
    depend on them."""
    from lvstui.child import resolve_user
    from lvstui.config.hostlint import named_users
    from lvstui.config.lint import HostFacts
    from lvstui.hostsetup import read_sysctl
    from lvstui.trackfile import dir_exists

    def on(key: str) -> bool | None:
        value = read_sysctl(key)
        return None if value is None else value != "0"

    missing = set()
    for _path, user, _what in named_users(config):
        try:
            resolve_user(user)
        except KeyError:
            missing.add(user)
    return HostFacts(
        ip_forward=on("net.ipv4.ip_forward"),
        ipv6_forwarding=on("net.ipv6.conf.all.forwarding"),
        sloppy_tcp=on("net.ipv4.vs.sloppy_tcp"),
        nftables=_nftables(config),
        missing_users=frozenset(missing),
        missing_dirs=frozenset(tf.name for tf in config.track_files if not dir_exists(tf.file)),
        addresses=_addresses(config),
        local_vips=_local_vips(config),
    )


def _local_vips(config: Config) -> frozenset[str] | None:
    """With the route handoff, the bgp VIPs the kernel routes as local (`ip route get`: an
    address on lo or a dummy, or a local route); lvstui's own routes in its table are not
    (no rule looks there). None where that cannot be asked, or nobody needs it."""
    import errno
    from ipaddress import ip_address

    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    from lvstui.config.announce import AnnounceHandoff
    from lvstui.config.lint import bgp_vips

    vips = bgp_vips(config)
    if config.lvstui.announce.handoff is not AnnounceHandoff.ROUTE or not vips:
        return None
    rtn_local = 2  # linux/rtnetlink.h
    held = set()
    try:
        with IPRoute() as ipr:
            for vip in vips:
                try:
                    routes = ipr.route("get", dst=vip)
                except NetlinkError as e:
                    if e.code not in (errno.ENETUNREACH, errno.EHOSTUNREACH):
                        raise
                    continue  # no route at all: not local either
                if any(r["type"] == rtn_local for r in routes):
                    held.add(str(ip_address(vip)))
    except (OSError, NetlinkError, ValueError):
        return None
    return frozenset(held)


def _addresses(config: Config) -> frozenset[str] | None:
    """The host's addresses, but those on lvstui's own tun device (where the address
    handoff puts the VIPs it announces); None where they cannot be read, or nobody asks."""
    from ipaddress import ip_address

    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    from lvstui.config.announce import AnnounceHandoff

    if config.lvstui.announce.handoff is not AnnounceHandoff.ADDRESS:
        return None
    try:
        with IPRoute() as ipr:
            ours = set(ipr.link_lookup(ifname=config.lvstui.announce.device))
            return frozenset(
                str(ip_address(str(a.get("IFA_LOCAL") or a.get("IFA_ADDRESS"))))
                for a in ipr.get_addr()
                if a["index"] not in ours
            )
    except (OSError, NetlinkError, ValueError):
        return None


def _nftables(config: Config) -> str | None:
    """Why this host cannot take accept mode's drop table ("" when it can, None when no
    instance drops or it cannot be told without root): `nft --check` on the very batch the
    daemon would run, which changes nothing."""
    import json
    import shutil
    import subprocess

    from lvstui.config.hostlint import dropping
    from lvstui.netfilter.nft import replace_table
    from lvstui.vrrp.accept import drop_table
    from lvstui.vrrp.params import all_vips

    spec = drop_table(v.address for inst in dropping(config) for v in all_vips(inst))
    if spec is None:
        return None
    nft = shutil.which("nft")
    if nft is None:
        return "the nft command is not installed"
    batch = json.dumps({"nftables": replace_table(spec)})
    try:
        r = subprocess.run(
            [nft, "--check", "-j", "-f", "-"], input=batch, capture_output=True, text=True,
            timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        return f"nft --check failed: {exc}"
    err = r.stderr.strip()
    if r.returncode == 0:
        return ""
    if "Operation not permitted" in err:
        return None  # not root: the daemon (root) may well take it
    return err.splitlines()[0] if err else f"nft --check exited {r.returncode}"


def _script_warnings(config: Config, locate: Locator, path: str, disabled: Sequence[str]) -> int:
    """The scripts keepalived disables (and so does lvstui): missing or not executable, and
    insecure with enable_script_security; without it, the insecure ones as warnings."""
    from lvstui.config.locate import format_key
    from lvstui.config.scripts import script_problems

    for warning in disabled:
        print(warning)
    if disabled:
        print(
            "  hint: a disabled script runs once it is fixed and the file reloaded; for "
            "enable_script_security make it and every directory above it root's and not "
            "writable by others, or run it as another user (script_user, or its `user`)"
        )
    found = 0
    for script, why in script_problems(config):
        found += 1
        line = locate(script.path)
        where = f"{path}:{line}" if line is not None else path
        print(f"{where}: {format_key(script.path)}: warning: insecure script: {why}")
    if found:
        print(
            "  hint: fix the permissions or run it as another user (script_user); "
            "enable_script_security disables such scripts (keepalived does too)"
        )
    return found + len(disabled)


def run(args: argparse.Namespace) -> int:
    import tomllib
    from pathlib import Path

    from lvstui.config.casing import case_findings
    from lvstui.config.limits import read_text_limited
    from lvstui.config.lint import Level, lint
    from lvstui.config.load import load_config_disabled
    from lvstui.config.locate import Locator
    from lvstui.errors import ConfigError

    path = str(args.config)
    try:
        config, disabled = load_config_disabled(path)
    except ConfigError as exc:
        n = print_config_errors(exc)
        print(f"{path}: {n} error{'s' if n != 1 else ''}", file=sys.stderr)
        return 2
    text = read_text_limited(Path(path))
    locate = Locator(text)
    insecure = _script_warnings(config, locate, path, disabled)
    findings = lint(config, _host_facts(config)) + case_findings(tomllib.loads(text))
    located = [(locate(f.path), f) for f in findings]
    located.sort(key=lambda lf: lf[0] or 0)  # file order reads best
    warnings = insecure + sum(1 for _line, f in located if f.level is Level.WARNING)
    shown: dict[tuple[Level, str], int] = {}
    hidden: dict[tuple[Level, str], list[tuple[int | None, str]]] = {}
    for line, f in located:
        if args.quiet and f.level is Level.INFO:
            continue
        kind = (f.level, f.topic or f.message)
        if not args.verbose and shown.get(kind, 0) >= SHOWN_PER_KIND:
            hidden.setdefault(kind, []).append((line, f.key))
            continue
        shown[kind] = shown.get(kind, 0) + 1
        where = f"{path}:{line}" if line is not None else path
        print(f"{where}: {f.key}: {f.level.value}: {f.message}")
        if f.hint:
            print(f"  hint: {f.hint}")
    for (level, topic), rest in hidden.items():
        first, last = rest[0][1], rest[-1][1]
        span = first if len(rest) == 1 else f"{first} … {last}"
        print(
            f"{path}: … {len(rest)} more {level.value}{'s' if len(rest) > 1 else ''} like "
            f"those above ({topic}): {span}; -v lists them all"
        )
    if not args.quiet:
        from lvstui.health.load import check_load

        load = check_load(config)
        if load.checks:
            print(
                f"{path}: check load: {load.checks} check(s), {load.checks_per_second:.3g}/s "
                f"as configured; {load.probes} probe(s), {load.probes_per_second:.3g}/s after "
                "sharing (one probe per target, from each director)"
            )
    reals = sum(len(vs.real_servers) for vs in config.virtual_servers)
    print(
        f"{path}: valid: {len(config.vrrp_instances)} vrrp instance(s), "
        f"{len(config.virtual_servers)} virtual server(s), {reals} real server(s); "
        f"{warnings} warning(s)"
    )
    return 0
