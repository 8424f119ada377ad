"""The typed configuration tree.

Key names follow keepalived's directive names (lower case) wherever keepalived has one, so
an operator who knows keepalived.conf can read a config.toml at sight. Every default is
written down once, here, as a module constant or a field default; nothing else in the
program repeats a default.

The tree is made of frozen, slotted dataclasses: once loaded, a Config never changes; a
reload builds a new one and the engine applies the difference.

A new key gets a one-line description in config/keydoc.py (and, when the file shows it in
another table than its dataclass, a line in config/reference.py); lvstui.toml(5) is printed
from those (`python -m lvstui.manpage --write`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# Re-exported: the config speaks of them, but they are values of the model (the engine's
# snapshots carry them), so they live there and model.py never imports the config.
from lvstui.config.announce import AnnounceMode as AnnounceMode
from lvstui.config.announce import AnnounceSettings as AnnounceSettings
from lvstui.config.globaldefs import DEFAULT_SMTP_CONNECT_TIMEOUT as DEFAULT_SMTP_CONNECT_TIMEOUT
from lvstui.config.globaldefs import DEFAULT_SMTP_PORT as DEFAULT_SMTP_PORT
from lvstui.config.globaldefs import GlobalDefs as GlobalDefs
from lvstui.config.globaldefs import LvsTimeouts as LvsTimeouts
from lvstui.config.globaldefs import SyncDaemon as SyncDaemon
from lvstui.config.routes import IpRoute as IpRoute
from lvstui.config.routes import IpRule as IpRule
from lvstui.config.vip import VipAddress as VipAddress
from lvstui.model import LbKind as LbKind
from lvstui.model import Protocol as Protocol
from lvstui.netutil import bracket_host

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_CONTROL_SOCKET",
    "DEFAULT_DELAY_BEFORE_RETRY",
    "DEFAULT_DELAY_LOOP",
    "DEFAULT_PERSISTENCE_TIMEOUT",
    "DEFAULT_RETRY",
    "DEFAULT_STATE_DIR",
    "DEFAULT_STATUS_CODES",
    "DEFAULT_UDP_IDLE_TIMEOUT",
    "DEFAULT_WEIGHT",
    "DNS_TYPES",
    "KERNEL_SCHEDULERS",
    "MAX_VIPS_PER_ADVERT",
    "SCHEDULER_FLAGS",
    "USERSPACE_SCHEDULERS",
    "AuthType",
    "BfdCheck",
    "Check",
    "CheckCommon",
    "CheckKind",
    "Config",
    "DataplaneKind",
    "DnsCheck",
    "FileCheck",
    "GlobalDefs",
    "GroupSettings",
    "HttpCheck",
    "HttpUrl",
    "IpRoute",
    "IpRule",
    "LbKind",
    "LvsTimeouts",
    "LvstuiSettings",
    "MiscCheck",
    "PingCheck",
    "Protocol",
    "RealServer",
    "SmtpCheck",
    "SorryServer",
    "StatusRange",
    "SyncDaemon",
    "TcpCheck",
    "TrackFile",
    "TrackWeight",
    "UdpCheck",
    "VipAddress",
    "VirtualServer",
    "VrrpInstance",
    "VrrpScript",
    "VrrpState",
    "VrrpSyncGroup",
    "retry_delay",
]

# --- defaults (keepalived's where it has one) -------------------------------------------
DEFAULT_CONFIG_PATH = "/etc/lvstui/config.toml"
DEFAULT_CONTROL_SOCKET = "/run/lvstui/control.sock"
DEFAULT_STATE_DIR = "/var/lib/lvstui"
DEFAULT_DELAY_LOOP = 60.0  # keepalived: delay_loop 60
DEFAULT_CONNECT_TIMEOUT = 5.0  # keepalived: connect_timeout 5
DEFAULT_PERSISTENCE_TIMEOUT = 360  # keepalived/ipvsadm: persistence enabled without a value
DEFAULT_WEIGHT = 1  # keepalived: weight 1
DEFAULT_RETRY = 1  # keepalived: retry 1 (one more attempt before declaring failure)
DEFAULT_DELAY_BEFORE_RETRY = 1.0  # keepalived: delay_before_retry 1
DEFAULT_ADVERT_INT = 1.0  # keepalived: advert_int 1
DEFAULT_UDP_IDLE_TIMEOUT = 300.0  # userspace dataplane: a UDP flow's idle life (ours)
DEFAULT_PRIORITY = 100  # keepalived: priority 100
DEFAULT_GARP_MASTER_DELAY = 5.0  # keepalived: vrrp_garp_master_delay 5
DEFAULT_GARP_MASTER_REPEAT = 5  # keepalived: vrrp_garp_master_repeat 5
DEFAULT_NOTIFY_TIMEOUT = 30.0  # our limit for notify / quorum scripts
DEFAULT_BODY_LIMIT = 1 << 20  # HTTP check bodies are read up to 1 MiB, then fail
DNS_TYPES = ("A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA")  # keepalived's DNS_CHECK types
DEFAULT_DNS_RETRY = 3  # keepalived: DNS_CHECK's retry default is 3
DEFAULT_SMTP_HELO = "smtpchecker.lvstui"  # keepalived sends a fixed name of its own too
DEFAULT_UDP_MAX_REPLY = 255  # keepalived: max_reply_length 255
DEFAULT_GROUP_STARTUP_WAIT = 5.0  # like keepalived's vrrp_startup_delay, for the group
DEFAULT_TOMBSTONE_RETENTION = 7 * 24 * 3600.0  # a director away a week still catches up
MAX_VIPS_PER_ADVERT = 20  # the tutorial's limit; keepalived moves the rest out of the advert


@dataclass(frozen=True, slots=True)
class StatusRange:
    """An inclusive range of HTTP status codes (a single code is lo == hi)."""

    lo: int
    hi: int

    def __contains__(self, code: object) -> bool:
        return isinstance(code, int) and self.lo <= code <= self.hi

    def __str__(self) -> str:
        return str(self.lo) if self.lo == self.hi else f"{self.lo}-{self.hi}"


DEFAULT_STATUS_CODES: tuple[StatusRange, ...] = (StatusRange(200, 299),)

# Every scheduler the Linux kernel ships (ipvsadm -s NAME).
KERNEL_SCHEDULERS = frozenset(
    {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf", "twos"}
)
# Schedulers the userspace forwarder implements with the kernel's algorithms, plus "random".
USERSPACE_SCHEDULERS = frozenset(
    {"rr", "wrr", "lc", "wlc", "sh", "dh", "mh", "sed", "nq", "fo", "random"}
)
# Scheduler flags (ipvsadm -b): which schedulers accept which flag.
SCHEDULER_FLAGS: dict[str, frozenset[str]] = {
    "sh-fallback": frozenset({"sh"}),
    "sh-port": frozenset({"sh"}),
    "mh-fallback": frozenset({"mh"}),
    "mh-port": frozenset({"mh"}),
}


class VrrpState(enum.Enum):
    MASTER = "MASTER"
    BACKUP = "BACKUP"


class AuthType(enum.Enum):
    PASS = "PASS"
    AH = "AH"


class DataplaneKind(enum.Enum):
    AUTO = "auto"
    IPVS = "ipvs"
    USERSPACE = "userspace"


class MetricsCompat(enum.Enum):
    """Families named like another exporter's, so existing dashboards and alerts work."""

    NODE_EXPORTER = "node_exporter"  # node_exporter's ipvs collector: node_ipvs_*
    KEEPALIVED = "keepalived"  # the keepalived exporters': keepalived_vrrp_state, keepalived_up


