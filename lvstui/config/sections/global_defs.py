"""The `[global_defs]` and `[lvstui]` tables."""

from __future__ import annotations

import socket

from lvstui.config.announce import (
    DEFAULT_ANNOUNCE_DEVICE,
    DEFAULT_ANNOUNCE_PROTOCOL,
    DEFAULT_ANNOUNCE_TABLE,
    DEFAULT_DRAIN_SETTLE,
    AnnounceHandoff,
    AnnounceMode,
    AnnounceSettings,
    RoutingDaemon,
)
from lvstui.config.schema import (
    DEFAULT_CONTROL_SOCKET,
    DEFAULT_GROUP_STARTUP_WAIT,
    DEFAULT_NOTIFY_TIMEOUT,
    DEFAULT_SMTP_CONNECT_TIMEOUT,
    DEFAULT_SMTP_PORT,
    DEFAULT_STATE_DIR,
    DEFAULT_TOMBSTONE_RETENTION,
    DataplaneKind,
    GlobalDefs,
    GroupSettings,
    LvsTimeouts,
    LvstuiSettings,
    MetricsCompat,
    SyncDaemon,
)
from lvstui.config.sections.routes import read_routes, read_rules, read_static_addresses
from lvstui.config.sections.vrrp import read_vips
from lvstui.config.table import Table, show
from lvstui.model import RealKey
from lvstui.netutil import name_and_port


def read_global_defs(t: Table) -> GlobalDefs:
    smtp = t.text("smtp_server", "")
    host, port = smtp, DEFAULT_SMTP_PORT
    if smtp:
        try:
            host, port = _split_smtp(smtp)
        except ValueError as exc:
            t.err("smtp_server", str(exc), 'e.g. "relay.example.com" or "relay.example.com:587"')
    sync = None
    st = t.sub("lvs_sync_daemon")
    if st is not None:
        sync = SyncDaemon(
            interface=st.req_str("interface"),
            instance=st.req_str("instance"),
            syncid=st.integer("syncid", 0, 0, 255),
            maxlen=st.integer("maxlen", None, 1, 65507),
            port=st.integer("port", None, 1, 65535),
            ttl=st.integer("ttl", None, 1, 255),
            group=st.ip("group"),
        )
        st.finish()
    timeouts = None
    tt = t.sub("lvs_timeouts")
    if tt is not None:
        # ipvsadm --set takes seconds up to a day's worth many times over; 0 is "unchanged"
        # there, so the file leaves a key out instead
        timeouts = LvsTimeouts(
            tcp=tt.integer("tcp", None, 1, 2**31 - 1),
            tcpfin=tt.integer("tcpfin", None, 1, 2**31 - 1),
            udp=tt.integer("udp", None, 1, 2**31 - 1),
        )
        tt.finish()
    emails = t.str_list("notification_email")
    for i, mail in enumerate(emails):
        # a name without a domain (keepalived's own samples: `acassen`) is a local recipient:
        # the SMTP server delivers it on its own host, as it does for keepalived
        bad = not mail or mail[0] == "@" or mail[-1] == "@"
        if bad or any(c.isspace() or c in "<>" for c in mail):
            t.ctx.err(
                (*t.at("notification_email"), i),
                f"not an e-mail address or local recipient: {mail!r}",
            )
    gd = GlobalDefs(
        router_id=t.text("router_id", ""),
        notification_email=emails,
        notification_email_from=t.text("notification_email_from", ""),
        smtp_server=host,
        smtp_port=port,
        smtp_connect_timeout=t.number(
            "smtp_connect_timeout", DEFAULT_SMTP_CONNECT_TIMEOUT, positive=True
        ),
        smtp_alert=t.flag("smtp_alert", False),
        vrrp_version=t.integer("vrrp_version", 2, 2, 3),
        lvs_sync_daemon=sync,
        lvs_timeouts=timeouts,
        lvs_flush=t.flag("lvs_flush", False),
        lvs_flush_on_stop=_flush_on_stop(t),
        vrrp_startup_delay=t.number("vrrp_startup_delay", 0.0, 0, 3600),
        vrrp_garp_interval=t.number("vrrp_garp_interval", 0.0, 0, 4294.967295),
        vrrp_gna_interval=t.number("vrrp_gna_interval", 0.0, 0, 4294.967295),
        script_user=t.text("script_user", ""),
        enable_script_security=t.flag("enable_script_security", False),
        net_namespace=_netns(t),
        vrrp_strict=t.flag("vrrp_strict", False),
        vrrp_skip_check_adv_addr=t.flag("vrrp_skip_check_adv_addr", False),
        notify_fifo=t.text("notify_fifo", ""),
        notify_fifo_script=t.text("notify_fifo_script", ""),
        vrrp_notify_fifo=t.text("vrrp_notify_fifo", ""),
        vrrp_notify_fifo_script=t.text("vrrp_notify_fifo_script", ""),
        lvs_notify_fifo=t.text("lvs_notify_fifo", ""),
        lvs_notify_fifo_script=t.text("lvs_notify_fifo_script", ""),
        **{f"{k}notify_fifo_script_user": t.text(f"{k}notify_fifo_script_user", "") for k in FIFOS},
        static_ipaddress=read_static_addresses(t, read_vips(t, "static_ipaddress")),
        static_routes=read_routes(t, "static_routes"),
        static_rules=read_rules(t, "static_rules"),
    )
    for fifo, script in (
        (gd.notify_fifo, "notify_fifo"),
        (gd.vrrp_notify_fifo, "vrrp_notify_fifo"),
        (gd.lvs_notify_fifo, "lvs_notify_fifo"),
    ):
        if not fifo and t.text(f"{script}_script", ""):
            t.err(f"{script}_script", f"set without {script}: the script would have no FIFO")
        if t.text(f"{script}_script_user", "") and not t.text(f"{script}_script", ""):
            t.err(f"{script}_script_user", f"set without {script}_script: no script to run")
    t.finish()
    return gd


