"""The `[global_defs]` table's model: keepalived's global settings (re-exported by
config/schema.py, where the rest of the tree lives)."""

from __future__ import annotations

from dataclasses import dataclass

from lvstui.config.routes import IpRoute, IpRule
from lvstui.config.vip import VipAddress

DEFAULT_SMTP_CONNECT_TIMEOUT = 30.0  # keepalived: smtp_connect_timeout 30
DEFAULT_SMTP_PORT = 25


@dataclass(frozen=True, slots=True)
class SyncDaemon:
    """global_defs.lvs_sync_daemon: the IPVS connection-sync daemon follows a VRRP instance."""

    interface: str
    instance: str  # the vrrp_instance whose state decides master/backup
    syncid: int = 0
    maxlen: int | None = None
    port: int | None = None
    ttl: int | None = None
    group: str | None = None  # multicast group (ipv4/ipv6 address)


@dataclass(frozen=True, slots=True)
class LvsTimeouts:
    """global_defs.lvs_timeouts: the kernel's IPVS connection timeouts (ipvsadm --set), in
    seconds; None leaves the kernel's value (900 / 120 / 300 by default)."""

    tcp: int | None = None
    tcpfin: int | None = None
    udp: int | None = None


@dataclass(frozen=True, slots=True)
class GlobalDefs:
    router_id: str = ""
    notification_email: tuple[str, ...] = ()
    notification_email_from: str = ""
    smtp_server: str = ""  # host, or host:port ([v6]:port)
    smtp_port: int = DEFAULT_SMTP_PORT
    smtp_connect_timeout: float = DEFAULT_SMTP_CONNECT_TIMEOUT
    smtp_alert: bool = False  # default for every vrrp_instance / real_server
    vrrp_version: int = 2
    lvs_sync_daemon: SyncDaemon | None = None
    lvs_timeouts: LvsTimeouts | None = None
    lvs_flush: bool = False  # remove every IPVS service at start, ours or not (keepalived's)
    # on a stop that releases the table: "full" removes every IPVS service, ours or not;
    # "vs" (keepalived's `lvs_flush_on_stop VS`) each of ours, which is what a stop does anyway
    lvs_flush_on_stop: str = ""
    vrrp_startup_delay: float = 0.0  # seconds the VRRP instances wait after start
    vrrp_garp_interval: float = 0.0  # seconds between two gratuitous ARPs on an interface
    vrrp_gna_interval: float = 0.0  # the same for IPv6 unsolicited neighbour advertisements
    script_user: str = ""  # who scripts run as unless they name a user ("": lvstui's user)
    enable_script_security: bool = False  # refuse root scripts others could change
    net_namespace: str = ""  # run the whole director in this network namespace (lvstui/netns.py)
    vrrp_strict: bool = False  # every instance's strict_mode default (RFC rules enforced)
    vrrp_skip_check_adv_addr: bool = False  # every instance's skip_check_adv_addr default
    # keepalived's notify FIFOs (lvstui/notify/fifo.py): every line / VRRP lines / LVS lines,
    # each with a script run with the FIFO's path as its argument
    notify_fifo: str = ""
    notify_fifo_script: str = ""
    vrrp_notify_fifo: str = ""
    vrrp_notify_fifo_script: str = ""
    lvs_notify_fifo: str = ""
    lvs_notify_fifo_script: str = ""
    # keepalived's `notify_fifo_script CMD USER`: who each FIFO script runs as ("": script_user)
    notify_fifo_script_user: str = ""
    vrrp_notify_fifo_script_user: str = ""
    lvs_notify_fifo_script_user: str = ""
    # keepalived's static_ipaddress / static_routes / static_rules: on the host while lvstui
    # runs, whatever the VRRP state (lvstui/vrrp/statics.py)
    static_ipaddress: tuple[VipAddress, ...] = ()
    static_routes: tuple[IpRoute, ...] = ()
    static_rules: tuple[IpRule, ...] = ()