class CheckKind(enum.Enum):
    TCP_CHECK = "tcp_check"
    HTTP_GET = "http_get"
    SSL_GET = "ssl_get"
    MISC_CHECK = "misc_check"
    PING_CHECK = "ping_check"
    SMTP_CHECK = "smtp_check"
    DNS_CHECK = "dns_check"
    UDP_CHECK = "udp_check"
    FILE_CHECK = "file_check"
    BFD_CHECK = "bfd_check"


# --- global settings ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupSettings:
    """[lvstui.group]: the directors of a site share operator overrides (docs/group.md)."""

    name: str  # this director's name in the group (default: the hostname)
    listen: str  # "ADDR:PORT" or "[V6ADDR]:PORT": where the peers reach us
    peers: tuple[str, ...]  # the other members, "ADDR:PORT" or "NAME:PORT" each
    key_file: str  # `lvstui group keygen > FILE`, the same file on every member
    # at start, wait this long to learn the group's overrides before claiming MASTER or
    # serving; when no peer answered, go on with the state file and say so
    startup_wait: float = DEFAULT_GROUP_STARTUP_WAIT
    tombstone_retention: float = DEFAULT_TOMBSTONE_RETENTION


@dataclass(frozen=True, slots=True)
class LvstuiSettings:
    """Our own settings (no keepalived equivalent): [lvstui] table."""

    dataplane: DataplaneKind = DataplaneKind.AUTO
    control_socket: str = DEFAULT_CONTROL_SOCKET
    control_group: str = ""  # members may operate; others may only read
    control_read_only_others: bool = True  # False: refuse non-members entirely
    state_dir: str = DEFAULT_STATE_DIR
    metrics_listen: str = ""  # "127.0.0.1:9336"; empty = off
    metrics_compat: tuple[MetricsCompat, ...] = ()  # other exporters' families, too
    directors: int = 2  # how many directors run these checks (check-load estimate)
    check_concurrency: int = 1000  # global cap on checks in flight
    notify_timeout: float = DEFAULT_NOTIFY_TIMEOUT
    drain_timeout: float = 0.0  # 0 = wait forever for a drained server to go idle
    reload_max_removal: float = 0.5  # share of services a reload may remove without --force
    keys: tuple[tuple[str, str], ...] = ()  # console key remapping: (action, key)
    theme: str = "dark"
    group: GroupSettings | None = None  # None: this director is on its own
    announce: AnnounceSettings = field(default_factory=AnnounceSettings)