FIFOS = ("", "vrrp_", "lvs_")  # the three notify FIFOs: every line, VRRP lines, LVS lines


def _netns(t: Table) -> str:
    name = t.text("net_namespace", "")
    if name in (".", "..") or "/" in name or "\0" in name:
        t.err("net_namespace", f"not a namespace name: {name!r}", 'e.g. "lb" (ip netns add lb)')
        return ""
    return str(name)


def _split_smtp(text: str) -> tuple[str, int]:
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_s = rest[1:] if rest.startswith(":") else ""
        if rest and not port_s:
            raise ValueError(f"expected [IPv6]:PORT, got {text!r}")
    elif text.count(":") == 1:
        host, _, port_s = text.partition(":")
    else:
        host, port_s = text, ""
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"expected HOST or HOST:PORT, got {text!r}")
    if not port_s:
        return host, DEFAULT_SMTP_PORT
    if not port_s.isdigit() or not (1 <= int(port_s) <= 65535):
        raise ValueError(f"port must be 1-65535, got {port_s!r}")
    return host, int(port_s)


def read_lvstui(t: Table) -> LvstuiSettings:
    keys: list[tuple[str, str]] = []
    kt = t.sub("keys")
    if kt is not None:
        for action, key in kt.data.items():
            kt.known.add(action)
            if isinstance(key, str) and key:
                keys.append((action, key))
            else:
                kt.err(
                    action, f'expected a key name string such as "d" or "ctrl+d", got {show(key)}'
                )
    metrics = t.text("metrics_listen", "")
    if metrics:
        host, _, port = metrics.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            t.err("metrics_listen", f"expected HOST:PORT, got {metrics!r}", 'e.g. "127.0.0.1:9336"')
    compat: list[MetricsCompat] = []
    for name in t.str_list("metrics_compat"):
        try:
            compat.append(MetricsCompat(name))
        except ValueError:
            known = ", ".join(f'"{c.value}"' for c in MetricsCompat)
            t.err("metrics_compat", f"unknown exporter {name!r}", f"one of {known}")
    if compat and not metrics:
        t.err("metrics_compat", "set without metrics_listen: nothing would serve it")
    s = LvstuiSettings(
        dataplane=t.choice("dataplane", DataplaneKind, DataplaneKind.AUTO, upper=False),
        control_socket=t.text("control_socket", DEFAULT_CONTROL_SOCKET, nonempty=True),
        control_group=t.text("control_group", ""),
        control_read_only_others=t.flag("control_read_only_others", True),
        state_dir=t.text("state_dir", DEFAULT_STATE_DIR, nonempty=True),
        metrics_listen=metrics,
        metrics_compat=tuple(dict.fromkeys(compat)),
        directors=t.integer("directors", 2, 1, 64),
        check_concurrency=t.integer("check_concurrency", 1000, 1, 1_000_000),
        notify_timeout=t.number("notify_timeout", DEFAULT_NOTIFY_TIMEOUT, positive=True),
        drain_timeout=t.number("drain_timeout", 0.0, 0),
        reload_max_removal=t.number("reload_max_removal", 0.5, 0, 1),
        keys=tuple(keys),
        theme=t.text("theme", "dark", nonempty=True),
        group=read_group(gt) if (gt := t.sub("group")) is not None else None,
        announce=read_announce(at) if (at := t.sub("announce")) is not None else AnnounceSettings(),
    )
    t.finish()
    return s


