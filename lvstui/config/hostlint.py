"""Lint findings that depend on the host check-config runs on (`HostFacts`): what the
config asks for that this host cannot do, so the daemon would accept it and then not do it.

- accept mode (`accept = false`, keepalived's `no_accept`, the default under vrrp_strict):
  the drop is an nftables table; without `nft`, or where the kernel refuses the table, a
  MASTER holds its VIPs and takes the traffic keepalived would drop.
- a per-command user (a vrrp_script's or MISC_CHECK's `user`, `notify_*_user`,
  `notify_up_user`/`notify_down_user`) this host does not have: keepalived leaves such a
  script out (a config error to `keepalived -t`, "ignoring" in its log); lvstui keeps the
  config and reports every run that cannot happen.
- a track_file in a directory that does not exist: keepalived stops tracking it ("Track file
  directory ... does not exist - removing"); so do lvstui's VRRP instances (a warning in
  the log at start), and FILE_CHECK reads it as a missing file (0).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lvstui.config.locate import KeyPath
from lvstui.config.schema import Config, MiscCheck, VrrpInstance, VrrpSyncGroup

__all__ = ["HostFacts", "dropping", "host_findings", "named_users"]

OWNER = 255


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What the director host says about itself; None: not known (not read, or unreadable)."""

    ip_forward: bool | None = None  # net.ipv4.ip_forward
    ipv6_forwarding: bool | None = None  # net.ipv6.conf.all.forwarding
    sloppy_tcp: bool | None = None  # net.ipv4.vs.sloppy_tcp (absent without IPVS)
    # why nftables cannot take accept mode's drop table here ("": it can; None: not tried)
    nftables: str | None = None
    missing_users: frozenset[str] | None = None  # users the config names that do not exist
    # the track_files whose directory does not exist (keepalived stops tracking those)
    missing_dirs: frozenset[str] | None = None
    # the host's addresses (normalized), but those on lvstui's own tun device
    addresses: frozenset[str] | None = None
    # the bgp VIPs the kernel takes as its own (a local route, e.g. an address on lo): read
    # with the route handoff only
    local_vips: frozenset[str] | None = None


def dropping(config: Config) -> list[VrrpInstance]:
    """The instances whose MASTER drops VIP traffic (accept mode, vrrp/vips.py)."""
    return [i for i in config.vrrp_instances if not i.accept and i.priority != OWNER]


def named_users(config: Config) -> Iterator[tuple[KeyPath, str, str]]:
    """(path of the user key, the user, what happens to its command in lvstui)."""
    for s in config.vrrp_scripts:
        if s.user:
            yield ("vrrp_script", s.name, "user"), s.user, "the script fails every run"
    notifying: list[tuple[str, VrrpSyncGroup | VrrpInstance]] = [
        *(("vrrp_sync_group", g) for g in config.vrrp_sync_groups),
        *(("vrrp_instance", i) for i in config.vrrp_instances),
    ]
    for table, who in notifying:
        users = (
            ("notify_master_user", who.notify_master_user),
            ("notify_backup_user", who.notify_backup_user),
            ("notify_fault_user", who.notify_fault_user),
            ("notify_stop_user", who.notify_stop_user),
            ("notify_user", who.notify_user),
        )
        for name, user in users:
            if user:
                yield (table, who.name, name), user, "the script is not run (logged)"
    for i, vs in enumerate(config.virtual_servers):
        for j, rs in enumerate(vs.real_servers):
            path: KeyPath = ("virtual_server", i, "real_server", j)
            for key, user in (
                ("notify_up_user", rs.notify_up_user),
                ("notify_down_user", rs.notify_down_user),
            ):
                if user:
                    yield (*path, key), user, "the script is not run (logged)"
            n = 0
            for check in rs.checks:
                if isinstance(check, MiscCheck):
                    if check.user:
                        what = "the check fails every run (the server goes down)"
                        yield (*path, check.kind.value, n, "user"), check.user, what
                    n += 1


def host_findings(config: Config, host: HostFacts) -> Iterator[tuple[KeyPath, str, str, str]]:
    """(path, message, hint, topic) for each warning this host calls for."""
    if host.nftables:
        for inst in dropping(config):
            key = "accept" if not inst.strict_mode else "strict_mode"
            yield (
                ("vrrp_instance", inst.name, key),
                "accept mode (no_accept) drops VIP traffic with an nftables table, which this "
                f"host cannot take: {host.nftables}; as MASTER the instance would hold its "
                "VIPs and take the traffic keepalived drops",
                "install nftables (the nft command) and the kernel's nf_tables, or set "
                "accept = true",
                "no-nftables",
            )
    if host.missing_users:
        for path, user, what in named_users(config):
            if user in host.missing_users:
                yield (
                    path,
                    f"no user {user!r} on this host: keepalived leaves this script out "
                    f"(a config error to keepalived -t); lvstui keeps it and {what}",
                    "create the user, or name one this host has",
                    "unknown-user",
                )
    for name in sorted(host.missing_dirs or ()):
        yield (
            ("track_file", name, "file"),
            "the directory of this file does not exist on this host: keepalived stops "
            'tracking it ("Track file directory ... does not exist - removing"), and so do '
            "lvstui's VRRP instances; FILE_CHECK reads it as 0",
            "create the directory, or name a file in one that exists",
            "track-file-dir",
        )
