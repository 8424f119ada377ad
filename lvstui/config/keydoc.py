"""One short description per configuration key, for lvstui.toml(5).

Keyed by the schema dataclass (lvstui/config/schema.py) and its field name; the type and
the default come from the schema itself (lvstui/config/reference.py reads them). Kept beside
the schema rather than in it so the schema stays a readable list of fields.

Adding a key to the schema: add its line here, in the dataclass's table, then run
`python -m lvstui.manpage --write`; tests/docs fails until both are done. A value can name
its range and what an unset value means; the default itself is printed from the schema.
"""

from __future__ import annotations

from lvstui.config.schema import (
    AnnounceSettings,
    BfdCheck,
    CheckCommon,
    DnsCheck,
    FileCheck,
    GlobalDefs,
    GroupSettings,
    HttpCheck,
    HttpUrl,
    LvsTimeouts,
    LvstuiSettings,
    MiscCheck,
    RealServer,
    SmtpCheck,
    SorryServer,
    SyncDaemon,
    TrackFile,
    UdpCheck,
    VipAddress,
    VirtualServer,
    VrrpInstance,
    VrrpScript,
    VrrpSyncGroup,
    VrrpTrackProcess,
)

__all__ = ["KEY_DOCS"]

_NOTIFY = "command run on the transition, split like a shell would and never run by a shell"
_NOTIFY_USER = (
    "run the command of the key without `_user` as this user (keepalived's `notify_master "
    '"CMD" USER`; unset: script_user); a user this host lacks: the command is skipped, reported'
)
_USERS = {f"{k}_user": _NOTIFY_USER for k in ("notify_master", "notify_backup", "notify_fault")}
_USERS |= {"notify_stop_user": _NOTIFY_USER, "notify_user": _NOTIFY_USER}