# --- VRRP ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VrrpScript:
    name: str
    script: str  # argv as a string, split like a shell would, never run by a shell
    interval: float = 1.0
    timeout: float | None = None  # default: interval
    weight: int = 0  # 0: failing is FAULT; else added while OK (< 0: while failing)
    rise: int = 1
    fall: int = 1
    user: str | None = None
    init_fail: bool = False  # start as failed, not without a result (vrrp/scripts.py)


@dataclass(frozen=True, slots=True)
class VrrpTrackProcess:
    """keepalived's `vrrp_track_process NAME`: how many processes match `process` (and
    `params`) decides OK (quorum ≤ count ≤ quorum_max), with keepalived's weight rules."""

    name: str
    process: str  # the name (/proc/PID/comm), or argv[0] with full_command or params
    params: tuple[str, ...] | None = None  # None: not matched; () with param_match: none
    param_match: str = ""  # "" (none given), "exact", "initial" (last may be longer), "partial"
    full_command: bool = False  # match argv[0] of /proc/PID/cmdline instead of comm
    weight: int = 0
    reverse: bool = False
    quorum: int = 1
    quorum_max: int | None = None  # None: no maximum
    fork_delay: float = 0.0  # seconds the quorum must hold before OK
    terminate_delay: float = 0.0  # seconds the quorum must be lost before failed