def _check_endpoint(
    t: Table, path: str | tuple[str, int], text: str, *, names: bool = False
) -> None:
    """An "ADDR:PORT" / "[V6ADDR]:PORT" of the group (unicast); with `names`, "NAME:PORT"
    too (a peer: resolved when the daemon starts, lvstui/group/resolve.py)."""
    if names and name_and_port(text) is not None:
        return
    try:
        if not text.startswith("[") and text.count(":") > 1:
            raise ValueError("an IPv6 address goes in brackets")
        if RealKey.parse(text).port == 0:
            raise ValueError("port 0")
    except ValueError as exc:
        where = path if isinstance(path, str) else None
        msg = f"expected ADDR:PORT with a port 1-65535, got {text!r} ({exc})"
        hint = 'e.g. "198.51.100.11:7946" or "[2001:db8::11]:7946"'
        if where is not None:
            t.err(where, msg, hint)
        else:
            t.ctx.err((*t.at(path[0]), path[1]), msg, hint)


# the kernel's reserved tables: unspec, default, main, local
_RESERVED_TABLES = frozenset({0, 253, 254, 255})
_IFNAMSIZ = 16


def read_announce(t: Table) -> AnnounceSettings:
    """[lvstui.announce]: the default announcement mode and the kernel table handoff."""
    table = t.integer("table", DEFAULT_ANNOUNCE_TABLE, 1, 0xFFFFFFFF)
    if table in _RESERVED_TABLES:
        t.err("table", f"table {table} is the kernel's own", "use a table of its own, e.g. 245")
    device = t.text("device", DEFAULT_ANNOUNCE_DEVICE, nonempty=True)
    if len(device.encode()) >= _IFNAMSIZ or "/" in device or " " in device:
        t.err("device", f"not an interface name: {device!r}", "1-15 bytes, no / or space")
    daemon = t.choice("daemon", RoutingDaemon, RoutingDaemon.NONE, upper=False)
    # FRR follows an address going with lvstui's device, not a flushed route (docs/bgp.md)
    by_daemon = AnnounceHandoff.ADDRESS if daemon is RoutingDaemon.FRR else AnnounceHandoff.ROUTE
    s = AnnounceSettings(
        mode=t.choice("mode", AnnounceMode, AnnounceMode.VRRP, upper=False),
        table=table,
        # 0-4 are the kernel's (unspec, redirect, kernel, boot, static)
        protocol=t.integer("protocol", DEFAULT_ANNOUNCE_PROTOCOL, 5, 255),
        device=device,
        daemon=daemon,
        daemon_socket=t.text("daemon_socket", ""),
        # a day is far beyond any router's convergence: more is a typo (ms for s)
        drain_settle=t.number("drain_settle", DEFAULT_DRAIN_SETTLE, 0, 86400),
        handoff=t.choice("handoff", AnnounceHandoff, by_daemon, upper=False),
    )
    t.finish()
    return s


def read_group(t: Table) -> GroupSettings:
    """[lvstui.group]: this director's membership of its site's director group."""
    listen = t.req_str("listen")
    if listen:
        _check_endpoint(t, "listen", listen)
    if not t.has("peers"):
        t.err(None, "missing required key `peers`", 'the other directors: peers = ["ADDR:PORT"]')
    peers = t.str_list("peers")
    for i, peer in enumerate(peers):
        _check_endpoint(t, ("peers", i), peer, names=True)
    key_file = t.req_str("key_file")
    g = GroupSettings(
        name=t.text("name", "", nonempty=True) or socket.gethostname(),
        listen=listen,
        peers=peers,
        key_file=key_file,
        startup_wait=t.number("startup_wait", DEFAULT_GROUP_STARTUP_WAIT, 0),
        tombstone_retention=t.number(
            "tombstone_retention", DEFAULT_TOMBSTONE_RETENTION, positive=True
        ),
    )
    t.finish()
    return g


def _flush_on_stop(t: Table) -> str:
    value = t.text("lvs_flush_on_stop", "")
    if value not in ("", "full", "vs"):
        t.err(
            "lvs_flush_on_stop",
            f'expected "full" or "vs", got {value!r}',
            '"full": every IPVS service on stop; "vs": each of ours (what a stop does anyway)',
        )
        return ""
    return str(value)