KEY_DOCS: dict[type, dict[str, str]] = {
    GlobalDefs: {
        "router_id": "this director's name: in alert mail subjects and the console title",
        "notification_email": "where alert mails go (a list of addresses)",
        "notification_email_from": "the From: address of alert mails",
        "smtp_server": 'relay for alert mails: "host", "host:port" or "[v6]:port" (port 25)',
        "smtp_connect_timeout": "seconds to reach the SMTP relay",
        "smtp_alert": "mail on every state change, for every instance and server that does "
        "not set its own smtp_alert",
        "vrrp_version": "VRRP version of the instances that do not set one: 2 or 3",
        "lvs_sync_daemon": "run the kernel's IPVS connection-sync daemon, master while the "
        "named VRRP instance is MASTER and backup otherwise",
        "lvs_timeouts": "the kernel's IPVS connection timeouts, like ipvsadm --set",
        "lvs_flush": "remove every IPVS service at start, ours or not (a restart then drops "
        "every connection), like keepalived's lvs_flush",
        "lvs_flush_on_stop": '"full": a stop that releases the table removes every IPVS '
        'service, ours or not; "vs": each of ours (the default behaviour)',
        "vrrp_startup_delay": "seconds the VRRP instances wait after lvstui starts (INIT) before "
        "they run, for a booting host's network to settle; 0-3600",
        "vrrp_garp_interval": "seconds between two gratuitous ARPs lvstui sends on an "
        "interface (0: back to back), for switches that drop bursts",
        "vrrp_gna_interval": "the same for IPv6 unsolicited neighbour advertisements",
        "script_user": "the user every script runs as unless it sets its own `user` "
        "(vrrp_script, misc_check) — notify and quorum scripts too; unset: lvstui's user",
        "enable_script_security": "disable, with a warning, each script that runs as root, or "
        "is set-uid root, and could be changed by another user: the file, or a directory on "
        "its path, not root's or writable by a non-root group or by everyone; the rest runs "
        "(keepalived's rule and behaviour)",
        "notify_fifo": "a FIFO (created if missing) that gets one line per VRRP transition and "
        "per real/virtual server going UP or DOWN, in keepalived's words "
        '(INSTANCE "VI_1" MASTER 100, GROUP "VG_1" BACKUP 0, VS ... UP, RS ... DOWN); never '
        "blocks: without a reader lines are dropped (logged)",
        "notify_fifo_script": "a command run while lvstui runs, with the notify_fifo path as "
        "its argument (killed on stop)",
        "vrrp_notify_fifo": "like notify_fifo, the VRRP lines only (INSTANCE, GROUP)",
        "vrrp_notify_fifo_script": "like notify_fifo_script, for vrrp_notify_fifo",
        "lvs_notify_fifo": "like notify_fifo, the LVS lines only (VS, RS)",
        "lvs_notify_fifo_script": "like notify_fifo_script, for lvs_notify_fifo",
        "notify_fifo_script_user": "run notify_fifo_script as this user (keepalived's "
        "`notify_fifo_script CMD USER`; unset: script_user)",
        "vrrp_notify_fifo_script_user": "run vrrp_notify_fifo_script as this user (unset: "
        "script_user)",
        "lvs_notify_fifo_script_user": "run lvs_notify_fifo_script as this user (unset: "
        "script_user)",
        "net_namespace": "run the whole director (VRRP, IPVS, checks, metrics) in this network "
        "namespace (/var/run/netns/NAME, made by `ip netns add`), entered at start; it must "
        "exist; a reload cannot change it",
        "vrrp_strict": "strict_mode for every instance that does not set its own: keepalived's "
        "RFC rules (no authentication, no unicast, no preempt_delay, no accept by default)",
        "vrrp_skip_check_adv_addr": "skip_check_adv_addr for every instance that does not set "
        "its own",
        "static_ipaddress": "addresses put on at start and taken off at stop, whatever the VRRP "
        'state, each naming its dev: "192.0.2.5/24 dev eth1" (keepalived\'s static_ipaddress)',
        "static_routes": "routes in iproute2's words, added at start and removed at stop "
        'whatever the VRRP state: "192.0.2.0/24 via 198.51.100.1 dev eth0 table 100"',
        "static_rules": "policy rules in iproute2's words, added at start and removed at stop: "
        '"from 198.51.100.0/24 table 100 priority 100" (no priority: 32000)',
    },
    LvsTimeouts: {
        "tcp": "seconds an established TCP connection may stay idle (unset: the kernel's, 900)",
        "tcpfin": "seconds a TCP connection stays after FIN (unset: the kernel's, 120)",
        "udp": "seconds a UDP flow may stay idle (unset: the kernel's, 300)",
    },
    SyncDaemon: {
        "interface": "interface the sync messages go out on",
        "instance": "the vrrp_instance whose state makes this director sync master or backup",
        "syncid": "sync daemon id, 0-255, the same on the master and its backups",
        "maxlen": "largest sync message, bytes (1-65507; unset: the kernel's)",
        "port": "UDP port of the sync messages (unset: the kernel's, 8848)",
        "ttl": "multicast TTL, 1-255 (unset: the kernel's, 1)",
        "group": "multicast group address (unset: the kernel's, 224.0.0.81)",
    },
    LvstuiSettings: {
        "dataplane": '"auto": kernel IPVS when usable, else the userspace forwarder; "ipvs" '
        "refuses to start without IPVS",
        "control_socket": "the daemon's control socket (lvstui list, status, ctl, attach)",
        "control_group": "members of this group may change things over the socket; "
        "empty: only root and the daemon's user",
        "control_read_only_others": "other users who can open the socket may look "
        "(false: refuse them)",
        "state_dir": "overrides.toml, owned.toml and audit.log live here",
        "metrics_listen": 'serve Prometheus metrics on HOST:PORT, e.g. "127.0.0.1:9336"; '
        "empty: off",
        "metrics_compat": 'also serve other exporters\' families: "node_exporter" (node_ipvs_*, '
        'as its ipvs collector), "keepalived" (keepalived_vrrp_state, keepalived_up)',
        "directors": "how many directors run these checks (1-64), for check-config's "
        "check-load estimate",
        "check_concurrency": "at most this many check attempts in flight (1-1000000)",
        "notify_timeout": "seconds a notify or quorum command may run before its process "
        "group is killed",
        "drain_timeout": "seconds after which a drained server's remaining connections are "
        "expired; 0: wait forever",
        "reload_max_removal": "share (0-1) of the services a reload may remove; more, or "
        "every service, needs `lvstui ctl reload --force` (SIGHUP refuses and logs)",
        "keys": "console key remapping, one action = key line each",
        "theme": "console theme: dark, light, high-contrast or one of your own",
        "group": "the director group: the directors of a site share their operator "
        "overrides (docs/group.md)",
        "announce": "how VIPs reach the network: VRRP or routes for BGP (docs/bgp.md)",
    },
    AnnounceSettings: {
        "mode": '"vrrp": VRRP moves the VIP between directors; "bgp": every director holds '
        "it and announces VIP/32 (/128) to its routing daemon, for ECMP. The default of "
        "every virtual_server",
        "table": "kernel routing table of the announced routes, exported by BIRD's kernel "
        'protocol (or FRR\'s ip import-table) with handoff = "route" (not 0 or 253-255)',
        "protocol": "route protocol id (5-255) marking our routes in that table; routes of "
        "this id found there at start are a previous run's and are removed",
        "device": "the tun device the routes go through; it exists while lvstui runs, so "
        "its routes vanish when lvstui dies (1-15 bytes)",
        "daemon": '"bird", "frr" or "none": the routing daemon asked for the BGP peer state '
        "that lvstui status and the metrics show (birdc -r / vtysh)",
        "daemon_socket": "BIRD's control socket (birdc -s) or FRR's vty socket directory "
        '(vtysh --vty_socket); "": the daemon\'s default',
        "drain_settle": "seconds without a new connection before a director drain "
        "(`lvstui ctl drain-director` without --settle) withdraws the VIPs and says safe "
        "(0-86400)",
        "handoff": '"route": a route VIP/32 in `table` through the device (BIRD\'s kernel '
        'protocol reads it); "address": the VIP as an address on the device (FRR\'s '
        "redistribute connected: FRR 8.4 misses a route flushed with the device on kill -9). "
        'Unset: "address" with daemon = "frr", "route" otherwise',
    },
    GroupSettings: {
        "name": "this director's name in the group (unset: the hostname)",
        "listen": 'where the peers reach this director: "ADDR:PORT" or "[V6ADDR]:PORT"',
        "peers": 'the other directors of the group, "ADDR:PORT" or "NAME:PORT" each (a name '
        "is resolved once, when lvstui starts)",
        "key_file": "the group's credential, written by `lvstui group keygen > FILE` and "
        "copied to every director (mode 600)",
        "startup_wait": "seconds to wait at start to learn the group's overrides before "
        "claiming MASTER or serving (like vrrp_startup_delay)",
        "tombstone_retention": "seconds a cleared override is remembered, so a director "
        "away for less than this learns it was cleared",
    },
    VrrpScript: {
        "script": "the command; exit 0 is success. Split like a shell would, never run by a shell",
        "interval": "seconds between runs",
        "timeout": "seconds a run may take (unset: the interval)",
        "weight": "-253..253; 0: failing puts the instances in FAULT; > 0 added to the "
        "priority while it passes, < 0 while it fails",
        "rise": "passes in a row to count as passing",
        "fall": "failures in a row to count as failing",
        "user": "run the script as this user",
        "init_fail": "start as failed (keepalived's init_fail); unset: no result until the "
        "first run, which alone decides (weight 0: FAULT until then; a weight: no change)",
    },
    VrrpTrackProcess: {
        "process": "the process name as in /proc/PID/comm (pgrep '^NAME$'), or argv[0] of "
        "its command line with full_command or params",
        "params": "the command's arguments after argv[0], matched as param_match says",
        "param_match": '"exact" (the default with params), "initial" (the last may be '
        'longer), "partial" (the first ones match)',
        "full_command": "match argv[0] of /proc/PID/cmdline instead of the process name",
        "weight": "-254..254; 0: failed puts the instances in FAULT; > 0 added to the "
        "priority while OK, < 0 while failed",
        "reverse": "turn the weight (or the FAULT) the other way",
        "quorum": "processes needed for OK (0 with quorum_max = 0: OK while none runs)",
        "quorum_max": "more matching processes than this is a failure (unset: no maximum)",
        "fork_delay": "seconds the quorum must hold before it counts as OK",
        "terminate_delay": "seconds the quorum must be lost before it counts as failed",
    },
    VrrpSyncGroup: {
        "group": "the vrrp_instance names that move together",
        "notify_master": _NOTIFY,
        "notify_backup": _NOTIFY,
        "notify_fault": _NOTIFY,
        "notify_stop": _NOTIFY,
        "notify": "command run on every transition with GROUP NAME STATE 0",
        **_USERS,
        "smtp_alert": "mail on the group's transitions (unset: global_defs.smtp_alert)",
        "sync_group_tracking_weight": "members keep their track_interface and track_script "
        "weights; unset (keepalived's default): a weighted interface is unweighted (down is "
        "FAULT) and a weighted script is not tracked",
    },
    VrrpInstance: {
        "interface": "where adverts go and VIPs are added; missing or address-less: FAULT "
        "until it appears",
        "virtual_router_id": "1-255, the same on every director of the group, unique per LAN",
        "state": "MASTER only shortens the first wait; the election decides",
        "priority": "1-254; 255: the address owner, master at once",
        "advert_int": "seconds between adverts; VRRPv2: whole seconds 1-255, VRRPv3: 0.01 "
        "steps up to 40.95",
        "version": "2 (RFC 3768, IPv4) or 3 (RFC 5798, IPv4 and IPv6); unset: "
        "global_defs.vrrp_version",
        "auth_type": '"PASS" (VRRPv2 only; sent in clear, it protects nothing); "AH" is refused',
        "auth_pass": "the password, 8 characters at most",
        "virtual_ipaddress": '"ADDR[/PREFIX] [dev D] [label L] [scope S] [broadcast B]" or '
        "a table; the first 20 go in the adverts",
        "virtual_ipaddress_excluded": "added and removed with the others, never advertised",
        "nopreempt": "a higher-priority backup does not take over from a live master",
        "preempt_delay": "seconds after start (or after FAULT) before preempting, 0-1000",
        "unicast_src_ip": "source address of unicast adverts",
        "unicast_peer": "send adverts to these addresses instead of 224.0.0.18 / ff02::12",
        "track_interface": "links to watch: one down puts the instance in FAULT; "
        '"eth1 weight -10" lowers the priority by 10 while it is down instead (a positive '
        'weight raises it while up; "... reverse" turns it around), as keepalived',
        "track_script": "names of [vrrp_script.NAME] tables; "
        '"chk weight 5 [reverse]" gives the script another weight for this instance',
        "track_process": "names of [vrrp_track_process.NAME] tables; "
        '"nginx weight -20 [reverse]" gives it another weight for this instance',
        "track_file": "names of [track_file.NAME] tables: the number in the file moves the "
        "priority by value x weight (a move of -254 or less is FAULT), or with weight 0 any "
        'value but 0 is FAULT; "state weight -2 [reverse]" gives it another weight here',
        "notify_master": _NOTIFY,
        "notify_backup": _NOTIFY,
        "notify_fault": _NOTIFY,
        "notify_stop": _NOTIFY,
        "notify": "command run on every transition with INSTANCE NAME STATE PRIORITY",
        **_USERS,
        "smtp_alert": "mail on this instance's transitions (unset: global_defs.smtp_alert)",
        "garp_master_delay": "seconds after becoming master before the second batch of "
        "gratuitous ARPs / NAs (0: none)",
        "garp_master_repeat": "gratuitous ARPs / NAs sent in each batch",
        "garp_master_refresh": "while master, resend them every this many seconds (0: never)",
        "garp_master_refresh_repeat": "gratuitous ARPs / NAs sent at each refresh",
        "accept": "a MASTER that is not the address owner (priority < 255) accepts packets "
        "for its VIPs; false: nftables drops them while it holds them (keepalived's no_accept; "
        "an IPVS service on the VIP is then unreachable too). Unset: false in strict mode "
        "unless priority 255, else true",
        "strict_mode": "keepalived's RFC rules for this instance: no authentication, unicast "
        "peers or preempt_delay, MASTER only at priority 255, accept false by default "
        "(unset: global_defs.vrrp_strict)",
        "skip_check_adv_addr": "check the VIP list of a master's adverts on its first advert "
        "only, not on every one (unset: global_defs.vrrp_skip_check_adv_addr)",
        "use_vmac": "put the VIPs on a macvlan (mode private) with the VRRP virtual MAC "
        "00:00:5e:00:01:VRID (IPv6: :02:) on top of `interface`: true names it vrrp.VRID, or "
        "give the name; made at start, deleted at stop; IPv4 adverts are sent and received "
        "on it (source MAC the virtual MAC)",
        "vmac_xmit_base": "with use_vmac: send and receive adverts on the base interface, "
        "not the VMAC (always so for IPv6 and unicast peers)",
        "virtual_routes": "routes added after the VIPs on becoming MASTER and removed before "
        'them on leaving it: "192.0.2.0/24 via 198.51.100.1 dev eth0 table 100 metric 5", '
        '"blackhole 203.0.113.0/24" (iproute2\'s words)',
        "virtual_rules": "policy rules added on becoming MASTER and removed on leaving it: "
        '"from 198.51.100.9 table 100 priority 100", "fwmark 3 table 7" (no priority: 32000)',
    },
    VipAddress: {
        "address": 'the address, with an optional prefix: "192.0.2.9/24"',
        "dev": "interface (unset: the instance's)",
        "label": "address label, such as eth0:1",
        "scope": "address scope, such as global, link or host",
        "broadcast": "broadcast address (IPv4)",
    },
    VirtualServer: {
        "ip": "the virtual address (VIP); required unless fwmark is set",
        "port": "the virtual port; 0 = every port (needs persistence_timeout)",
        "protocol": "TCP, UDP or SCTP",
        "fwmark": "a firewall-mark service instead of ip + port",
        "family": "address family of a fwmark service: 4 or 6",
        "delay_loop": "seconds between check runs, for checks that do not set their own",
        "lb_algo": "scheduler: rr wrr lc wlc lblc lblcr dh sh sed nq mh fo ovf twos "
        "(kernel), random (userspace)",
        "lb_flags": "scheduler flags: sh-port, sh-fallback, mh-port, mh-fallback, ops (UDP)",
        "lb_kind": "forwarding method for real servers that do not set their own: NAT, DR or TUN",
        "persistence_timeout": "seconds a client keeps its real server (true: 360); unset: "
        "not persistent",
        "persistence_granularity": 'netmask of persistence: "255.255.255.0" or "/24"',
        "virtualhost": "HTTP Host header of the HTTP checks that do not set their own",
        "quorum": "live weight the service needs; below it the sorry server serves",
        "hysteresis": "margin on both sides of the quorum",
        "quorum_up": "command run when the quorum is back",
        "quorum_down": "command run when the quorum is lost (also at start without it)",
        "sorry_server": "served while the quorum is lost",
        "inhibit_on_failure": "keep failed real servers in the table at weight 0",
        "alpha": "every real server starts down until its checks pass",
        "omega": "on shutdown, run quorum_down of a service that was up",
        "ha_suspend": "suspend the checks while no VRRP instance carrying the VIP is MASTER",
        "smtp_alert": "mail on quorum changes (unset: global_defs.smtp_alert)",
        "name": "a display name, shown in the console and lvstui status",
        "proxy_protocol": "userspace: send a PROXY protocol v1 or v2 header to the real "
        "servers (0: off)",
        "app_hash": "userspace, HTTP: schedule by a hash of the request line",
        "udp_idle_timeout": "userspace: seconds a UDP flow lives without traffic",
        "slow_start": "seconds over which a real server back in service ramps up to its "
        "weight (0: at once)",
        "announce": '"vrrp" or "bgp": how this VIP reaches the network (unset: '
        "[lvstui.announce].mode); every service on one VIP must agree (docs/bgp.md)",
        "source_nat": "IPVS NAT: rewrite the client's source address to the director's too, "
        "so real servers need no route back through the director (conntrack + nftables; "
        "docs/dataplanes.md)",
        "source_nat_address": "with source_nat: the source address to use (snat) instead of "
        "the outgoing interface's (masquerade)",
    },
    SorryServer: {
        "ip": "its address",
        "port": "its port (unset: the virtual server's)",
        "lb_kind": "its forwarding method (unset: the virtual server's)",
        "inhibit_on_failure": "keep it in the table at weight 0 when the quorum is back",
    },
    RealServer: {
        "ip": "its address",
        "port": "its port (unset: the virtual server's; 0 for a fwmark service)",
        "weight": "0-65535; 0 takes no new connection",
        "lb_kind": "forwarding method: NAT, DR or TUN (unset: the virtual server's)",
        "inhibit_on_failure": "when it fails, keep it at weight 0 instead of removing it "
        "(unset: the virtual server's)",
        "notify_up": "command run when it comes up",
        "notify_down": "command run when it goes down",
        "notify_up_user": _NOTIFY_USER,
        "notify_down_user": _NOTIFY_USER,
        "smtp_alert": "mail when it goes up or down (unset: global_defs.smtp_alert)",
        "uthreshold": "most connections before it is overloaded (0: no limit)",
        "lthreshold": "connections under which an overloaded server takes new ones again",
        "slow_start": "seconds over which it ramps up to its weight when back in service "
        "(unset: the virtual server's)",
        "name": "a display name, shown in the console after its address",
    },
    CheckCommon: {
        "connect_ip": "address to probe (unset: the real server's)",
        "connect_port": "port to probe (unset: the real server's)",
        "connect_timeout": "seconds one attempt may take (HTTP: the whole exchange)",
        "bindto": "source address of the probe",
        "bind_port": "source port of the probe",
        "retry": "failed attempts retried before a run fails, 0-1000 (dns_check: 3)",
        "delay_before_retry": "seconds between retries (unset: dns_check's delay_loop, 1 for "
        "the others)",
        "warmup": "seconds before the first run (unset: random in [0, delay_loop))",
        "delay_loop": "seconds between runs (unset: the virtual server's delay_loop)",
        "rise": "passed runs in a row before a down check goes up",
        "fall": "failed runs in a row before an up check goes down",
    },
    HttpCheck: {
        "virtualhost": "Host header (unset: the virtual server's virtualhost, else ip:port)",
        "verify": "verify the server's certificate",
        "sni": "TLS server name (unset: the Host header's name; never an address)",
        "body_limit": "bytes of body read at most; a larger body fails the check",
    },
    HttpUrl: {
        "path": "the path to GET, starting with /",
        "digest": "MD5 of the body, 32 hex digits (lvstui genhash prints it)",
        "status_code": 'expected status: a code, a range "200-299", or a list of both',
        "virtualhost": "Host header for this url (unset: the check's)",
    },
    MiscCheck: {
        "misc_path": "the command; exit 0 is alive. Split like a shell would, never run by a shell",
        "misc_timeout": "seconds before the command's process group is killed (unset: delay_loop)",
        "misc_dynamic": "the exit code also sets the weight: 2-255 means weight code - 2",
        "user": "run the command as this user",
    },
    SmtpCheck: {
        "helo_name": "the name sent in HELO",
    },
    DnsCheck: {
        "type": "query type: A, NS, CNAME, SOA, MX, TXT or AAAA",
        "name": "the name queried; the answer must hold a record of that type for it",
    },
    UdpCheck: {
        "payload": "bytes sent, as keepalived's hex string (unset: 8 random bytes)",
        "require_reply": "true: a reply must come back; a hex string (X for any nibble): "
        "a reply starting with those bytes",
        "min_reply_length": "shortest reply accepted, bytes (with require_reply)",
        "max_reply_length": "longest reply accepted, bytes (with require_reply)",
    },
    FileCheck: {
        "track_file": "name of a [track_file.NAME] table",
        "weight": "multiplier of the file's value (unset: the track_file's); 0: the file is an "
        "up/down switch (0 up)",
        "reverse": "negate the product (weight 0: 0 means down) (unset: the track_file's)",
    },
    BfdCheck: {
        "name": "the BFD peer in FRR's bfdd, by address (or label)",
        "vtysh": "the command that reads bfdd, as a list (lvstui's own key): e.g. "
        '["vtysh", "--vty_socket", "/run/frr/ns1"] or ["vtysh", "-N", "ns1"]',
    },
    TrackFile: {
        "file": "path of the file an agent writes a number to",
        "weight": "multiplier of the value read",
        "reverse": "negate the product",
        "init_file": "value written at start when the file does not exist",
        "init_overwrite": "write init_file even when the file exists",
    },
}