@dataclass(frozen=True, slots=True)
class TrackWeight:
    """A tracked interface or script with keepalived's weight: W > 0 raises the priority by W
    while it is up (OK), W < 0 lowers it by |W| while it is down (failing); `reverse` turns
    the adjustment around. Weight 0 keeps the FAULT rule (reversed: FAULT while up)."""

    name: str
    weight: int = 0
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class VrrpInstance:
    name: str
    interface: str
    virtual_router_id: int
    state: VrrpState = VrrpState.BACKUP
    priority: int = DEFAULT_PRIORITY
    advert_int: float = DEFAULT_ADVERT_INT
    version: int = 2
    auth_type: AuthType | None = None
    auth_pass: str = ""
    virtual_ipaddress: tuple[VipAddress, ...] = ()
    virtual_ipaddress_excluded: tuple[VipAddress, ...] = ()
    nopreempt: bool = False
    preempt_delay: float = 0.0
    unicast_src_ip: str | None = None
    unicast_peer: tuple[str, ...] = ()
    track_interface: tuple[str, ...] = ()  # the names; weights below
    track_script: tuple[str, ...] = ()
    # keepalived's `NAME weight W [reverse]` list items: a weighted interface moves the
    # priority instead of FAULT; a script's, process's or file's overrides its own weight
    track_interface_weight: tuple[TrackWeight, ...] = ()
    track_script_weight: tuple[TrackWeight, ...] = ()
    track_process: tuple[str, ...] = ()  # names of vrrp_track_process tables
    track_process_weight: tuple[TrackWeight, ...] = ()
    track_file: tuple[str, ...] = ()  # names of track_file tables (lvstui/vrrp/trackfile.py)
    track_file_weight: tuple[TrackWeight, ...] = ()
    notify_master: str | None = None
    notify_backup: str | None = None
    notify_fault: str | None = None
    notify_stop: str | None = None
    notify: str | None = None
    # keepalived's `notify_master "CMD" USER`: who each command runs as ("": script_user)
    notify_master_user: str = ""
    notify_backup_user: str = ""
    notify_fault_user: str = ""
    notify_stop_user: str = ""
    notify_user: str = ""
    smtp_alert: bool | None = None  # None: global_defs.smtp_alert
    garp_master_delay: float = DEFAULT_GARP_MASTER_DELAY
    garp_master_repeat: int = DEFAULT_GARP_MASTER_REPEAT
    garp_master_refresh: float = 0.0  # 0 = no periodic refresh
    garp_master_refresh_repeat: int = 1
    # keepalived's virtual_routes / virtual_rules: added with the VIPs, removed with them
    virtual_routes: tuple[IpRoute, ...] = ()
    virtual_rules: tuple[IpRule, ...] = ()
    # accept / no_accept: does a MASTER that is not the address owner take packets for its
    # VIPs (no: an nftables drop while it holds them, lvstui/vrrp/accept.py)? The loader
    # resolves keepalived's default: no in strict mode unless priority 255, else yes
    accept: bool = True
    strict_mode: bool = False  # keepalived's strict_mode (default: global_defs.vrrp_strict)
    skip_check_adv_addr: bool = False  # check a master's VIP list on its first advert only
    use_vmac: str = ""  # the VMAC interface's name ("": none; lvstui/vrrp/vmac.py)
    vmac_xmit_base: bool = False  # adverts from the base interface (lvstui always does)


@dataclass(frozen=True, slots=True)
class VrrpSyncGroup:
    name: str
    group: tuple[str, ...]
    notify_master: str | None = None
    notify_backup: str | None = None
    notify_fault: str | None = None
    notify_stop: str | None = None
    notify: str | None = None
    notify_master_user: str = ""  # as in VrrpInstance
    notify_backup_user: str = ""
    notify_fault_user: str = ""
    notify_stop_user: str = ""
    notify_user: str = ""
    smtp_alert: bool | None = None
    sync_group_tracking_weight: bool = False  # members keep weights (config/syncweights.py)


# --- health checks -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckCommon:
    """Settings shared by every checker. None means "inherit" (real server / service)."""

    connect_ip: str | None = None  # default: the real server's address
    connect_port: int | None = None  # default: the real server's port
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    bindto: str | None = None
    bind_port: int | None = None
    retry: int = DEFAULT_RETRY
    # None: the checker's default (keepalived: delay_loop for DNS_CHECK, else
    # DEFAULT_DELAY_BEFORE_RETRY); see retry_delay()
    delay_before_retry: float | None = None
    warmup: float | None = None  # None: random in [0, delay_loop)
    delay_loop: float | None = None  # None: the virtual server's delay_loop
    rise: int = 1  # consecutive passed runs (after retries) before a down check goes up
    fall: int = 1  # consecutive failed runs (after retries) before an up check goes down


@dataclass(frozen=True, slots=True)
class TcpCheck:
    common: CheckCommon = field(default_factory=CheckCommon)
    kind: CheckKind = CheckKind.TCP_CHECK


@dataclass(frozen=True, slots=True)
class PingCheck:
    common: CheckCommon = field(default_factory=CheckCommon)
    kind: CheckKind = CheckKind.PING_CHECK


@dataclass(frozen=True, slots=True)
class HttpUrl:
    path: str
    digest: str | None = None  # lower-case hex MD5 of the body
    status_code: tuple[StatusRange, ...] = DEFAULT_STATUS_CODES
    virtualhost: str | None = None  # per-url Host header (keepalived 2.x)


@dataclass(frozen=True, slots=True)
class HttpCheck:
    """HTTP_GET (tls False) and SSL_GET (tls True)."""

    urls: tuple[HttpUrl, ...]
    common: CheckCommon = field(default_factory=CheckCommon)
    tls: bool = False
    virtualhost: str | None = None  # None: the virtual server's virtualhost
    verify: bool = False  # keepalived does not verify certificates
    sni: str | None = None  # None: the Host header's name when tls
    body_limit: int = DEFAULT_BODY_LIMIT

    @property
    def kind(self) -> CheckKind:
        return CheckKind.SSL_GET if self.tls else CheckKind.HTTP_GET


@dataclass(frozen=True, slots=True)
class MiscCheck:
    misc_path: str  # argv string, split like a shell would; never run by a shell
    misc_timeout: float | None = None  # None: delay_loop (keepalived)
    misc_dynamic: bool = False
    user: str | None = None
    common: CheckCommon = field(default_factory=CheckCommon)
    kind: CheckKind = CheckKind.MISC_CHECK


@dataclass(frozen=True, slots=True)
class SmtpCheck:
    """SMTP_CHECK: a 220 greeting, `HELO helo_name` answered 250, then QUIT."""

    helo_name: str = DEFAULT_SMTP_HELO
    common: CheckCommon = field(default_factory=CheckCommon)
    kind: CheckKind = CheckKind.SMTP_CHECK


@dataclass(frozen=True, slots=True)
class DnsCheck:
    """DNS_CHECK: a query (UDP) answered with rcode NOERROR. keepalived's defaults: SOA of the
    root; retry 3 and delay_before_retry = delay_loop (the loaders apply those)."""

    type: str = "SOA"  # one of DNS_TYPES
    name: str = "."
    common: CheckCommon = field(default_factory=CheckCommon)
    kind: CheckKind = CheckKind.DNS_CHECK


@dataclass(frozen=True, slots=True)
class UdpCheck:
    """UDP_CHECK: send `payload` (random bytes when None); an ICMP error (port unreachable)
    means down. With require_reply a reply must arrive within connect_timeout, its length in
    [min_reply_length, max_reply_length], and match `reply` (hex; X = any nibble) if given."""

    payload: bytes | None = None
    require_reply: bool = False
    reply: str | None = None  # normalised hex pattern, two characters a byte, X for any
    min_reply_length: int = 0
    max_reply_length: int = DEFAULT_UDP_MAX_REPLY
    common: CheckCommon = field(default_factory=CheckCommon)
    kind: CheckKind = CheckKind.UDP_CHECK


@dataclass(frozen=True, slots=True)
class TrackFile:
    """keepalived's `track_file NAME { file ...; weight W [reverse]; init_file [V] [overwrite] }`:
    a number an external agent writes, tracked by FILE_CHECK and VRRP instances' track_file."""

    name: str
    file: str
    weight: int = 1
    reverse: bool = False
    init_file: int | None = None  # write this value at start if the file does not exist
    init_overwrite: bool = False  # ... or whatever it holds


@dataclass(frozen=True, slots=True)
class FileCheck:
    """FILE_CHECK: the number in a tracked file. weight 0: 0 is up, anything else down (the
    reverse with `reverse`); otherwise value × weight (negated with `reverse`) is added to
    the real server's weight, and a sum at or below -2^31 is down. `file`, `weight` and
    `reverse` are resolved from the named track_file by the loaders."""

    track_file: str
    file: str
    weight: int = 1
    reverse: bool = False
    init_file: int | None = None  # the track_file's: written before the first read
    init_overwrite: bool = False
    common: CheckCommon = field(default_factory=CheckCommon)
    kind: CheckKind = CheckKind.FILE_CHECK


@dataclass(frozen=True, slots=True)
class BfdCheck:
    """BFD_CHECK: the state of BFD peer `name` in FRR's bfdd (we run no BFD of our own)."""

    name: str  # the bfdd peer: its address, or its label in bfdd
    # the command that reads bfdd (argv; lvstui's own key): another vty socket, pathspace
    vtysh: tuple[str, ...] = ("vtysh",)
    common: CheckCommon = field(default_factory=CheckCommon)
    kind: CheckKind = CheckKind.BFD_CHECK


Check = (
    TcpCheck
    | PingCheck
    | HttpCheck
    | MiscCheck
    | SmtpCheck
    | DnsCheck
    | UdpCheck
    | FileCheck
    | BfdCheck
)


def retry_delay(check: Check, period: float) -> float:
    """delay_before_retry after inheritance: its own, else the checker's default."""
    own = check.common.delay_before_retry
    if own is not None:
        return own
    return period if isinstance(check, DnsCheck) else DEFAULT_DELAY_BEFORE_RETRY


# --- virtual / real servers ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RealServer:
    ip: str
    port: int  # 0 for fwmark services without a port
    weight: int = DEFAULT_WEIGHT
    lb_kind: LbKind | None = None  # None: the virtual server's lb_kind
    inhibit_on_failure: bool | None = None  # None: the virtual server's setting
    notify_up: str | None = None
    notify_down: str | None = None
    notify_up_user: str = ""  # keepalived's `notify_up "CMD" USER` ("": script_user)
    notify_down_user: str = ""
    smtp_alert: bool | None = None
    uthreshold: int = 0
    lthreshold: int = 0
    slow_start: float | None = None  # None: the virtual server's
    name: str | None = None  # display name (ours)
    checks: tuple[Check, ...] = ()


@dataclass(frozen=True, slots=True)
class SorryServer:
    ip: str
    port: int
    lb_kind: LbKind | None = None
    inhibit_on_failure: bool = False


@dataclass(frozen=True, slots=True)
class VirtualServer:
    """One `virtual_server IP PORT` or `virtual_server fwmark N` block."""

    ip: str | None  # None for fwmark services
    port: int
    protocol: Protocol = Protocol.TCP
    fwmark: int | None = None
    family: int = 4  # address family for fwmark services (4 or 6)
    delay_loop: float = DEFAULT_DELAY_LOOP
    lb_algo: str = "wlc"  # ipvsadm's default scheduler
    lb_flags: frozenset[str] = frozenset()  # sh-port, sh-fallback, mh-port, mh-fallback, ops
    lb_kind: LbKind = LbKind.NAT
    persistence_timeout: int | None = None  # None = not persistent
    persistence_granularity: str | None = None  # netmask, e.g. 255.255.255.0 or /24
    virtualhost: str | None = None
    quorum: int = 1
    hysteresis: int = 0
    quorum_up: str | None = None
    quorum_down: str | None = None
    sorry_server: SorryServer | None = None
    inhibit_on_failure: bool = False
    alpha: bool = False  # start every real server down until its checks pass
    omega: bool = False  # run quorum_down and clear the table on shutdown
    ha_suspend: bool = False  # suspend checks while no VIP of this service is local
    smtp_alert: bool | None = None
    name: str | None = None  # display name (ours)
    # userspace dataplane options (ours)
    proxy_protocol: int = 0  # 0 off, 1 or 2: PROXY protocol header to real servers
    app_hash: bool = False  # HTTP: schedule by a hash of the request line
    udp_idle_timeout: float = DEFAULT_UDP_IDLE_TIMEOUT
    # HAProxy's slowstart: a server back in service ramps up to its weight over this long
    slow_start: float = 0.0
    announce: AnnounceMode | None = None  # None: [lvstui.announce].mode
    # IPVS NAT: rewrite the source to the director's address too (ours; conntrack + nftables)
    source_nat: bool = False
    source_nat_address: str | None = None  # snat to this address; None: masquerade
    real_servers: tuple[RealServer, ...] = ()

    @property
    def label(self) -> str:
        """ipvsadm-style identity: `TCP 192.168.10.9:80` or `FWM 3`."""
        if self.fwmark is not None:
            return f"FWM {self.fwmark}"
        host = bracket_host(self.ip) if self.ip else str(self.ip)
        return f"{self.protocol.value} {host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Config:
    path: str = ""
    global_defs: GlobalDefs = field(default_factory=GlobalDefs)
    lvstui: LvstuiSettings = field(default_factory=LvstuiSettings)
    vrrp_scripts: tuple[VrrpScript, ...] = ()
    vrrp_sync_groups: tuple[VrrpSyncGroup, ...] = ()
    vrrp_instances: tuple[VrrpInstance, ...] = ()
    virtual_servers: tuple[VirtualServer, ...] = ()
    vrrp_track_processes: tuple[VrrpTrackProcess, ...] = ()
    track_files: tuple[TrackFile, ...] = ()  # keepalived's track_file blocks (FILE_CHECK)
